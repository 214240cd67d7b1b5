"""Labels of the dashboard in English and Chinese; ``t(key, lang)`` picks one.

A missing key is a programming error caught by the unit test that checks every key has both
languages; at run time it falls back to the key itself rather than breaking a page.
"""

from __future__ import annotations

LANGS = ("en", "zh")
DEFAULT_LANG = "en"

LABELS: dict[str, dict[str, str]] = {
    "app_title": {"en": "Facility monitoring", "zh": "设施监控中心"},
    "nav_overview": {"en": "Overview", "zh": "总览"},
    "nav_alarms": {"en": "Alarms", "zh": "报警"},
    "nav_workorders": {"en": "Work orders", "zh": "工单"},
    "nav_asset": {"en": "Asset history", "zh": "设备履历"},
    "nav_kpi": {"en": "KPIs", "zh": "指标"},
    # reports page (issue 14)
    "nav_reports": {"en": "Reports", "zh": "报表"},
    "reports_title": {"en": "Reports", "zh": "报表"},
    "reports_none": {"en": "No stored reports yet.", "zh": "暂无已生成的报表。"},
    "reports_kind": {"en": "Kind", "zh": "类型"},
    "reports_file": {"en": "Download", "zh": "下载"},
    "reports_daily": {"en": "Daily check sheet", "zh": "日检表"},
    "reports_weekly": {"en": "Weekly report", "zh": "周报"},
    "reports_monthly": {"en": "Monthly report", "zh": "月报"},
    "reports_cards": {"en": "Equipment cards", "zh": "设备卡片"},
    "reports_labels": {"en": "QR labels", "zh": "二维码标签"},
    "language": {"en": "中文", "zh": "English"},  # the toggle names the other language
    # overview
    "overview_title": {"en": "Live status", "zh": "实时状态"},
    "devices": {"en": "devices", "zh": "台设备"},
    "live_down": {
        "en": "Live data unavailable: the MQTT broker cannot be reached",
        "zh": "实时数据不可用: 无法连接MQTT消息服务器",
    },
    "live_fresh": {
        "en": "Live: connected, newest reading {age} ago",
        "zh": "实时: 已连接, 最新数据 {age} 前",
    },
    "live_old": {
        "en": "No new readings for {age} (broker connected)",
        "zh": "已 {age} 未收到新数据 (消息服务器已连接)",
    },
    "live_none": {"en": "Live: connected, no readings yet", "zh": "实时: 已连接, 尚无数据"},
    "live_services": {"en": "services not working", "zh": "服务异常"},
    "comm_stale": {"en": "stale · {age}", "zh": "数据过期 · {age}"},
    "comm_ok": {"en": "online", "zh": "在线"},
    "comm_bad": {"en": "comm lost", "zh": "通讯中断"},
    "no_data": {"en": "no data yet", "zh": "暂无数据"},
    # alarms
    "alarms_title": {"en": "Active alarms", "zh": "当前报警"},
    "no_alarms": {"en": "No alarms to show", "zh": "当前无报警"},
    "col_alarm": {"en": "Alarm", "zh": "报警"},
    "col_asset": {"en": "Asset", "zh": "设备"},
    "col_priority": {"en": "Priority", "zh": "优先级"},
    "col_state": {"en": "State", "zh": "状态"},
    "col_since": {"en": "Since", "zh": "开始时间"},
    "col_value": {"en": "Value", "zh": "数值"},
    "col_by": {"en": "By", "zh": "操作人"},
    "ack_title": {"en": "Acknowledge", "zh": "确认报警"},
    "ack_comment": {"en": "Comment", "zh": "备注"},
    "ack_button": {"en": "Acknowledge", "zh": "确认"},
    "ack_need_alarm": {"en": "Choose an alarm first", "zh": "请先选择报警"},
    "ack_done": {"en": "Acknowledged", "zh": "已确认"},
    "ack_failed": {"en": "Not acknowledged", "zh": "确认失败"},
    # work orders
    "wo_title": {"en": "Open work orders", "zh": "未完成工单"},
    "no_orders": {"en": "No open work orders", "zh": "无未完成工单"},
    "wo_due": {"en": "due", "zh": "到期"},
    # the technician's phone (issue 13)
    "wo_on_phone": {"en": "Work this order (phone)", "zh": "处理此工单 (手机)"},
    "wo_assignee": {"en": "assignee", "zh": "负责人"},
    "wo_unassigned": {"en": "unassigned", "zh": "未指派"},
    "wo_checklist": {"en": "Checklist", "zh": "检查项"},
    "wo_back": {"en": "All open orders", "zh": "返回工单列表"},
    "wo_not_found": {"en": "Work order not found", "zh": "未找到工单"},
    # asset
    "asset_title": {"en": "Asset history", "zh": "设备履历"},
    "point": {"en": "Point", "zh": "测点"},
    "range_24h": {"en": "24 h", "zh": "24小时"},
    "range_7d": {"en": "7 d", "zh": "7天"},
    "range_1y": {"en": "1 y", "zh": "1年"},
    "history_down": {
        "en": "History unavailable: InfluxDB cannot be reached",
        "zh": "历史数据不可用: 无法连接InfluxDB",
    },
    "history_empty": {"en": "No history in this range", "zh": "该时间段无历史数据"},
    "timeline_title": {"en": "Timeline", "zh": "设备履历记录"},
    "no_timeline": {"en": "Nothing recorded yet", "zh": "暂无记录"},
    "col_at": {"en": "When", "zh": "时间"},
    "col_kind": {"en": "Kind", "zh": "类别"},
    "col_ref": {"en": "Ref", "zh": "编号"},
    "col_text": {"en": "What", "zh": "内容"},
    # KPIs
    "kpi_title": {"en": "Maintenance KPIs this month", "zh": "本月维护指标"},
    "col_site": {"en": "Estate", "zh": "小区"},
    "col_period": {"en": "Period", "zh": "周期"},
    "col_pm": {"en": "PM compliance", "zh": "计划保养完成率"},
    "col_timeliness": {"en": "Repair timeliness", "zh": "维修及时率"},
    "col_mttr": {"en": "MTTR h", "zh": "平均修复时间(h)"},
    "col_mtbf": {"en": "MTBF h", "zh": "平均故障间隔(h)"},
    "col_avail": {"en": "Availability", "zh": "可用率"},
    "kpi_target": {"en": "Repair timeliness target", "zh": "维修及时率目标"},
    "below_target": {"en": "below target", "zh": "未达标"},
    "unavailable": {"en": "Unavailable", "zh": "不可用"},
}


def t(key: str, lang: str | None) -> str:
    """The label ``key`` in ``lang`` (English when the language is unknown)."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang or DEFAULT_LANG) or entry[DEFAULT_LANG]


def normalise(lang: object) -> str:
    """A language code the dashboard knows (what a browser's stored value may not be)."""
    return lang if isinstance(lang, str) and lang in LANGS else DEFAULT_LANG
