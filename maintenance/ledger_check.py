"""Checking a ledger sheet: its cells, its rows and the rows against each other. Pure, no I/O.

``validate_sheet`` turns a ``LedgerSheet`` (``maintenance.ledger``) into ``Asset`` objects or
raises ``LedgerError`` listing every problem at once, each located as the user sees it
(header = row 1).

Rules decided here (docs/ledger.md explains them to users):

- ``asset_no`` is canonical ``<SITE>-<CLASS>-<NNN>``; its site and class match the columns.
- Modbus endpoints need host, port 1..65535 and unit id 1..247. Unit id 255 is accepted only
  for a device addressed directly (no other asset on that host:port), as the Modbus TCP spec
  recommends; 0 is broadcast (never answers a read) and 248..254 are reserved: refused.
- OPC UA endpoints need an ``opc.tcp://host:port[/path]`` URL and a node root.
- An asset with an endpoint is monitored and needs a profile of its class and protocol.
- Two assets that are not retired cannot share an endpoint.
- A retired asset stays retired (``maintenance.ledger.check_status_change``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from urllib.parse import urlsplit

from facility.errors import ConfigError, Issue, LedgerError
from facility.types import (
    DEVICE_CLASS_SYSTEM,
    SITE_CODE_RE,
    Asset,
    AssetNo,
    AssetStatus,
    Criticality,
    DeviceClass,
    Endpoint,
    ModbusEndpoint,
    OpcuaEndpoint,
)
from maintenance.ledger import (
    COLUMNS,
    LedgerContext,
    LedgerRow,
    LedgerSheet,
    protocol_of,
)

# Longest text each column may hold (the SQL schema uses the same lengths, so PostgreSQL
# never refuses what validation accepted).
MAX_LENGTH: dict[str, int] = {
    "asset_no": 32,
    "name_en": 200,
    "name_zh": 200,
    "site": 8,
    "building": 100,
    "zone": 100,
    "system": 50,
    "profile": 64,
    "make": 100,
    "model": 100,
    "serial": 100,
    "host": 253,
    "opcua_url": 300,
    "node_root": 200,
}

MODBUS_UNIT_IDS = range(1, 248)
MODBUS_DIRECT_UNIT_ID = 255

_STATUS_ALIASES: dict[str, AssetStatus] = {
    "in_service": AssetStatus.IN_SERVICE,
    "active": AssetStatus.IN_SERVICE,
    "在用": AssetStatus.IN_SERVICE,
    "运行": AssetStatus.IN_SERVICE,
    "out_of_service": AssetStatus.OUT_OF_SERVICE,
    "停用": AssetStatus.OUT_OF_SERVICE,
    "停运": AssetStatus.OUT_OF_SERVICE,
    "retired": AssetStatus.RETIRED,
    "报废": AssetStatus.RETIRED,
}
_CRITICALITY_ALIASES: dict[str, Criticality] = {
    "high": Criticality.HIGH,
    "高": Criticality.HIGH,
    "medium": Criticality.MEDIUM,
    "中": Criticality.MEDIUM,
    "low": Criticality.LOW,
    "低": Criticality.LOW,
}
_HOST_RE = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")


# --- cells ---------------------------------------------------------------------------------


def _normalise_word(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def parse_status(text: str) -> AssetStatus:
    """``in_service``/``out_of_service``/``retired``, any case; 在用/停用/报废 too."""
    found = _STATUS_ALIASES.get(_normalise_word(text))
    if found is None:
        raise ValueError(f"expected one of {', '.join(s.value for s in AssetStatus)}, got {text!r}")
    return found


def parse_criticality(text: str) -> Criticality:
    """``high``/``medium``/``low`` (any case; 高/中/低)."""
    found = _CRITICALITY_ALIASES.get(_normalise_word(text))
    if found is None:
        raise ValueError(f"expected one of {', '.join(c.value for c in Criticality)}, got {text!r}")
    return found


def parse_date(text: str) -> date:
    """A calendar date written ``YYYY-MM-DD``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a calendar date") from None


def parse_int(text: str, low: int, high: int) -> int:
    """A whole number in ``low..high`` (``"15021.0"`` from a spreadsheet is accepted)."""
    cleaned = text[:-2] if text.endswith(".0") else text
    if not re.fullmatch(r"[+-]?\d+", cleaned):
        raise ValueError(f"expected a whole number {low}..{high}, got {text!r}")
    value = int(cleaned)
    if not low <= value <= high:
        raise ValueError(f"expected {low}..{high}, got {value}")
    return value


