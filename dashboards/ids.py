"""Every component id of the dashboard, in one place (CONVENTIONS.md rule 8).

Ids of per-device parts (tiles) are built by the functions here, never by string
concatenation in a page, so a test or the clientside script can find them the same way.
"""

from __future__ import annotations

# -- app shell --------------------------------------------------------------------------------
PAGES = (
    "overview",
    "alarms",
    "workorders",
    "asset",
    "kpi",
    "reports",
)  # in the order of the header
LANG = "lang"  # dcc.Store: "en" or "zh" (browser local storage)
LANG_TOGGLE = "lang-toggle"
NAV = "nav"
HEADER = "app-header"
MENU_BUTTON = "menu-toggle"  # on a phone: opens and closes the navigation (and user, language)
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
TILE_META = "tile-meta"  # dcc.Store: each tile's fixed parts (asset, class, name, grid)
SUMMARY_PREFIX = "summary-"  # + site + "-" + key (see summary_cell)
PLAN_META = "plan-meta"  # dcc.Store: each estate's pins (asset, left %, top %, name)
PLAN_RENDERED = "plan-rendered"  # written by the clientside pin renderer: pins updated

# -- alarms -----------------------------------------------------------------------------------
ALARM_TICK = "alarm-tick"
ALARM_TABLE = "alarm-table"  # the console's table (its body is CONSOLE_BODY)
ALARM_BANNER = "alarm-banner"
CONSOLE_STORE = "console-store"  # dcc.Store: every row of the console (one output per change)
CONSOLE_VERSION = "console-version"  # dcc.Store: a digest of the rows the browser has
CONSOLE_SELECTED = "console-selected"  # dcc.Store: the alarm ids ticked (set by the browser)
CONSOLE_RENDERED = "console-rendered"  # written by the clientside renderer: rows shown
CONSOLE_BODY = "console-body"  # <tbody> patched in place by assets/facility.js
CONSOLE_VIEW = "console-view"  # standing / shelved / journal
CONSOLE_SEARCH = "console-search"
CONSOLE_COUNT = "console-count"  # "n selected"
SELECT_ALL = "console-select-all"
FILTER_SITE = "filter-site"
FILTER_SYSTEM = "filter-system"
FILTER_PRIORITY = "filter-priority"
FILTER_STATE = "filter-state"
SORT_SELECT = "sort-select"
ACK_COMMENT = "ack-comment"
ACK_BUTTON = "ack-button"
ACK_RESULT = "ack-result"
SHELVE_FOR = "shelve-for"
SHELVE_REASON = "shelve-reason"
SHELVE_BUTTON = "shelve-button"
UNSHELVE_BUTTON = "unshelve-button"
SHELVE_RESULT = "shelve-result"
RESET_BUTTON = "reset-button"
RESET_RESULT = "reset-result"
OOS_BUTTON = "oos-button"
RTS_BUTTON = "rts-button"
SERVICE_RESULT = "service-result"
JOURNAL_PANEL = "journal-panel"
JOURNAL_SEARCH = "journal-search"
JOURNAL_TABLE = "journal-table"
JOURNAL_EXPORT = "journal-export"
JOURNAL_DOWNLOAD = "journal-download"
CONSOLE_PANEL = "console-panel"

# -- header: the alarm counter on every page and the tone for new critical alarms ----------
ALARM_COUNTER = "alarm-counter"
COUNTER_PREFIX = "counter-"  # + priority
COUNTER_STORE = "counter-store"
COUNTER_TICK = "counter-tick"
COUNTER_RENDERED = "counter-rendered"
TONE_SILENCE = "tone-silence"

# -- work orders ------------------------------------------------------------------------------
WO_LIST = "wo-list"
WO_BANNER = "wo-banner"
WO_DETAIL = "wo-detail"
WO_FILTERS = "wo-filters"  # the open orders' counts, each a filter link
WO_PHONE_LINK = "wo-phone-link"  # work the order on the phone page (/m/order/<number>)

# -- asset ------------------------------------------------------------------------------------
ASSET_SELECT = "asset-select"
POINT_SELECT = "point-select"
RANGE_SELECT = "range-select"
HISTORY_GRAPH = "history-graph"
HISTORY_BANNER = "history-banner"
HISTORY_NOTE = "history-note"
TIMELINE = "timeline"
TREND_LIVE = "trend-live"  # dcc.Checklist: the live tail on or off
TREND_TICK = "trend-tick"  # dcc.Interval of the live tail (disabled while it is off)
TREND_TAIL = "trend-tail"  # dcc.Store: the chosen points' newest live readings
TREND_RENDERED = "trend-rendered"  # written by the clientside tail: points appended
ASSET_RECORD = "asset-record"  # the ledger record card
ASSET_LIVE = "asset-live"  # the live values table (its cells patched in place)
ASSET_LIVE_TICK = "asset-live-tick"  # dcc.Interval of the live values (1 s)
ASSET_LIVE_STORE = "asset-live-store"  # dcc.Store: each point's cells of one tick
ASSET_LIVE_RENDERED = "asset-live-rendered"  # written by the clientside renderer: cells set
ASSET_ORDERS = "asset-orders"  # the asset's open work orders
ASSET_QR = "asset-qr"  # the QR label: the code (data-qr-text: what it holds) and the number
ASSET_LABEL_LINK = "asset-label-link"  # the printable label (PDF)

# -- KPIs -------------------------------------------------------------------------------------
KPI_TABLE = "kpi-table"
REPORTS_TABLE = "reports-table"
KPI_BANNER = "kpi-banner"


def wo_filter(key: str, value: str) -> str:
    """The work-order list's filter link ``key=value`` (``priority``/``critical``, ...)."""
    return f"wo-filter-{key}-{value}"


def wo_page(part: str, where: str) -> str:
    """The work-order list's pager, ``part`` ``prev``/``range``/``next``, above the cards
    (``where="top"``) or below them (``"bottom"``)."""
    return f"wo-page-{part}-{where}"


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


def console_row(alarm_id: str) -> str:
    """The console's row of an alarm (written by the clientside renderer)."""
    return f"alarm-row-{alarm_id}"


def counter(priority: str) -> str:
    """The header's count of standing alarms of one priority."""
    return COUNTER_PREFIX + priority


def site_tiles(site: str) -> str:
    """An estate's tiles (every system group): hidden while its plan is shown."""
    return f"site-tiles-{site}"


def site_plan(site: str) -> str:
    """An estate's site plan: the drawing and its pins (hidden while the tiles are shown)."""
    return f"site-plan-{site}"


def plan_pins(site: str) -> str:
    """The layer over an estate's drawing that holds its pins (made by the renderer)."""
    return f"plan-pins-{site}"


def plan_toggle(site: str, view: str) -> str:
    """The button that shows an estate's ``tiles`` or ``plan``."""
    return f"view-{view}-{site}"


def pin(asset_no: str) -> str:
    """A device's pin on its estate's plan (a link to the asset page)."""
    return f"pin-{asset_no}"


def tile_group(site: str, system: str) -> str:
    """The grid of one system's tiles of one estate (filled by the clientside renderer)."""
    return f"tiles-{site}-{system}"


def asset_live_cell(point: str, field: str) -> str:
    """One cell (``value``, ``quality``, ``age``) of a point's row in the asset page's live
    table; the row itself is ``asset_live_cell(point, "row")`` (assets/asset_live.js builds
    the same ids)."""
    return f"asset-live-{point}-{field}"
