"""The PM generator: one idempotent pass ``run_pass(now)`` over every plan of every asset.

A pass (1) brings ``pm_plans`` in line with the ledger, the profiles and the overrides file
(new assets get their plans, changed definitions are updated, plans of retired assets are
switched off), (2) reads the counters and active alarms the plans need, (3) evaluates each
plan with the pure rules of ``maintenance.pm_rules`` and (4) records every occurrence —
generated with its work order, missed, or skipped — and moves the plan's cursor, all in one
transaction.

Idempotent by construction: an occurrence is unique per ``(plan_id, slot)`` in the database
and an order per occurrence, so a second pass, or a second scheduler at the same moment, can
never duplicate one. Passes take turns: each locks the single ``pm_generator`` row (on SQLite
the write transaction already serialises them; on PostgreSQL the row lock does), and a pass
that still collides with another on a unique key is retried from the start, where it sees
what the other recorded. Plans whose next moment of interest lies in the future are not even
read (``next_check_at``), which keeps a pass over 10,000 assets well under a second.

One plan cannot halt the others: a plan whose rules raise, or whose writes fail (a unique
key, a constraint), is left as it was in its own savepoint, logged once (and once when it
works again) and counted in the pass's report; every other plan is recorded as usual.
The writes are tried together first (one savepoint, the fast path) and plan by plan only
when that fails.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from device_profiles.models import DeviceProfile, PmPlan, TriggerKind
from facility.errors import StorageError
from facility.types import AssetStatus, Criticality
from maintenance.db import ConflictError, Database, DatabaseUser, Tx
from maintenance.pm_plans import (
    NO_OVERRIDES,
    EffectivePlan,
    Overrides,
    all_effective_plans,
    plan_json,
)
from maintenance.pm_rules import (
    Decision,
    Evaluation,
    OccurrenceState,
    PlanRule,
    PlanState,
    evaluate,
    localize,
)
from maintenance.schema import AssetRow, SiteRow
from maintenance.store import asset_from_row
from maintenance.telemetry import ConditionSource, MeterKey, MeterSource
from maintenance.wo_notice import Notice, Notifier
from maintenance.wo_rows import (
    PRIORITY_OF_CRITICALITY,
    NewOrder,
    cancel_row,
    checklist_from_plan,
    insert_orders,
    to_order,
    utc,
)
from maintenance.wo_schema import (
    PmGeneratorRow,
    PmOccurrenceRow,
    PmPlanRow,
    WorkOrderRow,
    criticality_query,
    ledger_fingerprint_query,
    open_orders_by_plan_query,
    open_orders_of_plans_query,
    plan_keys_query,
    plan_rules_query,
    plans_to_check_query,
    rows_by_id_query,
)
from maintenance.workorders import DEFAULT_SLA, SlaTargets, WoKind

log = logging.getLogger(__name__)

GENERATOR_USER = "pm-generator"
DEFAULT_TZ = "Asia/Shanghai"
PASS_ATTEMPTS = 5


def worker_id() -> str:
    """``host:pid``: which scheduler recorded an occurrence."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SyncReport:
    created: int = 0
    updated: int = 0
    disabled: int = 0


@dataclass
class PassReport:
    """What one pass did."""

    at: datetime
    plans_checked: int = 0
    generated: list[str] = field(default_factory=list)  # work-order numbers
    missed: int = 0
    skipped: int = 0
    superseded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    synced: SyncReport = field(default_factory=SyncReport)
    failed: list[str] = field(default_factory=list)  # "asset_no:plan: error", left as they were

    def add(self, other: PassReport) -> None:
        """Take in what ``other`` (one part of this pass's writes) recorded."""
        self.generated.extend(other.generated)
        self.missed += other.missed
        self.skipped += other.skipped
        self.superseded.extend(other.superseded)

    def summary(self) -> str:
        failed = f", {len(self.failed)} plans failed" if self.failed else ""
        return (
            f"pass at {self.at.isoformat(timespec='seconds')}: {self.plans_checked} plans "
            f"checked, {len(self.generated)} orders generated, {self.missed} missed, "
            f"{self.skipped} skipped, {len(self.superseded)} superseded{failed} "
            f"(plans: {self.synced.created} new, {self.synced.updated} updated, "
            f"{self.synced.disabled} off)"
        )


