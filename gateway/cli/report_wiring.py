"""``facility report``: maintenance's report commands, reading alarms and meters as the
gateway implements them (``gateway.report_sources``). See ``gateway/cli/plant.py`` for the
same pattern with ``pm`` and ``wo``."""

from __future__ import annotations

from gateway.report_sources import report_sources
from maintenance.cli import report as _report

report = _report.group.wired(report_sources)
