"""Every component id of the dashboard, in one place (CONVENTIONS.md rule 8).

Ids of per-device parts (tiles) are built by the functions here, never by string
concatenation in a page, so a test or the clientside script can find them the same way.
"""

from __future__ import annotations

# -- app shell --------------------------------------------------------------------------------
PAGES = ("overview", "alarms", "workorders", "asset", "kpi")  # in the order of the header
LANG = "lang"  # dcc.Store: "en" or "zh" (browser local storage)
LANG_TOGGLE = "lang-toggle"
NAV = "nav"
NAV_LINK_PREFIX = "nav-"  # + page key (see nav_link)
TITLE = "app-title"
USER_BADGE = "user-badge"  # who is signed in: display name and roles
LOGOUT_FORM = "logout-form"
LOGOUT_BUTTON = "logout-button"

# -- overview ---------------------------------------------------------------------------------
LIVE_TICK = "live-tick"  # dcc.Interval
LIVE_STORE = "live-store"  # dcc.Store: the snapshot of every tile (one output per tick)
LIVE_STATUS = "live-status"  # banner: broker connected / down, last update
LIVE_RENDERED = "live-rendered"  # written by the clientside renderer: tiles updated
TILE_GRID = "tile-grid"
SUMMARY_PREFIX = "summary-"  # + site + "-" + key (see summary_cell)

# -- alarms -----------------------------------------------------------------------------------
ALARM_TICK = "alarm-tick"
ALARM_TABLE = "alarm-table"
ALARM_BANNER = "alarm-banner"
ALARM_SELECT = "alarm-select"
ACK_COMMENT = "ack-comment"
ACK_BUTTON = "ack-button"
ACK_RESULT = "ack-result"

# -- work orders ------------------------------------------------------------------------------
WO_LIST = "wo-list"
WO_BANNER = "wo-banner"
WO_DETAIL = "wo-detail"

# -- asset ------------------------------------------------------------------------------------
ASSET_SELECT = "asset-select"
POINT_SELECT = "point-select"
RANGE_SELECT = "range-select"
HISTORY_GRAPH = "history-graph"
HISTORY_BANNER = "history-banner"
HISTORY_NOTE = "history-note"
TIMELINE = "timeline"

# -- KPIs -------------------------------------------------------------------------------------
KPI_TABLE = "kpi-table"
KPI_BANNER = "kpi-banner"


def nav_link(page: str) -> str:
    """The header link of a page (``overview``, ``alarms``, ...)."""
    return NAV_LINK_PREFIX + page


def tile(asset_no: str) -> str:
    """A device's status tile on the overview."""
    return f"tile-{asset_no}"


def tile_value(asset_no: str) -> str:
    """The key-value line of a device's tile (rewritten by the clientside renderer)."""
    return f"tile-{asset_no}-value"


def tile_comm(asset_no: str) -> str:
    """The communication-state line of a device's tile."""
    return f"tile-{asset_no}-comm"


def tile_age(asset_no: str) -> str:
    """How old a device's newest reading is (rewritten by the clientside renderer)."""
    return f"tile-{asset_no}-age"


def summary_cell(site: str, key: str) -> str:
    """One figure of an estate's summary on the overview (``critical``, ``stale``, ...)."""
    return f"{SUMMARY_PREFIX}{site}-{key}"