class Generator(DatabaseUser):
    """Generates PM work orders into the database at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        profiles: Mapping[str, DeviceProfile] | None = None,
        overrides: Overrides = NO_OVERRIDES,
        meters: MeterSource | None = None,
        conditions: ConditionSource | None = None,
        sla: SlaTargets = DEFAULT_SLA,
        notifier: Notifier | None = None,
        worker: str | None = None,
        migrate: bool = True,
    ) -> None:
        if profiles is None:
            from device_profiles import load_library

            profiles = load_library()
        self.profiles = dict(profiles)
        self.overrides = overrides
        self.meters = meters
        self.conditions = conditions
        self.sla = sla
        self.notifier = notifier
        self.worker = worker or worker_id()
        self._db = Database.open(url, migrate=migrate)
        self._plans: dict[str, PmPlan] = {}  # by definition hash
        self._definitions: dict[int, str] = {}  # id(PmPlan) -> canonical JSON
        self._keep: list[PmPlan] = []
        self._synced: tuple[object, ...] | None = None  # ledger fingerprint at the last sync
        # plan id -> (its inputs, next release) when it last had nothing to do
        self._quiet: dict[int, tuple[tuple[object, ...], datetime | None]] = {}
        self._failing: dict[int, str] = {}  # plan id -> "asset_no:plan" while it fails
        self._failed_now: set[int] = set()  # plans that failed in the pass under way

    # --- plans -----------------------------------------------------------------------------

    def effective_plans(
        self, tx: Tx, asset_rows: Sequence[AssetRow] | None = None
    ) -> list[EffectivePlan]:
        """Every asset's plans as the ledger, the profiles and the overrides make them."""
        rows = tx.rows(AssetRow) if asset_rows is None else asset_rows
        return all_effective_plans([asset_from_row(r) for r in rows], self.profiles, self.overrides)

    def condition_alarms(self) -> set[tuple[str, str]]:
        """(asset_no, alarm) of every enabled plan that an alarm triggers: the plan answers
        those raises with its own order (a corrective order would be a second one)."""
        with self._db.transaction() as tx:
            plans = self.effective_plans(tx)
        return {
            (plan.asset_no, trigger.alarm)
            for plan in plans
            if plan.enabled
            for trigger in plan.plan.triggers
            if trigger.kind is TriggerKind.CONDITION and trigger.alarm
        }

    def _hash(self, plan: EffectivePlan) -> str:
        # Shared PmPlan objects (every pump has the profile's) are serialised once.
        text = self._definitions.get(id(plan.plan))
        if text is None:
            text = plan_json(plan.plan)
            self._definitions[id(plan.plan)] = text
            self._keep.append(plan.plan)  # keeps id() unique while it is a key
        digest = plan.definition_hash(text)
        self._plans.setdefault(digest, plan.plan)
        return digest

    def sync_plans(self, now: datetime | None = None) -> SyncReport:
        """Bring ``pm_plans`` in line with the ledger, profiles and overrides."""
        now = utc(now or datetime.now(UTC))
        with self._db.transaction(write=True) as tx:
            return self._sync(tx, now)

    def _sync(
        self, tx: Tx, now: datetime, asset_rows: Sequence[AssetRow] | None = None
    ) -> SyncReport:
        fingerprint = tuple(tx.execute(ledger_fingerprint_query()).one())
        if fingerprint == self._synced:
            return SyncReport()  # the ledger has not changed since this process synced
        effective = self.effective_plans(tx, asset_rows)
        zones = _zones(tx)
        existing = {
            (asset_no, name): (plan_id, digest, enabled)
            for plan_id, asset_no, name, digest, enabled in tx.execute(plan_keys_query())
        }
        created = updated = disabled = 0
        wanted: set[tuple[str, str]] = set()
        changed: dict[int, EffectivePlan] = {}
        digests: dict[int, str] = {}
        for plan in effective:
            key = (plan.asset_no, plan.name)
            wanted.add(key)
            digest = self._hash(plan)
            found = existing.get(key)
            if found is None:
                tx.add(self._new_plan_row(plan, digest, now, zones))
                created += 1
            elif found[1] != digest:
                changed[found[0]] = plan
                digests[found[0]] = digest
        gone = [v[0] for k, v in existing.items() if k not in wanted and v[2]]
        if changed or gone:
            ids = [*changed, *gone]
            for row in tx.execute(rows_by_id_query(PmPlanRow, ids)).scalars():
                if row.id in changed:
                    plan = changed[row.id]
                    _fill_definition(row, plan, digests[row.id], now)
                    updated += 1
                else:
                    row.enabled = False
                    row.next_check_at = None
                    row.updated_at = now
                    disabled += 1
        self._synced = fingerprint
        if created or updated or disabled:
            log.info(
                "pm plans synced created=%d updated=%d disabled=%d", created, updated, disabled
            )
        return SyncReport(created, updated, disabled)

    def _new_plan_row(
        self, plan: EffectivePlan, digest: str, now: datetime, zones: Mapping[str, ZoneInfo]
    ) -> PmPlanRow:
        cycle_start = None
        if plan.last_done is not None:
            tz = zones.get(plan.site, ZoneInfo(DEFAULT_TZ))
            cycle_start = localize(datetime.combine(plan.last_done, time()), tz)
        row = PmPlanRow(
            asset_no=plan.asset_no,
            site=plan.site,
            name=plan.name,
            active_from=now,
            cycle_start=cycle_start,
            baseline={},
            last_due=None,
            last_threshold={},
            covered=False,
            last_done_at=cycle_start,
            next_check_at=None,
        )
        _fill_definition(row, plan, digest, now)
        return row

    def _rule(self, tx: Tx, row: Any, zones: Mapping[str, ZoneInfo]) -> PlanRule:
        """The rule of a plan row (a row or the columns of ``plans_to_check_query``)."""
        plan = self._plans.get(row.definition_hash)
        if plan is None:
            stored = tx.get(PmPlanRow, row.id)
            assert stored is not None
            plan = PmPlan.model_validate(stored.definition)
            self._plans[row.definition_hash] = plan
        return PlanRule(plan, row.anchor, zones.get(row.site, ZoneInfo(DEFAULT_TZ)))

    # --- a pass ----------------------------------------------------------------------------

    def run_pass(self, now: datetime | None = None, *, sync: bool = True) -> PassReport:
        """One generation pass at ``now`` (default: the clock). Safe to repeat, and to run
        from several schedulers at once."""
        now = utc(now or datetime.now(UTC))
        for attempt in range(1, PASS_ATTEMPTS + 1):
            try:
                report, created = self._pass_once(now, sync)
                break
            except ConflictError as exc:
                # Another scheduler recorded the same occurrence first: start again from
                # what is now in the database (it will not be recorded twice).
                if attempt == PASS_ATTEMPTS:
                    raise
                log.info("pm pass at=%s collided (%s), retrying", now.isoformat(), exc)
        for notice in created:
            self._notify(notice)
        if report.generated or report.missed or report.skipped or report.failed:
            log.info("pm %s", report.summary())
        for warning in report.warnings:
            log.warning("pm %s", warning)
        return report

    def _inputs(
        self, now: datetime
    ) -> tuple[dict[MeterKey, float], dict[str, dict[str, datetime]]]:
        """Counters and alarms the plans to check need, read before the write transaction
        (a historian query must not hold the database's write lock)."""
        keys: set[MeterKey] = set()
        condition_assets: set[str] = set()
        with self._db.transaction() as tx:
            zones = _zones(tx)
            for row in tx.execute(plan_rules_query(now)):
                for trigger in self._rule(tx, row, zones).plan.triggers:
                    if trigger.kind is TriggerKind.METER and trigger.point:
                        keys.add((row.asset_no, trigger.point))
                    elif trigger.kind is TriggerKind.CONDITION:
                        condition_assets.add(row.asset_no)
        meters = self.meters.read_many(keys) if self.meters and keys else {}
        alarms = (
            self.conditions.active(condition_assets) if self.conditions and condition_assets else {}
        )
        return meters, alarms

    def _pass_once(self, now: datetime, sync: bool) -> tuple[PassReport, list[Notice]]:
        report = PassReport(now)
        self._failed_now = set()
        if sync:
            # First, so that a new plan's counters are read in this pass: the first reading
            # of a cycle is its baseline.
            report.synced = self.sync_plans(now)
        meters, alarms = self._inputs(now)
        notices: list[Notice] = []
        with self._db.transaction(write=True) as tx:
            generator = tx.get(PmGeneratorRow, 1, lock=True)  # passes take turns
            if generator is None:
                generator = PmGeneratorRow(id=1, passes=0)
                tx.add(generator)
            zones = _zones(tx)
            open_counts = {pid: n for pid, n in tx.execute(open_orders_by_plan_query())}
            results: list[tuple[Any, Evaluation]] = []
            changes: dict[int, dict[str, Any]] = {}
            checked: set[int] = set()
            names: dict[int, str] = {}
            for row in tx.execute(plans_to_check_query(now)):
                rule = self._rule(tx, row, zones)
                points = [t.point for t in rule.plan.triggers if t.point]
                plan_meters = {p: meters.get((row.asset_no, p)) for p in points}
                plan_alarms = alarms.get(row.asset_no)
                open_orders = open_counts.get(row.id, 0)
                report.plans_checked += 1
                checked.add(row.id)
                names[row.id] = f"{row.asset_no}:{row.name}"
                # The rules are pure: with the same inputs, nothing to do until the next
                # release of a time trigger (most meter plans, most of the time).
                inputs = _inputs_key(row, open_orders, plan_meters, plan_alarms)
                quiet = self._quiet.get(row.id)
                if (
                    quiet is not None
                    and quiet[0] == inputs
                    and (quiet[1] is None or now < quiet[1])
                ):
                    continue
                state = _state(row, row.status, open_orders)
                try:
                    evaluation = evaluate(rule, state, now, plan_meters, plan_alarms)
                    changed = _cursor_changes(row, rule, evaluation)
                except Exception as exc:  # one plan's bad data must not stop the others
                    self._failed(row.id, names[row.id], exc, report)
                    continue
                report.warnings.extend(
                    f"{row.asset_no}:{row.name}: {w}" for w in evaluation.warnings
                )
                if changed:
                    changes[row.id] = changed
                if evaluation.decisions:
                    results.append((row, evaluation))
                if changed or evaluation.decisions or evaluation.pending:
                    self._quiet.pop(row.id, None)
                else:
                    self._quiet[row.id] = (inputs, evaluation.next_release)
            criticality: dict[str, Criticality] = {}
            if any(d.state is OccurrenceState.GENERATED for _, e in results for d in e.decisions):
                criticality = {a: Criticality(c) for a, c in tx.execute(criticality_query())}
            orders = self._write_all(tx, changes, results, now, zones, criticality, names, report)
            self._recovered(checked, report)
            generator.last_pass_at = now
            generator.last_pass_by = self.worker
            generator.passes += 1
            tx.flush()
            if self.notifier is not None:
                notices = [
                    Notice("created", to_order(tx, r, full=False), GENERATOR_USER, now, None)
                    for r in orders
                ]
        return report, notices

    def _write_all(
        self,
        tx: Tx,
        changes: Mapping[int, Mapping[str, Any]],
        results: Sequence[tuple[Any, Evaluation]],
        now: datetime,
        zones: Mapping[str, ZoneInfo],
        criticality: Mapping[str, Criticality],
        names: Mapping[int, str],
        report: PassReport,
    ) -> list[WorkOrderRow]:
        """Every plan's cursor, occurrences and orders: all together in one savepoint, and
        if that fails, plan by plan, each in its own (a failing plan is left as it was)."""
        if not changes and not results:
            return []
        part = PassReport(report.at)
        together: list[WorkOrderRow] | None = None
        try:
            with tx.savepoint():
                together = self._write(tx, changes, results, now, zones, criticality, part)
        except StorageError:
            together = None  # some plan's writes fail: find which, and record all the others
        if together is not None:
            report.add(part)
            return together
        orders: list[WorkOrderRow] = []
        by_plan = {row.id: (row, evaluation) for row, evaluation in results}
        for plan_id in sorted({*changes, *by_plan}):
            part = PassReport(report.at)
            one_change = {plan_id: changes[plan_id]} if plan_id in changes else {}
            one_result = [by_plan[plan_id]] if plan_id in by_plan else []
            try:
                with tx.savepoint():
                    found = self._write(tx, one_change, one_result, now, zones, criticality, part)
            except StorageError as exc:
                self._quiet.pop(plan_id, None)
                self._failed(plan_id, names.get(plan_id, f"plan {plan_id}"), exc, report)
                continue
            orders.extend(found)
            report.add(part)
        return orders

    def _write(
        self,
        tx: Tx,
        changes: Mapping[int, Mapping[str, Any]],
        results: Sequence[tuple[Any, Evaluation]],
        now: datetime,
        zones: Mapping[str, ZoneInfo],
        criticality: Mapping[str, Criticality],
        report: PassReport,
    ) -> list[WorkOrderRow]:
        if changes:
            # Only plans whose cursor moved are loaded as rows and written.
            for stored in tx.execute(rows_by_id_query(PmPlanRow, list(changes))).scalars():
                for column, value in changes[stored.id].items():
                    setattr(stored, column, value)
        return self._record(tx, results, now, zones, criticality, report)

    def _failed(self, plan_id: int, name: str, exc: Exception, report: PassReport) -> None:
        """A plan left as it was in this pass: counted every time, logged when it starts."""
        report.failed.append(f"{name}: {exc}")
        self._failed_now.add(plan_id)
        if plan_id not in self._failing:
            log.error("pm plan=%s failed, left as it was; the other plans go on: %s", name, exc)
        self._failing[plan_id] = name

    def _recovered(self, checked: set[int], report: PassReport) -> None:
        for plan_id, name in list(self._failing.items()):
            if plan_id in checked and plan_id not in self._failed_now:
                del self._failing[plan_id]
                log.info("pm plan=%s works again", name)

    def _record(
        self,
        tx: Tx,
        results: Sequence[tuple[Any, Evaluation]],
        now: datetime,
        zones: Mapping[str, ZoneInfo],
        criticality: Mapping[str, Criticality],
        report: PassReport,
    ) -> list[WorkOrderRow]:
        occurrences: list[tuple[Any, Decision, PmOccurrenceRow]] = []
        supersede: list[int] = []
        for row, evaluation in results:
            for decision in evaluation.decisions:
                occurrence = decision.occurrence
                record = PmOccurrenceRow(
                    plan_id=row.id,
                    slot=occurrence.slot,
                    trigger=occurrence.trigger.value,
                    due=occurrence.due,
                    release_at=occurrence.release,
                    window_end=occurrence.window_end,
                    state=decision.state.value,
                    reason=decision.reason[:500],
                    threshold=occurrence.threshold,
                    recorded_at=now,
                    recorded_by=self.worker,
                )
                occurrences.append((row, decision, record))
                if decision.supersede:
                    supersede.append(row.id)
                if decision.state is OccurrenceState.MISSED:
                    report.missed += 1
                elif decision.state is OccurrenceState.SKIPPED:
                    report.skipped += 1
        if supersede:
            for old in tx.execute(open_orders_of_plans_query(supersede)).scalars():
                cancel_row(tx, old, GENERATOR_USER, now, "superseded by the next occurrence")
                report.superseded.append(old.number)
        tx.add(*(record for _, _, record in occurrences))
        tx.flush()  # occurrence ids for the orders
        new_orders: list[NewOrder] = []
        for row, decision, record in occurrences:
            if decision.state is not OccurrenceState.GENERATED:
                continue
            plan = self._rule(tx, row, zones).plan
            occurrence = decision.occurrence
            priority = PRIORITY_OF_CRITICALITY[criticality.get(row.asset_no, Criticality.MEDIUM)]
            response_due, _ = self.sla.due(priority, now)
            new_orders.append(
                NewOrder(
                    site=row.site,
                    kind=WoKind.PREVENTIVE,
                    asset_no=row.asset_no,
                    title_en=plan.title.en,
                    title_zh=plan.title.zh,
                    priority=priority,
                    created_at=now,
                    created_by=GENERATOR_USER,
                    response_due=response_due,
                    completion_due=max(occurrence.window_end, now),
                    description=f"{plan.title.en}: {decision.reason} (slot {occurrence.slot})",
                    skill=plan.skill,
                    estimated_min=plan.duration_min,
                    due_at=occurrence.due,
                    checklist=checklist_from_plan(plan),
                    plan_id=row.id,
                    occurrence_id=record.id,
                    event_note=f"{occurrence.slot}: {decision.reason}",
                )
            )
        orders = insert_orders(tx, new_orders, zones) if new_orders else []
        report.generated.extend(o.number for o in orders)
        for order in orders:
            log.debug("work_order=%s generated asset_no=%s", order.number, order.asset_no)
        return orders

    def _notify(self, notice: Notice) -> None:
        assert self.notifier is not None
        try:
            self.notifier.notify(notice)
        except Exception:  # a broken channel must not stop generation
            log.exception("work_order=%s notice could not be sent", notice.order.number)

    # --- reading ---------------------------------------------------------------------------

    def plan_states(
        self, *, asset_no: str | None = None, site: str | None = None
    ) -> list[PlanView]:
        """Stored plans with their rules and cursors (``facility pm plans``)."""
        with self._db.transaction() as tx:
            zones = _zones(tx)
            status = {r.asset_no: r.status for r in tx.rows(AssetRow, asset_no=asset_no)}
            open_counts = {pid: n for pid, n in tx.execute(open_orders_by_plan_query())}
            rows = tx.rows(
                PmPlanRow,
                asset_no=asset_no,
                site=site.upper() if site else None,
                order_by=["site", "asset_no", "name"],
            )
            return [
                PlanView(
                    row.id,
                    row.asset_no,
                    row.site,
                    row.name,
                    row.source,
                    row.enabled,
                    self._rule(tx, row, zones),
                    _state(row, status.get(row.asset_no, ""), open_counts.get(row.id, 0)),
                )
                for row in rows
            ]

    def last_pass(self) -> tuple[datetime | None, str | None, int]:
        """When the last pass ran, which scheduler ran it, and how many passes so far."""
        with self._db.transaction() as tx:
            row = tx.get(PmGeneratorRow, 1)
            if row is None:
                return None, None, 0
            at = utc(row.last_pass_at) if row.last_pass_at else None
            return at, row.last_pass_by, row.passes


