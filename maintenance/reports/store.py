"""Generated reports kept on disk: ``<var_dir>/reports/<site>/<kind>/<period>.<lang>.<fmt>``.

The folder tree is the index: ``stored(var_dir)`` lists what is there (site, kind, period,
language, format, size, time written), newest period first — what the dashboard's Reports page
and ``facility report list`` show. A file is written to a temporary name and renamed, so a
reader never sees half a report, and writing the same report again replaces it (a scheduled
run that is repeated is harmless).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maintenance.reports.periods import KINDS

NAME = re.compile(r"^(?P<period>[0-9W-]+)\.(?P<lang>zh|en)\.(?P<fmt>pdf|xlsx)$")
KIND_FOLDERS = (*KINDS, "cards", "labels")


@dataclass(frozen=True)
class StoredReport:
    site: str  # a site code, or ALL
    kind: str
    period: str
    lang: str
    fmt: str
    path: Path
    size: int
    written: datetime


def reports_dir(var_dir: Path) -> Path:
    return var_dir / "reports"


def report_path(var_dir: Path, site: str, kind: str, period: str, lang: str, fmt: str) -> Path:
    return reports_dir(var_dir) / site.upper() / kind / f"{period}.{lang}.{fmt}"


def save(
    var_dir: Path, site: str, kind: str, period: str, lang: str, fmt: str, data: bytes
) -> Path:
    """Write a report atomically; returns its path."""
    path = report_path(var_dir, site, kind, period, lang, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def stored(
    var_dir: Path, *, site: str | None = None, kind: str | None = None
) -> list[StoredReport]:
    """The reports on disk, newest period first (then site, kind, language, format)."""
    root = reports_dir(var_dir)
    found: list[StoredReport] = []
    if not root.is_dir():
        return found
    for site_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if site and site_dir.name != site.upper():
            continue
        for kind_dir in sorted(p for p in site_dir.iterdir() if p.is_dir()):
            if kind and kind_dir.name != kind:
                continue
            for path in kind_dir.iterdir():
                match = NAME.match(path.name)
                if not match or not path.is_file():
                    continue
                stat = path.stat()
                found.append(
                    StoredReport(
                        site_dir.name,
                        kind_dir.name,
                        match["period"],
                        match["lang"],
                        match["fmt"],
                        path,
                        stat.st_size,
                        datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
    found.sort(key=lambda r: (r.site, r.kind, r.lang, r.fmt))
    found.sort(key=lambda r: r.period, reverse=True)
    return found
