"""Manager reports: the daily check sheet (日检), weekly (周报) and monthly (月报) reports.

periods.py    parse ``2026-11`` / ``2026-W48`` / ``2026-11-26``; the last 12 periods
sources.py    what reports read from the plant (alarms, meters): protocols, implemented
              one floor up in ``gateway.report_sources`` (docs/decisions/004)
queries.py    the work-order and ledger records, read from SQL for exactly a range
model.py      the report as plain data, in no language
assemble.py   pure: records and figures -> the report model, with "needs attention"
text.py       labels in zh-CN and en
pdf.py        reportlab: tables and native charts
xlsx.py       openpyxl: one sheet per section, numbers as numbers
build.py      the thin shell: read, assemble, render
"""