@dataclass(frozen=True)
class PlanView:
    """One stored plan: its rule and where its cursor stands."""

    plan_id: int
    asset_no: str
    site: str
    name: str
    source: str
    enabled: bool
    rule: PlanRule
    state: PlanState

    @property
    def meter_keys(self) -> list[MeterKey]:
        return [(self.asset_no, t.point) for t in self.rule.plan.triggers if t.point]


def _fill_definition(row: PmPlanRow, plan: EffectivePlan, digest: str, now: datetime) -> None:
    row.title_en = plan.plan.title.en
    row.title_zh = plan.plan.title.zh
    row.source = plan.source
    row.profile = plan.profile
    row.definition = plan.definition()
    row.definition_hash = digest
    row.anchor = plan.anchor
    row.enabled = plan.enabled
    row.next_check_at = None
    row.updated_at = now


def _zones(tx: Tx) -> dict[str, ZoneInfo]:
    return {row.code: ZoneInfo(row.timezone) for row in tx.rows(SiteRow)}


def _state(row: Any, status: str, open_orders: int) -> PlanState:
    return PlanState(
        active_from=utc(row.active_from),
        cycle_start=utc(row.cycle_start) if row.cycle_start else None,
        baseline={k: float(v) for k, v in (row.baseline or {}).items()},
        last_due=utc(row.last_due) if row.last_due else None,
        last_threshold={k: float(v) for k, v in (row.last_threshold or {}).items()},
        covered=row.covered,
        open_orders=open_orders,
        in_service=status == AssetStatus.IN_SERVICE.value,
    )


