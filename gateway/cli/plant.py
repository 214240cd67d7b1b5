"""``facility pm`` and ``facility wo``: maintenance's commands, reading the plant as the
gateway implements it.

The commands live in ``maintenance/cli/``; maintenance states what it reads from the plant
(``maintenance.telemetry``) and never imports gateway. This floor may import both, so it is
where the two meet: the ``facility`` root registers these wired groups.
"""

from __future__ import annotations

from gateway.telemetry import plant_telemetry
from maintenance.cli import pm as _pm
from maintenance.cli import wo as _wo

pm = _pm.group.wired(plant_telemetry)
wo = _wo.group.wired(plant_telemetry)
