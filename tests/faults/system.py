"""The whole system on (part of) the demo estates as real processes, and one fault row's
measurement (docs/faults.md)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.harness import (
    ROOT,
    Count,
    InfluxCounter,
    InfluxFaultProxy,
    ModbusCorruptingProxy,
    Part,
    SqlCounter,
    Supervisor,
    Witness,
    count_window,
    env_float,
    free_port,
    http_ok,
    python,
    try_mount_tmpfs,
    umount,
    wait_until,
)

DATABASE = "facility"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Row:
    """One line of the fault table, plus what explains it."""

    fault: str
    published: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    alarms_reraised: int = 0
    orders_duplicated: int = 0
    recover_s: float | None = None  # None: not recovered within the bound
    restarts: dict[str, int] = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)  # parts not alive at the end
    notes: list[str] = field(default_factory=list)
    system_alarms: set[str] = field(default_factory=set)  # raised, and expected by the fault
    skipped: str | None = None

    def cells(self) -> list[str]:
        if self.skipped:
            return [self.fault, *["—"] * 6, f"skipped: {self.skipped}"]
        recover = "not recovered" if self.recover_s is None else f"{self.recover_s:.0f} s"
        return [
            self.fault,
            str(self.published),
            str(self.stored),
            str(self.lost),
            str(self.duplicated),
            str(self.alarms_reraised),
            str(self.orders_duplicated),
            recover,
        ]

    def problems(self, *, allowed_restarts: dict[str, int] | None = None) -> list[str]:
        """What this row shows wrong, in words (empty: the row passes)."""
        out = []
        if self.published == 0:
            out.append("nothing was published in the window: the instrument saw nothing")
        for name, value in (
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("alarms re-raised", self.alarms_reraised),
            ("orders duplicated", self.orders_duplicated),
        ):
            if value:
                out.append(f"{name} = {value}")
        if self.recover_s is None:
            out.append("not recovered within the bound (a person would have had to act)")
        if self.dead:
            out.append(f"not running at the end: {', '.join(self.dead)}")
        allowed = allowed_restarts or {}
        crashed = {n: c for n, c in self.restarts.items() if c > allowed.get(n, 0)}
        if crashed:
            out.append(f"crashed and restarted by the supervisor: {crashed}")
        return out


class System:
    """influxd + mosquitto + simulators + collector + gateway + alarm engine + scheduler +
    dashboard, each its own process, data under ``base``; a supervisor restarts dead parts."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.var = base / "var"
        self.sites = [
            s.strip().upper() for s in os.environ.get("FAULTS_SITES", "HT").split(",") if s
        ]
        self.speed = env_float("FAULTS_SPEED", 1.0)
        self.recover_bound_s = env_float("FAULTS_RECOVER_S", 150.0)
        self.settle_s = env_float("FAULTS_SETTLE_S", 40.0)
        self.parts: dict[str, Part] = {}
        self.rows: list[Row] = []
        self.devices: set[str] = set()
        self.spool_disk_problem: str | None = None
        self.probe_alarms: set[str] = set()
        self._started_servers: list[object] = []

    # -- start / stop ----------------------------------------------------------------------

    def start(self) -> None:
        from devtools.services import InfluxServer, MosquittoServer

        self.var.mkdir(parents=True, exist_ok=True)
        self.influxd = InfluxServer(self.base / "influxd").start()
        self.mosquitto = MosquittoServer(self.base / "mosquitto").start()
        self.proxy = InfluxFaultProxy(self.influxd.url)
        self.influx = InfluxCounter(self.influxd.url, DATABASE)
        self.sql = SqlCounter(self.var / "facility.db")
        # A copy of device_profiles put first on the parts' path: the hostile-profile fault
        # drops files into ITS library, never into the repository's (the product has no knob
        # for the library folder; see docs/faults.md).
        self.overlay = self.base / "overlay"
        shutil.copytree(
            ROOT / "device_profiles",
            self.overlay / "device_profiles",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        self.library = self.overlay / "device_profiles" / "library"
        # The collector's and the gateway's spools on small disks of their own, so that the
        # disk-full fault fills a real disk (root only; otherwise that row is skipped).
        for name in ("collector", "gateway"):
            problem = try_mount_tmpfs(self.var / name, 64)
            if problem is not None:
                self.spool_disk_problem = problem
                break
        self.dashboard_port = free_port()
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FACILITY_", "PYTEST", "COV_"))
        }
        self.env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(self.overlay), str(ROOT)]),
                "FACILITY_PATHS__VAR_DIR": str(self.var),
                "FACILITY_MQTT__URL": self.mosquitto.url,
                "FACILITY_INFLUXDB__URL": self.proxy.url,
                "FACILITY_INFLUXDB__DATABASE": DATABASE,
                "FACILITY_COLLECTOR__METRICS_PORT": "0",
                "FACILITY_GATEWAY__METRICS_PORT": "0",
                # holes are asked for every 10 s (30 s by default): the table's recovery
                # times are with this setting
                "FACILITY_GATEWAY__GAP_AUDIT_INTERVAL_S": "10",
                "FACILITY_COLLECTOR__RELOAD_EVERY_S": "5",
                "FACILITY_MAINTENANCE__GENERATE_EVERY_MIN": "1",
                # make soak polls at several times the estates' rate (FAULTS_POLL_SCALE 0.25)
                "FACILITY_COLLECTOR__POLL_SCALE": os.environ.get("FAULTS_POLL_SCALE", "1"),
            }
        )
        done = self.cli("ledger", "demo")
        if done.returncode != 0:
            raise RuntimeError(f"facility ledger demo failed:\n{done.stdout}\n{done.stderr}")
        sim_args = ["sim", "run", "--ephemeral-ports", "--speed", f"{self.speed:g}"]
        for site in self.sites:
            sim_args += ["--site", site]
        self._add("simulators", sim_args)
        table_path = self.var / "sim" / "endpoints.json"
        self.parts["simulators"].start()
        if not wait_until(table_path.exists, 90):
            raise RuntimeError(f"simulators did not start:\n{self.parts['simulators'].log_tail()}")
        table = json.loads(table_path.read_text(encoding="utf-8"))
        self.devices = {e["asset_no"] for e in table["endpoints"]}
        self.modbus_proxy, self.proxied_devices = self._proxy_one_modbus_endpoint(table)
        collector_table = self.var / "faults-endpoints.json"
        collector_table.write_text(json.dumps(table), encoding="utf-8")
        collect = ["collect", "run", "--endpoints", str(collector_table)]
        for site in self.sites:
            collect += ["--site", site]
        self._add("collectors", collect)
        self._add("gateway", ["gateway", "run"])
        # the engine watches the simulated sites only: an estate with no collector would
        # rightly be comm_loss on every device, which is not what a row measures
        self._add("alarms", ["alarms", "run", *[a for s in self.sites for a in ("--site", s)]])
        self._add("maintenance", ["pm", "run"])
        self._add("dashboard", ["dashboard", "run", "--port", str(self.dashboard_port)])
        for name, part in self.parts.items():
            if name != "simulators":
                part.start()
        self.witness = Witness(
            self.mosquitto.host, self.mosquitto.port, self.devices, self.mosquitto.credentials
        )
        self.supervisor = Supervisor(list(self.parts.values()))
        self.supervisor.start()
        if not wait_until(lambda: len(self.influx_heads(0)) == len(self.devices), 180, 2):
            missing = sorted(self.devices - set(self.influx_heads(0)))
            raise RuntimeError(
                f"the system did not reach a steady state in 180 s: no data of "
                f"{len(missing)} devices ({', '.join(missing[:5])}...); gateway log:\n"
                + self.parts["gateway"].log_tail()
            )
        # Active alarms before any fault, as in the demo: a restart must not raise them again.
        if "HT" in self.sites:
            self.sim_fault("HT-PDP-001", "dry_run")
            wait_until(lambda: bool(self.sql.raises_after(0, set())), 60, 1)
        wait_until(lambda: http_ok(self.dashboard_url), 60, 1)

    def _add(self, name: str, args: list[str]) -> None:
        self.parts[name] = Part(
            name,
            [python(), "-m", "facility.cli", *args],
            self.var / "log" / f"{name}.log",
            self.env,
            self.var,
        )

    def _proxy_one_modbus_endpoint(
        self, table: dict[str, list[dict[str, object]]]
    ) -> tuple[ModbusCorruptingProxy | None, set[str]]:
        """Route one Modbus endpoint (all its units) through the corrupting proxy."""
        modbus = [e for e in table["endpoints"] if e.get("protocol") == "modbus"]
        if not modbus:
            return None, set()
        host, port = str(modbus[0]["host"]), int(str(modbus[0]["port"]))
        proxy = ModbusCorruptingProxy((host, port))
        routed = set()
        for entry in modbus:
            if (entry["host"], entry["port"]) == (host, port):
                entry["host"], entry["port"] = "127.0.0.1", proxy.port
                routed.add(str(entry["asset_no"]))
        return proxy, routed

    def stop(self) -> None:
        with contextlib.suppress(AttributeError):
            self.supervisor.stop()
        for part in reversed(list(self.parts.values())):
            part.stop()
        with contextlib.suppress(AttributeError):
            self.witness.close()
        for closer in ("proxy", "modbus_proxy"):
            with contextlib.suppress(AttributeError):
                obj = getattr(self, closer)
                if obj is not None:
                    obj.close()
        for server in ("mosquitto", "influxd"):
            with contextlib.suppress(AttributeError):
                getattr(self, server).stop()
        for name in ("collector", "gateway"):
            umount(self.var / name)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}/"

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python(), "-m", "facility.cli", *args],
            env=self.env,
            cwd=self.var,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def sim_fault(self, asset_no: str, fault: str, *, clear: bool = False) -> None:
        done = self.cli("sim", "fault", asset_no, fault, *(["--clear"] if clear else []))
        if done.returncode != 0:
            raise RuntimeError(f"sim fault {asset_no} {fault}: {done.stdout}{done.stderr}")

    def influx_heads(self, since_ms: int) -> dict[str, int]:
        try:
            return {a: t for a, t in self.influx.heads(since_ms).items() if a in self.devices}
        except (OSError, RuntimeError, ValueError):
            return {}

    def alive(self) -> list[str]:
        """Names of parts and servers that are not running."""
        dead = [p.name for p in self.parts.values() if not p.alive]
        dead += [s.name for s in (self.influxd, self.mosquitto) if not s.running]
        return dead

    def probe_alarm_engine(self, asset_no: str, fault: str, timeout: float = 45) -> bool:
        """Does the alarm engine still hear? A device fault must become a raised alarm."""
        head = self.sql.journal_head()
        self.probe_alarms.add(asset_no)
        self.sim_fault(asset_no, fault)
        try:
            return wait_until(
                lambda: any(a.startswith(asset_no) for a in self.sql.raises_after(head, set())),
                timeout,
                1,
            )
        finally:
            self.sim_fault(asset_no, fault, clear=True)

    # -- one row ---------------------------------------------------------------------------

    def measure(
        self,
        fault: str,
        inject: Callable[[], None],
        *,
        healthy: Callable[[], bool] | None = None,
        expected_alarms: set[str] | None = None,
    ) -> Row:
        """Baseline, fault, recovery, count: one row of the table (recorded for the report)."""
        row = Row(fault)
        self.rows.append(row)
        restarts_before = self.supervisor.restarts()
        time.sleep(3)
        lo_ms = now_ms()
        journal_head = self.sql.journal_head()
        orders_before = self.sql.order_duplicates()
        time.sleep(3)
        inject()
        fault_end = time.monotonic()
        hi_ms = now_ms() + 5_000
        deadline = fault_end + self.recover_bound_s
        history: list[tuple[float, int]] = []
        count = Count()
        recovered_at: float | None = None
        while time.monotonic() < deadline:
            time.sleep(2)
            heads = self.influx_heads(hi_ms)
            live = (
                len(heads) == len(self.devices)
                and not self.alive()
                and (healthy is None or healthy())
            )
            if not live:
                continue
            count = count_window(self.witness, self.influx, self.devices, lo_ms, hi_ms)
            history.append((time.monotonic(), count.lost))
            if count.lost == 0:
                recovered_at = time.monotonic()
                break
            # holes are filled end to end by the gateway's audit (every gap_audit_interval_s,
            # settled for 20 s): a count is final only once it stood still for longer
            stable = [lost for t, lost in history if t >= history[-1][0] - self.settle_s]
            if history[-1][0] - history[0][0] >= self.settle_s and len(set(stable)) == 1:
                recovered_at = min(t for t, lost in history if lost == count.lost)
                break
        if recovered_at is None and not history:
            # never live again: count what there is, so the row says how much is missing
            count = count_window(self.witness, self.influx, self.devices, lo_ms, hi_ms)
        row.published, row.stored = count.published, count.stored
        row.lost, row.duplicated = count.lost, count.duplicated
        if count.lost_by_device:
            worst = sorted(count.lost_by_device.items(), key=lambda kv: -kv[1])[:5]
            row.notes.append(
                f"lost on {len(count.lost_by_device)} devices, most: "
                + ", ".join(f"{a} {n}" for a, n in worst)
            )
        row.recover_s = None if recovered_at is None else max(0.0, recovered_at - fault_end)
        raised = [
            a
            for a in self.sql.raises_after(journal_head, set())
            if not any(a.startswith(p) for p in self.probe_alarms)
        ]
        # the system alarm of the part a fault killed is the point, not a re-raise
        row.system_alarms = {a for a in raised if a in (expected_alarms or set())}
        raised = [a for a in raised if a not in row.system_alarms]
        row.alarms_reraised = len(raised)
        if row.system_alarms:
            row.notes.append(f"system alarm (expected): {', '.join(sorted(row.system_alarms))}")
        if raised:
            row.notes.append(f"raised: {', '.join(sorted(set(raised))[:6])}")
        row.orders_duplicated = max(0, self.sql.order_duplicates() - orders_before)
        after = self.supervisor.restarts()
        row.restarts = {n: after[n] - restarts_before.get(n, 0) for n in after}
        row.dead = self.alive()
        if row.recover_s is None or row.dead:
            self.heal(row)
        return row

    def heal(self, row: Row) -> None:
        """Put the system back by hand so the next row starts clean — what a person would do
        (the row already says it did not recover by itself)."""
        row.notes.append("healed by the harness (restarted every part) for the next row")
        self.proxy.mode = "pass"
        if self.modbus_proxy is not None:
            self.modbus_proxy.mode = "pass"
        for server in (self.influxd, self.mosquitto):
            if not server.running:
                server.restart()
        with self.supervisor.paused():
            for part in self.parts.values():
                if part.name != "simulators":
                    part.stop()
                    part.start()
        wait_until(lambda: len(self.influx_heads(now_ms())) == len(self.devices), 90, 2)
