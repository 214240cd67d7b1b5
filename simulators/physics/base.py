"""The interface every simulated device model implements, and the fault vocabulary.

A model is stepped with simulated time (``now`` is timezone-aware, Asia/Shanghai for the
demo estates; ``dt_s`` is simulated seconds since the previous step and may be large when
time is accelerated, so models sub-step internally where their physics needs it). It reports
engineering values by profile point name. Deterministic: the same seed and the same sequence
of ``step``/``write``/``inject`` calls give the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from facility.types import PointValue


class FaultKind(StrEnum):
    """Faults ``facility sim fault ASSET_NO KIND`` can inject.

    Protocol faults are applied by the protocol servers; physical faults by the models.
    """

    # protocol level (any device)
    COMM_LOSS = "comm_loss"  # device stops answering (no response / connection dropped)
    SLOW = "slow"  # answers late (default 1.5 s)
    EXCEPTION = "exception"  # Modbus: answers exception 4 (device failure); OPC UA: Bad status
    OUT_OF_RANGE = "out_of_range"  # analogue values leave their profile range
    # Modbus only: behave like devices no one here wrote
    REQUEST_LIMIT = "request_limit"  # exception 3 to reads above N registers (default 60)
    STRICT_GAPS = "strict_gaps"  # exception 2 to reads spanning unmapped registers
    # physical, per class
    OVERCURRENT = "overcurrent"  # PMP: motor current climbs above the alarm limit, then trips
    DRY_RUN = "dry_run"  # PDP: drain pump trips on dry run; PMP: fault code 5, trip
    SENSOR_STUCK = "sensor_stuck"  # TNK: level value freezes while the tank keeps moving
    LAMP_FAILURES = "lamp_failures"  # LGT: several lamps fail, circuit current drops
    FIRE = "fire"  # FAP: a zone goes to fire, panel state fire
    PANEL_FAULT = "panel_fault"  # FAP: a zone/panel fault
    MAINS_FAULT = "mains_fault"  # FAP: mains lost, battery discharging
    BATTERY_FAULT = "battery_fault"  # FAP: battery fault
    DOOR_OPEN = "door_open"  # PDP: plant-room door open; LGT: cabinet open
    FLOOD = "flood"  # PDP: plant-room flood sensor


MODBUS_FAULTS = frozenset({FaultKind.REQUEST_LIMIT, FaultKind.STRICT_GAPS})
PROTOCOL_FAULTS = frozenset(
    {FaultKind.COMM_LOSS, FaultKind.SLOW, FaultKind.EXCEPTION, FaultKind.OUT_OF_RANGE}
    | MODBUS_FAULTS
)


class DeviceModel(Protocol):
    """A simulated device of one class."""

    asset_no: str

    def step(self, now: datetime, dt_s: float) -> None:
        """Advance the physics by ``dt_s`` simulated seconds, ending at ``now``."""

    def values(self) -> Mapping[str, PointValue]:
        """Current engineering values by point name (every point of the profile)."""

    def write(self, point: str, value: PointValue) -> None:
        """A client wrote a writable point (set-point, command, mode)."""

    def inject(self, fault: FaultKind, active: bool) -> None:
        """Start or clear a physical fault; raise ConfigError if the class has no such fault."""

    @property
    def faults(self) -> frozenset[FaultKind]:
        """The physical faults this model supports."""
