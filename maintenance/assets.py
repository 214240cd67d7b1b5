"""The monitored assets a command works on: from ledger files, the database or the demo ledgers.

The collect, sim, gateway and alarms commands read the asset register through this one
function (docs/decisions/004-layers.md: the commands of collectors and simulators may import
it); the alarm engine re-reads the statuses with ``asset_statuses``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from facility.config import Settings
from facility.errors import ConfigError
from facility.redact import redact_url
from facility.types import Asset, AssetStatus


def load_assets(
    settings: Settings, ledgers: Sequence[Path], from_db: bool, sites: Sequence[str]
) -> list[Asset]:
    """Monitored assets from ledger files, the database or the demo ledgers, by site."""
    from maintenance import ledger_files

    if from_db and ledgers:
        raise ConfigError("--from-db and --ledger: expected one source of assets, not both")
    if from_db:
        from maintenance.store import LedgerStore

        with LedgerStore(settings.database_url) as store:
            assets = list(store.assets(monitored_only=True))
        source = f"the database ({redact_url(settings.database_url)})"
    else:
        paths = list(ledgers) or ledger_files.demo_ledger_paths()
        assets = [a for path in paths for a in ledger_files.read_ledger_file(path)]
        source = ", ".join(str(p) for p in paths)
    assets = [a for a in assets if a.monitored]
    if sites:
        wanted = {s.upper() for s in sites}
        known = sorted({a.site for a in assets})
        unknown = sorted(wanted - set(known))
        if unknown:
            raise ConfigError(
                f"--site {', '.join(unknown)}: no monitored assets there in {source}; "
                f"expected one of: {', '.join(known) or '(none)'}"
            )
        assets = [a for a in assets if a.site in wanted]
    if not assets:
        hint = (
            " (import a ledger first: facility ledger import FILE, or pass --ledger FILE)"
            if from_db
            else ""
        )
        raise ConfigError(f"no monitored assets in {source}{hint}")
    return assets


def asset_statuses(database_url: str) -> dict[str, AssetStatus]:
    """The current status of every asset in the database's ledger, by asset number."""
    from maintenance.store import LedgerStore

    with LedgerStore(database_url, migrate=False) as ledger:
        return {a.asset_no: a.status for a in ledger.assets()}
