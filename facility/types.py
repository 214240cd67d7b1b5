"""Domain types shared by every part: sites, device classes, asset numbers, readings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from facility.errors import ConfigError


class DeviceClass(StrEnum):
    """The five device classes of DESIGN.md, by their asset-number code."""

    PMP = "PMP"  # booster / domestic water pump (VFD)
    PDP = "PDP"  # pool drainage: pool controller + drain pump
    TNK = "TNK"  # water tank
    LGT = "LGT"  # lighting circuit / street-light group
    FAP = "FAP"  # fire alarm panel


DEVICE_CLASS_SYSTEM: dict[DeviceClass, str] = {
    DeviceClass.PMP: "water_supply",
    DeviceClass.PDP: "pool",
    DeviceClass.TNK: "water_supply",
    DeviceClass.LGT: "lighting",
    DeviceClass.FAP: "fire",
}


class Quality(StrEnum):
    """Explicit quality of a reading: a value that could not be read is never a silent 0."""

    GOOD = "good"
    BAD_COMM = "bad_comm"  # device not reachable / timed out
    BAD_DEVICE = "bad_device"  # device answered with an exception for this block
    BAD_CONFIG = "bad_config"  # profile disagrees with the device (type, node missing)
    UNCERTAIN_RANGE = "uncertain_range"  # decoded, but outside the profile's valid range
    UNCERTAIN_STALE = "uncertain_stale"  # last known value, older than expected


SITE_CODE_RE = re.compile(r"^[A-Z]{2,4}$")
ASSET_NO_RE = re.compile(r"^(?P<site>[A-Z]{2,4})-(?P<cls>[A-Z]{3})-(?P<seq>\d{3,})$")


@dataclass(frozen=True, order=True)
class AssetNo:
    """``<SITE>-<CLASS>-<NNN>``, e.g. ``HT-LGT-017``; unique for ever."""

    site: str
    device_class: DeviceClass
    seq: int

    @classmethod
    def parse(cls, text: str) -> AssetNo:
        match = ASSET_NO_RE.match(text.strip())
        if not match:
            raise ConfigError(
                f"asset number {text!r}: expected <SITE>-<CLASS>-<NNN>, e.g. HT-LGT-017"
            )
        try:
            device_class = DeviceClass(match["cls"])
        except ValueError:
            known = ", ".join(c.value for c in DeviceClass)
            raise ConfigError(
                f"asset number {text!r}: unknown class {match['cls']!r} (known: {known})"
            ) from None
        return cls(match["site"], device_class, int(match["seq"]))

    def __str__(self) -> str:
        return f"{self.site}-{self.device_class.value}-{self.seq:03d}"


PointValue = float | int | bool | str | None


class Reading(NamedTuple):
    """One point of one device at one instant, with its quality and both timestamps.

    A named tuple, not a dataclass: a collector builds one per point per poll, and a frozen
    dataclass cost three times as much to build (docs/decisions/010-reading-namedtuple.md).
    Change a field with ``reading._replace(...)``; it equals any tuple of the same fields.
    """

    site: str
    asset_no: str
    point: str
    value: PointValue
    unit: str
    quality: Quality
    source_ts: datetime | None
    collected_ts: datetime


class AssetStatus(StrEnum):
    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"


class Priority(StrEnum):
    """How urgent an alarm or a work order is, most urgent first (ISA-18.2 style)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the most urgent; sort by it to list the urgent first."""
        return PRIORITY_ORDER.index(self.value)

    def at_least(self, other: Priority) -> bool:
        """Is this as urgent as ``other``, or more?"""
        return self.rank <= other.rank


# The one order of priorities, most urgent first (plain strings: SQL checks, config, sorting).
PRIORITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low")


def priority_rank(priority: str) -> int:
    """Sort key for a priority given as text; unknown ones sort after the known."""
    try:
        return PRIORITY_ORDER.index(priority)
    except ValueError:
        return len(PRIORITY_ORDER)


class Criticality(StrEnum):
    """How much the estate suffers when the asset fails (drives priorities and SLAs)."""

    HIGH = "high"  # life safety or whole-estate service: fire, main water supply
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class ModbusEndpoint:
    """A Modbus TCP device: host:port of the device or gateway, and its unit id."""

    host: str
    port: int
    unit_id: int

    def __str__(self) -> str:
        return f"modbus://{self.host}:{self.port}/{self.unit_id}"


@dataclass(frozen=True, slots=True)
class OpcuaEndpoint:
    """An OPC UA server and the asset's node under ``Objects`` (its browse-path root)."""

    url: str  # opc.tcp://host:port/path
    node_root: str  # browse name of the asset's folder, e.g. HT-TNK-001

    def __str__(self) -> str:
        return f"{self.url}#{self.node_root}"


Endpoint = ModbusEndpoint | OpcuaEndpoint


@dataclass(frozen=True, slots=True)
class Asset:
    """One numbered asset of the ledger: what it is, where it is and how to reach it.

    Assets without an endpoint exist (e.g. individual street lights under a monitored
    circuit, ``parent_asset_no``): they are maintained, not polled.
    """

    asset_no: str
    site: str
    device_class: DeviceClass
    name_en: str
    name_zh: str
    building: str
    zone: str
    system: str
    profile: str | None  # device profile id; None for assets that are not monitored
    make: str
    model: str
    serial: str
    install_date: date | None
    criticality: Criticality
    status: AssetStatus
    endpoint: Endpoint | None
    parent_asset_no: str | None = None

    @property
    def monitored(self) -> bool:
        """Polled by a collector (and simulated): has a profile and an endpoint, in service."""
        return (
            self.profile is not None
            and self.endpoint is not None
            and self.status is not AssetStatus.RETIRED
        )
