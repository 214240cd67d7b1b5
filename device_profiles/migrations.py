"""Bring profile files written for an older ``schema_version`` forward, one version at a time.

A migration is a pure function over the raw YAML data (plain dicts and lists), registered
with ``@migration(from_version)``; it returns the data of the next version. It also says
where moved values came from (``log.move(new, old)``) so that validation errors still point
at the line the user wrote, and reports values it cannot translate (``log.problem``) instead
of guessing. Files are never rewritten: the upgrade happens in memory on every load.

Version history:

- **0** (first format, before Modbus byte orders were named by letters): a point's Modbus
  address lived under ``registers:``, with ``word_order`` and ``byte_order`` (``big`` or
  ``little``) instead of ``order``; the profile's ``modbus:`` defaults did the same; the valid
  range was written ``min:`` / ``max:`` on the point.
- **1** (current): ``modbus:`` per point with ``order: ABCD|CDAB|BADC|DCBA`` (or an alias),
  ``range: [low, high]``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from device_profiles.models import SCHEMA_VERSION, Loc

RawProfile = dict[str, Any]


@dataclass
class MigrationLog:
    """What the migrations did: moved locations and values they could not translate."""

    moved: dict[Loc, Loc] = field(default_factory=dict)  # location now -> location in the file
    problems: list[tuple[Loc, str]] = field(default_factory=list)  # located in the new data
    from_version: int | None = None  # None: the version was missing or cannot be read

    def move(self, new: Loc, old: Loc) -> None:
        self.moved[new] = self.source(old)

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def source(self, loc: Loc) -> Loc:
        """Where a location of the migrated data was written in the file."""
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in self.moved:
                return self.moved[loc[:cut]] + loc[cut:]
        return loc


Migration = Callable[[RawProfile, MigrationLog], RawProfile]

# from_version -> the function that produces from_version + 1
MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register a migration from ``from_version`` to ``from_version + 1``."""

    def register(function: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise RuntimeError(f"two migrations from schema_version {from_version}")
        MIGRATIONS[from_version] = function
        return function

    return register


def supported_versions() -> list[int]:
    """Every schema_version a file may declare: the migrated ones and the current one."""
    return sorted({*MIGRATIONS, SCHEMA_VERSION})


def migrate(data: RawProfile) -> tuple[RawProfile, MigrationLog]:
    """Return ``data`` upgraded to the current schema_version, and what was done.

    A missing, non-integer or unknown ``schema_version`` is reported as a problem at
    ``schema_version`` and the data is returned unchanged: validating it against the
    current schema would only add noise.
    """
    log = MigrationLog()
    versions = ", ".join(map(str, supported_versions()))
    if "schema_version" not in data:
        log.problem(
            ("schema_version",),
            f"missing; expected schema_version: {SCHEMA_VERSION} (the current version)",
        )
        return data, log
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        log.problem(
            ("schema_version",),
            f"expected a whole number ({versions}), got {version!r}",
        )
        return data, log
    if version > SCHEMA_VERSION:
        log.problem(
            ("schema_version",),
            f"version {version} is newer than this program reads ({versions}); "
            f"upgrade facility or write the profile for version {SCHEMA_VERSION}",
        )
        return data, log
    if version != SCHEMA_VERSION and version not in MIGRATIONS:
        log.problem(
            ("schema_version",),
            f"unknown version {version}; expected one of: {versions}",
        )
        return data, log
    log.from_version = version
    migrated = copy.deepcopy(data)
    while version < SCHEMA_VERSION:
        migrated = MIGRATIONS[version](migrated, log)
        version += 1
        migrated["schema_version"] = version
    return migrated, log


# --- 0 -> 1 -------------------------------------------------------------------------------

_V0_ORDERS = {
    ("big", "big"): "ABCD",
    ("little", "big"): "CDAB",  # words swapped, bytes as sent
    ("big", "little"): "BADC",  # bytes swapped in each word
    ("little", "little"): "DCBA",
}


def _v0_order(mapping: dict[str, Any], loc: Loc, log: MigrationLog) -> str | None:
    """Pop v0 ``word_order``/``byte_order`` (default big) and name the v1 order."""
    present = [key for key in ("word_order", "byte_order") if key in mapping]
    if not present:
        return None
    halves: list[str] = []
    for key in ("word_order", "byte_order"):
        value = mapping.pop(key, "big")
        text = value.strip().lower() if isinstance(value, str) else value
        if text not in ("big", "little"):
            log.problem((*loc, key), f"expected big or little, got {value!r}")
            return None
        halves.append(text)
    log.move((*loc, "order"), (*loc, present[0]))
    return _V0_ORDERS[(halves[0], halves[1])]


@migration(0)
def _v0_to_v1(data: RawProfile, log: MigrationLog) -> RawProfile:
    defaults = data.get("modbus")
    if isinstance(defaults, dict):
        order = _v0_order(defaults, ("modbus",), log)
        if order is not None:
            defaults["order"] = order
    points = data.get("points")
    if not isinstance(points, list):
        return data
    for i, point in enumerate(points):
        if not isinstance(point, dict):
            continue
        if "registers" in point:
            address = point.pop("registers")
            log.move(("points", i, "modbus"), ("points", i, "registers"))
            if isinstance(address, dict):
                order = _v0_order(address, ("points", i, "modbus"), log)
                if order is not None:
                    address["order"] = order
            point["modbus"] = address
        if "min" in point or "max" in point:
            if "min" not in point or "max" not in point:
                missing = "min" if "min" not in point else "max"
                log.problem(
                    ("points", i, "max" if missing == "min" else "min"),
                    f"a range needs both min and max: `{missing}` is missing",
                )
                point.pop("min", None)
                point.pop("max", None)
                continue
            log.move(("points", i, "range"), ("points", i, "min"))
            log.move(("points", i, "range", 0), ("points", i, "min"))
            log.move(("points", i, "range", 1), ("points", i, "max"))
            point["range"] = [point.pop("min"), point.pop("max")]
    return data