def parse_asset_no(text: str) -> AssetNo:
    """A canonical asset number; the error suggests the canonical spelling when there is one."""
    try:
        number = AssetNo.parse(text.upper())
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("asset number ")) from None
    if number.seq < 1:
        raise ValueError(f"{text!r}: the sequence number starts at 001")
    if str(number) != text:
        raise ValueError(f"{text!r}: write it as {number}")
    return number


def opcua_url_problem(url: str) -> str | None:
    """Why ``url`` is not an ``opc.tcp://host:port[/path]`` endpoint, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"expected opc.tcp://host:port[/path], got {url!r}"
    if parts.scheme != "opc.tcp" or not parts.hostname or port is None:
        return f"expected opc.tcp://host:port[/path], got {url!r}"
    if not 1 <= port <= 65535:
        return f"port {port} is not 1..65535"
    return None


# --- rows ----------------------------------------------------------------------------------


def check_header(sheet: LedgerSheet) -> list[Issue]:
    """Every column present once; nothing unknown (a misspelt column would be lost)."""
    issues = []
    seen: set[str] = set()
    for name in sheet.header:
        if name in seen:
            issues.append(Issue(sheet.source, sheet.header_row, name, "column appears twice"))
        elif name not in COLUMNS and name:
            issues.append(
                Issue(
                    sheet.source,
                    sheet.header_row,
                    name,
                    f"unknown column (expected: {', '.join(COLUMNS)})",
                )
            )
        seen.add(name)
    missing = [c for c in COLUMNS if c not in seen]
    if missing:
        issues.append(
            Issue(
                sheet.source,
                sheet.header_row,
                "header",
                f"missing column(s) {', '.join(missing)} "
                f"(expected, in order: {', '.join(COLUMNS)})",
            )
        )
    return issues


class _RowChecker:
    """Collects the issues of one row while building its Asset."""

    def __init__(self, source: str, row: LedgerRow) -> None:
        self.source = source
        self.row = row
        self.issues: list[Issue] = []

    def add(self, column: str, message: str) -> None:
        self.issues.append(Issue(self.source, self.row.row, column, message))

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.row.values.get(column, "").strip()
        if required and not value:
            self.add(column, "required, but empty")
        limit = MAX_LENGTH.get(column)
        if limit is not None and len(value) > limit:
            self.add(column, f"at most {limit} characters, got {len(value)}")
        return value

    def must_be_empty(self, columns: Iterable[str], why: str) -> None:
        for column in columns:
            if self.row.values.get(column, "").strip():
                self.add(column, f"must be empty {why}")


def parse_row(source: str, row: LedgerRow, ctx: LedgerContext) -> tuple[Asset | None, list[Issue]]:
    """Validate one row on its own (cross-row rules are in ``validate_sheet``)."""
    check = _RowChecker(source, row)
    asset_no_text = check.text("asset_no", required=True)
    site = check.text("site", required=True).upper()
    class_text = check.text("device_class", required=True).upper()
    name_en = check.text("name_en")
    name_zh = check.text("name_zh")
    if not name_en and not name_zh:
        check.add("name_en", "a name is required (name_en, name_zh or both)")

    number: AssetNo | None = None
    if asset_no_text:
        try:
            number = parse_asset_no(asset_no_text)
        except ValueError as exc:
            check.add("asset_no", str(exc))

    if site and not SITE_CODE_RE.match(site):
        check.add("site", f"expected a site code of 2-4 capital letters, got {site!r}")
    elif site and ctx.sites is not None and site not in ctx.sites:
        known = ", ".join(sorted(ctx.sites)) or "none yet: run `facility ledger init`"
        check.add("site", f"unknown site {site!r} (known: {known})")
    elif site and number is not None and number.site != site:
        check.add("site", f"asset number {number} belongs to site {number.site}, not {site}")

    device_class: DeviceClass | None = None
    if class_text:
        try:
            device_class = DeviceClass(class_text)
        except ValueError:
            known = ", ".join(c.value for c in DeviceClass)
            check.add("device_class", f"unknown class {class_text!r} (known: {known})")
    if device_class is not None and number is not None and number.device_class is not device_class:
        check.add(
            "device_class",
            f"asset number {number} is a {number.device_class.value}, not {device_class.value}",
        )

    criticality: Criticality | None = None
    criticality_text = check.text("criticality", required=True)
    if criticality_text:
        try:
            criticality = parse_criticality(criticality_text)
        except ValueError as exc:
            check.add("criticality", str(exc))
    status: AssetStatus | None = None
    status_text = check.text("status", required=True)
    if status_text:
        try:
            status = parse_status(status_text)
        except ValueError as exc:
            check.add("status", str(exc))

    install_date: date | None = None
    date_text = check.text("install_date")
    if date_text:
        try:
            install_date = parse_date(date_text)
        except ValueError as exc:
            check.add("install_date", str(exc))

    endpoint = _parse_endpoint(check)
    profile = check.text("profile") or None
    if profile is not None:
        ref = ctx.profiles.get(profile)
        if ref is None:
            known = ", ".join(sorted(ctx.profiles)) or "none"
            check.add("profile", f"unknown profile {profile!r} (known: {known})")
        else:
            if device_class is not None and ref.device_class is not device_class:
                check.add(
                    "profile",
                    f"profile {profile} is for {ref.device_class.value} devices, "
                    f"not {device_class.value}",
                )
            if endpoint is not None and protocol_of(endpoint) != ref.protocol:
                check.add(
                    "protocol",
                    f"profile {profile} speaks {ref.protocol}, not {protocol_of(endpoint)}",
                )
    elif endpoint is not None:
        check.add("profile", "an asset with an endpoint is monitored and needs a profile")

    parent = check.text("parent_asset_no") or None
    if parent is not None:
        try:
            parent_number = parse_asset_no(parent)
        except ValueError as exc:
            check.add("parent_asset_no", str(exc))
        else:
            if parent == asset_no_text:
                check.add("parent_asset_no", "an asset cannot be its own parent")
            elif site and parent_number.site != site:
                check.add("parent_asset_no", f"parent {parent} is at another site than {site}")

    system = check.text("system")
    building = check.text("building")
    zone = check.text("zone")
    make = check.text("make")
    model = check.text("model")
    serial = check.text("serial")

    if check.issues or number is None or device_class is None:
        return None, check.issues
    assert criticality is not None
    assert status is not None
    asset = Asset(
        asset_no=str(number),
        site=site,
        device_class=device_class,
        name_en=name_en,
        name_zh=name_zh,
        building=building,
        zone=zone,
        system=system or DEVICE_CLASS_SYSTEM[device_class],
        profile=profile,
        make=make,
        model=model,
        serial=serial,
        install_date=install_date,
        criticality=criticality,
        status=status,
        endpoint=endpoint,
        parent_asset_no=parent,
    )
    return asset, []


def _parse_endpoint(check: _RowChecker) -> Endpoint | None:
    protocol = check.text("protocol").lower()
    modbus_columns = ("host", "port", "unit_id")
    opcua_columns = ("opcua_url", "node_root")
    if not protocol:
        check.must_be_empty((*modbus_columns, *opcua_columns), "when protocol is empty")
        return None
    if protocol == "modbus":
        check.must_be_empty(opcua_columns, "for a modbus endpoint")
        host = check.text("host", required=True)
        if host and not _HOST_RE.match(host):
            check.add("host", f"expected a host name or IP address, got {host!r}")
        port = unit_id = None
        port_text = check.text("port", required=True)
        if port_text:
            try:
                port = parse_int(port_text, 1, 65535)
            except ValueError as exc:
                check.add("port", str(exc))
        unit_text = check.text("unit_id", required=True)
        if unit_text:
            expected = "expected 1..247 (or 255 for a device addressed directly)"
            try:
                unit_id = parse_int(unit_text, 0, 2**31 - 1)
            except ValueError:
                check.add("unit_id", f"{expected}, got {unit_text!r}")
            else:
                if unit_id not in MODBUS_UNIT_IDS and unit_id != MODBUS_DIRECT_UNIT_ID:
                    broadcast = ": 0 is broadcast, devices never answer it" if unit_id == 0 else ""
                    check.add("unit_id", f"{expected}, got {unit_id}{broadcast}")
                    unit_id = None
        if host and port is not None and unit_id is not None:
            return ModbusEndpoint(host, port, unit_id)
        return None
    if protocol == "opcua":
        check.must_be_empty(modbus_columns, "for an opcua endpoint")
        url = check.text("opcua_url", required=True)
        problem = opcua_url_problem(url) if url else None
        if problem:
            check.add("opcua_url", problem)
        node_root = check.text("node_root", required=True)
        if "/" in node_root:
            check.add("node_root", f"a browse name without '/', got {node_root!r}")
        if url and not problem and node_root and "/" not in node_root:
            return OpcuaEndpoint(url, node_root)
        return None
    check.add("protocol", f"expected modbus, opcua or empty (not monitored), got {protocol!r}")
    return None


def _endpoint_key(endpoint: Endpoint) -> tuple[str, ...]:
    if isinstance(endpoint, ModbusEndpoint):
        return ("modbus", endpoint.host.lower(), str(endpoint.port), str(endpoint.unit_id))
    return ("opcua", endpoint.url, endpoint.node_root)


def validate_sheet(sheet: LedgerSheet, ctx: LedgerContext) -> list[tuple[int, Asset]]:
    """Every row as an Asset with its row number, or LedgerError listing every problem."""
    issues = check_header(sheet)
    if issues:
        raise LedgerError(issues)
    if not sheet.rows:
        raise LedgerError([Issue(sheet.source, sheet.header_row, "", "no data rows")])
    parsed: list[tuple[int, Asset]] = []
    first_row: dict[str, int] = {}
    for row in sheet.rows:
        asset, row_issues = parse_row(sheet.source, row, ctx)
        issues.extend(row_issues)
        asset_no = row.values.get("asset_no", "").strip()
        if asset_no in first_row:
            issues.append(
                Issue(
                    sheet.source,
                    row.row,
                    "asset_no",
                    f"{asset_no} already appears in row {first_row[asset_no]}",
                )
            )
            continue
        if asset_no:
            first_row[asset_no] = row.row
        if asset is not None:
            parsed.append((row.row, asset))
    issues.extend(_cross_checks(sheet.source, parsed, ctx))
    if issues:
        raise LedgerError(sorted(issues, key=lambda i: (i.line or 0, _column_index(i.field))))
    return parsed


def _column_index(column: str) -> int:
    return COLUMNS.index(column) if column in COLUMNS else len(COLUMNS)


def _cross_checks(
    source: str, parsed: Sequence[tuple[int, Asset]], ctx: LedgerContext
) -> list[Issue]:
    """Rules that look at the whole ledger: retired numbers, parents, shared endpoints."""
    issues: list[Issue] = []
    rows = {asset.asset_no: row for row, asset in parsed}
    merged: dict[str, Asset] = dict(ctx.existing)
    merged.update({asset.asset_no: asset for _, asset in parsed})

    for row, asset in parsed:
        stored = ctx.existing.get(asset.asset_no)
        if (
            stored is not None
            and stored.status is AssetStatus.RETIRED
            and asset.status is not AssetStatus.RETIRED
        ):
            issues.append(
                Issue(
                    source,
                    row,
                    "status",
                    f"{asset.asset_no} is retired and its number is never reused; "
                    "allocate a new one with `facility ledger number`",
                )
            )
        if asset.parent_asset_no is not None and asset.parent_asset_no not in merged:
            issues.append(
                Issue(
                    source,
                    row,
                    "parent_asset_no",
                    f"{asset.parent_asset_no} is neither in this file nor in the ledger",
                )
            )
    issues.extend(_parent_cycles(source, rows, merged))

    owners: dict[tuple[str, ...], list[str]] = {}
    for asset in merged.values():
        if asset.endpoint is not None and asset.status is not AssetStatus.RETIRED:
            owners.setdefault(_endpoint_key(asset.endpoint), []).append(asset.asset_no)
    modbus_sockets: dict[tuple[str, int], int] = {}
    for asset in merged.values():
        endpoint = asset.endpoint
        if isinstance(endpoint, ModbusEndpoint) and asset.status is not AssetStatus.RETIRED:
            socket = (endpoint.host.lower(), endpoint.port)
            modbus_sockets[socket] = modbus_sockets.get(socket, 0) + 1
    for row, asset in parsed:
        endpoint = asset.endpoint
        if endpoint is None or asset.status is AssetStatus.RETIRED:
            continue
        sharing = sorted(n for n in owners[_endpoint_key(endpoint)] if n != asset.asset_no)
        if sharing:
            column = "unit_id" if isinstance(endpoint, ModbusEndpoint) else "node_root"
            issues.append(
                Issue(source, row, column, f"endpoint {endpoint} is also {', '.join(sharing)}")
            )
        if (
            isinstance(endpoint, ModbusEndpoint)
            and endpoint.unit_id == MODBUS_DIRECT_UNIT_ID
            and modbus_sockets[(endpoint.host.lower(), endpoint.port)] > 1
        ):
            issues.append(
                Issue(
                    source,
                    row,
                    "unit_id",
                    f"255 addresses a device directly, but {endpoint.host}:{endpoint.port} is a "
                    "gateway shared with other assets: give each its unit id 1..247",
                )
            )
    return issues


def _parent_cycles(
    source: str, rows: Mapping[str, int], merged: Mapping[str, Asset]
) -> list[Issue]:
    issues = []
    for asset_no, row in rows.items():
        seen = [asset_no]
        current = merged[asset_no].parent_asset_no
        while current is not None and current in merged:
            if current == asset_no:
                chain = " → ".join([*seen, asset_no])
                issues.append(Issue(source, row, "parent_asset_no", f"parent cycle: {chain}"))
                break
            if current in seen:
                break  # a cycle further up: reported on its own rows
            seen.append(current)
            current = merged[current].parent_asset_no
    return issues
