"""Pure device physics: one model per device class, stepped by simulated time.

No I/O, no protocol: models produce engineering values by point name (as the device
profile names them); the protocol servers encode them onto the wire.

    model = create_model("HT-PMP-001", profile, seed=42)
    model.step(now, dt_s)            # simulated time, any dt (sub-stepped inside)
    model.values()["run_hours"]      # every profile point, typed as the wire shows it
    model.write("mode", 1); model.inject(FaultKind.OVERCURRENT, True)
"""

from simulators.physics.base import PROTOCOL_FAULTS, DeviceModel, FaultKind
from simulators.physics.outputs import python_type
from simulators.physics.registry import MODELS, create_model

__all__ = ["MODELS", "PROTOCOL_FAULTS", "DeviceModel", "FaultKind", "create_model", "python_type"]
