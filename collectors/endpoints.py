"""Endpoint overrides: where a simulator (or a test) really bound an asset's endpoint.

The ledger says where each device lives; a simulator started with ephemeral ports writes an
endpoint table (``var/sim/endpoints.json``) saying where it actually answers. Collectors
started with ``--endpoints FILE`` use that table over the ledger's endpoints (pure).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from facility.errors import ConfigError
from facility.types import Asset, ModbusEndpoint, OpcuaEndpoint


def read_endpoint_table(path: Path) -> dict[str, Mapping[str, Any]]:
    """asset_no -> endpoint entry, from an endpoint-table JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["endpoints"]
        return {str(e["asset_no"]): e for e in entries}
    except FileNotFoundError:
        raise ConfigError(f"{path}: endpoint table not found (is the simulator running?)") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f'{path}: not an endpoint table ({exc}); expected {{"endpoints": [{{asset_no, ...}}]}}'
        ) from None


def apply_endpoint_table(
    assets: Iterable[Asset], table: Mapping[str, Mapping[str, Any]]
) -> list[Asset]:
    """Assets with their endpoints replaced by the table's entries (others unchanged)."""
    result = []
    for asset in assets:
        entry = table.get(asset.asset_no)
        if entry is None:
            result.append(asset)
            continue
        endpoint: ModbusEndpoint | OpcuaEndpoint
        if entry.get("protocol") == "modbus":
            endpoint = ModbusEndpoint(str(entry["host"]), int(entry["port"]), int(entry["unit_id"]))
        else:
            endpoint = OpcuaEndpoint(str(entry["url"]), str(entry["node_root"]))
        result.append(dataclasses.replace(asset, endpoint=endpoint))
    return result
