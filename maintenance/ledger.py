"""The ledger's pure model: its columns and types, the import plan, export, asset-number
allocation and the status rule. No I/O.

A ledger file is read (``ledger_files``) into a ``LedgerSheet`` of text cells;
``maintenance.ledger_check.validate_sheet`` turns it into ``Asset`` objects or raises
``LedgerError`` listing every problem at once. ``plan_import`` compares the result with what
is stored and says, per row, whether the asset is created, updated or unchanged;
``asset_values`` is the way back, an asset as ledger cells (export).

Rules decided here (docs/ledger.md explains them to users):

- Numbers are allocated after the highest ever given for a site and class; gaps are never
  filled.
- A retired asset stays retired: its number is never given to another asset.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Literal

from facility.errors import ConfigError
from facility.types import (
    SITE_CODE_RE,
    Asset,
    AssetNo,
    AssetStatus,
    DeviceClass,
    Endpoint,
    ModbusEndpoint,
    OpcuaEndpoint,
)

# The ledger file's columns, in the order export writes them.
COLUMNS: tuple[str, ...] = (
    "asset_no",
    "name_en",
    "name_zh",
    "site",
    "building",
    "zone",
    "system",
    "device_class",
    "profile",
    "make",
    "model",
    "serial",
    "install_date",
    "criticality",
    "status",
    "protocol",
    "host",
    "port",
    "unit_id",
    "opcua_url",
    "node_root",
    "parent_asset_no",
)

MAX_ALLOCATION = 1000

Protocol = Literal["modbus", "opcua"]


@dataclass(frozen=True)
class Site:
    """An estate: its code (the first part of every asset number), names and time zone."""

    code: str
    name_en: str
    name_zh: str
    timezone: str


@dataclass(frozen=True)
class ProfileRef:
    """What the ledger needs to know about a device profile."""

    device_class: DeviceClass
    protocol: Protocol


@dataclass(frozen=True)
class LedgerRow:
    """One data row of a ledger file: its row number as the user sees it, and its cells."""

    row: int
    values: Mapping[str, str]


@dataclass(frozen=True)
class LedgerSheet:
    """A ledger file as read: where it came from, its header and its non-blank rows."""

    source: str
    header: tuple[str, ...]
    rows: tuple[LedgerRow, ...]
    header_row: int = 1


@dataclass(frozen=True)
class LedgerContext:
    """What validation checks rows against: profiles, known sites, assets already stored."""

    profiles: Mapping[str, ProfileRef]
    sites: Collection[str] | None = None  # None: any well-formed site code
    existing: Mapping[str, Asset] = field(default_factory=dict)


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class RowChange:
    """What an import does with one row."""

    row: int
    asset_no: str
    action: Action
    changed: tuple[str, ...] = ()  # fields that differ from the stored asset


@dataclass(frozen=True)
class ImportReport:
    """The per-row outcome of an import (or of a dry run)."""

    source: str
    changes: tuple[RowChange, ...]
    dry_run: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    @property
    def created(self) -> int:
        return self.count(Action.CREATED)

    @property
    def updated(self) -> int:
        return self.count(Action.UPDATED)

    @property
    def unchanged(self) -> int:
        return self.count(Action.UNCHANGED)


def protocol_of(endpoint: Endpoint) -> Protocol:
    """The protocol an endpoint speaks."""
    return "modbus" if isinstance(endpoint, ModbusEndpoint) else "opcua"


# --- import plan, export -------------------------------------------------------------------


def changed_fields(old: Asset, new: Asset) -> tuple[str, ...]:
    """Names of the Asset fields that differ."""
    return tuple(f.name for f in fields(Asset) if getattr(old, f.name) != getattr(new, f.name))


def plan_import(
    assets: Sequence[tuple[int, Asset]], existing: Mapping[str, Asset]
) -> list[RowChange]:
    """Per row: created (new number), updated (fields listed) or unchanged."""
    changes = []
    for row, asset in assets:
        stored = existing.get(asset.asset_no)
        if stored is None:
            changes.append(RowChange(row, asset.asset_no, Action.CREATED))
            continue
        changed = changed_fields(stored, asset)
        action = Action.UPDATED if changed else Action.UNCHANGED
        changes.append(RowChange(row, asset.asset_no, action, changed))
    return changes


def asset_values(asset: Asset) -> dict[str, str]:
    """An Asset as ledger cells (the inverse of ``parse_row``)."""
    endpoint = asset.endpoint
    modbus = endpoint if isinstance(endpoint, ModbusEndpoint) else None
    opcua = endpoint if isinstance(endpoint, OpcuaEndpoint) else None
    values = {
        "asset_no": asset.asset_no,
        "name_en": asset.name_en,
        "name_zh": asset.name_zh,
        "site": asset.site,
        "building": asset.building,
        "zone": asset.zone,
        "system": asset.system,
        "device_class": asset.device_class.value,
        "profile": asset.profile or "",
        "make": asset.make,
        "model": asset.model,
        "serial": asset.serial,
        "install_date": asset.install_date.isoformat() if asset.install_date else "",
        "criticality": asset.criticality.value,
        "status": asset.status.value,
        "protocol": protocol_of(endpoint) if endpoint else "",
        "host": modbus.host if modbus else "",
        "port": str(modbus.port) if modbus else "",
        "unit_id": str(modbus.unit_id) if modbus else "",
        "opcua_url": opcua.url if opcua else "",
        "node_root": opcua.node_root if opcua else "",
        "parent_asset_no": asset.parent_asset_no or "",
    }
    return {column: values[column] for column in COLUMNS}


def asset_sort_key(asset_no: str) -> tuple[str, str, int, str]:
    """Order numbers by site, class and sequence (``HT-LGT-1000`` after ``HT-LGT-999``)."""
    try:
        number = AssetNo.parse(asset_no)
    except ConfigError:
        return ("~", "", 0, asset_no)
    return (number.site, number.device_class.value, number.seq, asset_no)


# --- numbering -----------------------------------------------------------------------------


def next_numbers(
    existing_numbers: Iterable[str], site: str, device_class: DeviceClass | str, count: int
) -> list[str]:
    """The next ``count`` numbers for site and class, after the highest ever allocated.

    Gaps are never filled: a number missing from the ledger may still be painted on a
    pole or written in an old report, so it is as good as used.
    """
    try:
        cls = DeviceClass(str(device_class).upper())
    except ValueError:
        known = ", ".join(c.value for c in DeviceClass)
        raise ConfigError(f"unknown class {device_class!r} (known: {known})") from None
    if not SITE_CODE_RE.match(site):
        raise ConfigError(f"site: expected a site code of 2-4 capital letters, got {site!r}")
    if not 1 <= count <= MAX_ALLOCATION:
        raise ConfigError(f"count: expected 1..{MAX_ALLOCATION}, got {count}")
    highest = 0
    for text in existing_numbers:
        try:
            number = AssetNo.parse(text)
        except ConfigError:
            continue
        if number.site == site and number.device_class is cls:
            highest = max(highest, number.seq)
    return [str(AssetNo(site, cls, seq)) for seq in range(highest + 1, highest + count + 1)]


# --- status --------------------------------------------------------------------------------


def check_status_change(asset_no: str, current: AssetStatus, new: AssetStatus) -> None:
    """Retired is final; any other change is allowed. Raises ConfigError."""
    if current is AssetStatus.RETIRED and new is not AssetStatus.RETIRED:
        raise ConfigError(
            f"{asset_no} is retired and its number is never reused; "
            "allocate a new one with `facility ledger number`"
        )
