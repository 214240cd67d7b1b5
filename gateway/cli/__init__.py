"""The gateway's commands: ``facility gateway``, ``facility history``, ``facility alarms``,
and the wiring of maintenance's ``pm`` and ``wo`` to the plant (``plant.py``)."""
