"""Device limits learned at runtime, remembered across restarts.

``var/collector/device_limits.json`` holds, per asset number, what its device taught the
collector (``LearnedLimits``: the largest request it answers, gaps it refuses to be read
across), with the profile it was learned under — a device given another profile starts
again from that profile's limits. The file is rewritten atomically (temporary file, fsync,
rename), so a crash leaves the old or the new version, never half of one. A file that cannot
be read is logged once and set aside: the devices are learned again, the collector runs on.
Delete the file (or an entry) to forget what was learned, e.g. after a firmware upgrade.

    {"version": 1, "devices": {"HT-PMP-001": {"profile": "vfd-booster-pump",
        "max_registers": 60, "max_bits": null,
        "gaps": [{"table": "holding", "first": 22, "last": 29}],
        "learned_at": "2026-06-01T12:00:00+00:00"}}}
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.modbus.planner import NOTHING_LEARNED, Gap, LearnedLimits
from device_profiles.models import Table

log = logging.getLogger(__name__)

VERSION = 1
FILE_NAME = "device_limits.json"


def default_path(var_dir: Path) -> Path:
    """Where the collector keeps what devices taught it."""
    return var_dir / "collector" / FILE_NAME


class DeviceLimitStore:
    """Learned limits per asset number; ``path=None`` keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}
        if path is not None:
            self._entries = _read(path)

    def get(self, asset_no: str, profile_id: str) -> LearnedLimits:
        """What ``asset_no`` taught under ``profile_id`` (nothing if learned under another)."""
        entry = self._entries.get(asset_no)
        if entry is None or entry.get("profile") != profile_id:
            return NOTHING_LEARNED
        try:
            return _limits(entry)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning(
                "%s: entry %s is not valid (%s); learning that device again",
                self.path,
                asset_no,
                exc,
            )
            self._entries.pop(asset_no, None)
            return NOTHING_LEARNED

    def put(self, asset_no: str, profile_id: str, learned: LearnedLimits) -> None:
        """Remember (and write at once) what ``asset_no`` taught."""
        self._entries[asset_no] = {
            "profile": profile_id,
            "max_registers": learned.max_registers,
            "max_bits": learned.max_bits,
            "gaps": [
                {"table": g.table.value, "first": g.first, "last": g.last}
                for g in sorted(learned.gaps, key=lambda g: (g.table.value, g.first))
            ],
            "learned_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self.path is not None:
            try:
                _write_atomic(self.path, {"version": VERSION, "devices": self._entries})
            except OSError as exc:
                # kept in memory: this run still uses it; the next start learns it again
                log.warning("%s: cannot remember learned device limits: %s", self.path, exc)


def _limits(entry: dict[str, Any]) -> LearnedLimits:
    def count(name: str) -> int | None:
        value = entry.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} {value!r}: expected a positive integer or null")
        return value

    gaps = frozenset(
        Gap(Table(g["table"]), int(g["first"]), int(g["last"])) for g in entry.get("gaps") or []
    )
    return LearnedLimits(count("max_registers"), count("max_bits"), gaps)


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        # nothing learned yet (an unusable var dir is the spool's to report, once)
        return {}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        log.warning("%s: not readable (%s); device limits will be learned again", path, exc)
        return {}
    devices = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(devices, dict) or data.get("version") != VERSION:
        log.warning(
            '%s: not a device-limits file (expected {"version": %d, "devices": {...}}); '
            "device limits will be learned again",
            path,
            VERSION,
        )
        return {}
    return {str(k): v for k, v in devices.items() if isinstance(v, dict)}


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