def _inputs_key(
    row: Any,
    open_orders: int,
    meters: Mapping[str, float | None],
    alarms: Mapping[str, datetime] | None,
) -> tuple[object, ...]:
    """Everything ``evaluate`` reads about a plan besides its rule and the time."""
    return (
        row.definition_hash,
        row.anchor,
        row.active_from,
        row.cycle_start,
        row.last_due,
        row.covered,
        row.next_check_at,
        row.status,
        open_orders,
        tuple(sorted((row.baseline or {}).items())),
        tuple(sorted((row.last_threshold or {}).items())),
        tuple(sorted(meters.items())),
        tuple(sorted((alarms or {}).items())),
    )


def _cursor_changes(row: Any, rule: PlanRule, evaluation: Evaluation) -> dict[str, Any]:
    """The plan's columns that move: its cursor, and when it next needs looking at."""
    state = evaluation.state
    changes: dict[str, Any] = {}
    baseline = dict(state.baseline)
    last_threshold = dict(state.last_threshold)
    if (row.baseline or {}) != baseline:
        changes["baseline"] = baseline
    if (row.last_threshold or {}) != last_threshold:
        changes["last_threshold"] = last_threshold
    if state.last_due is not None and (row.last_due is None or utc(row.last_due) != state.last_due):
        changes["last_due"] = state.last_due
    if state.covered != row.covered:
        changes["covered"] = state.covered
    live = any(t.kind in (TriggerKind.METER, TriggerKind.CONDITION) for t in rule.plan.triggers)
    next_check = None if live or evaluation.pending else evaluation.next_release
    if next_check != (utc(row.next_check_at) if row.next_check_at else None):
        changes["next_check_at"] = next_check
    return changes
