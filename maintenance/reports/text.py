"""Report labels in English and Chinese (zh-CN), and how numbers are written.

One table, ``LABELS``: key -> (en, zh). A missing key is a bug, found by the renderers'
tests in both languages. Figures are written the same way in both (``97.9 %``, ``12.5 h``);
nothing is shown as 0 that was not measured (``-``).
"""

from __future__ import annotations

from typing import Literal

from maintenance.kpi import Ratio

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

LABELS: dict[str, tuple[str, str]] = {
    "monthly": ("Monthly report", "月报"),
    "weekly": ("Weekly report", "周报"),
    "daily": ("Daily check sheet", "日检表"),
    "company": ("All estates", "全公司"),
    "period": ("Period", "报告期"),
    "generated": ("Generated", "生成时间"),
    "timezone": ("Time zone", "时区"),
    "no_data": (
        "No data recorded for this period: no work orders, PM occurrences, alarms or meter "
        "readings.",
        "本报告期无数据：无工单、无预防性维护任务、无报警、无仪表读数。",
    ),
    "summary": ("Summary", "概要"),
    "figure": ("Figure", "指标"),
    "value": ("Value", "数值"),
    "target": ("Target", "目标"),
    "assets": ("Assets in service", "在用设备"),
    "availability": ("Availability", "设备完好率"),
    "downtime": ("Downtime (h)", "停机时间 (h)"),
    "pm_compliance": ("PM compliance", "预防性维护完成率"),
    "timeliness": ("Repair timeliness", "维修及时率"),
    "response": ("Response within SLA", "响应及时率"),
    "mttr": ("MTTR (h)", "平均修复时间 MTTR (h)"),
    "mttr_no_hold": ("MTTR without hold (h)", "平均修复时间(扣除挂起) (h)"),
    "mtbf": ("MTBF, calendar (h)", "平均故障间隔 MTBF 日历 (h)"),
    "mtbf_run": ("MTBF on run hours (h)", "平均故障间隔 MTBF 运行小时 (h)"),
    "failures": ("Failures (corrective orders)", "故障 (维修工单)"),
    "attention": ("Needs attention", "需关注事项"),
    "nothing_attention": ("Nothing below target.", "各项指标均达标。"),
    "estates": ("Estates", "各小区"),
    "estate": ("Estate", "小区"),
    "classes": ("Availability per class", "各类设备完好率"),
    "class": ("Class", "设备类别"),
    "alarms": ("Alarms", "报警"),
    "no_alarm_data": ("No alarm data source.", "无报警数据源。"),
    "alarm_count": ("Alarms (annunciated)", "报警次数"),
    "per_hour": ("Alarms per hour", "每小时报警数"),
    "per_10min": ("Alarms per 10 min", "每10分钟报警数"),
    "peak_10min": ("Peak alarms in 10 min", "10分钟内最多报警数"),
    "pct_10min_over": ("10-min periods with > 10 alarms", "超过10次/10分钟的时段占比"),
    "pct_flood": ("Time in flood", "报警泛滥时间占比"),
    "standing": ("Standing alarms (> 24 h)", "长期报警 (> 24 h)"),
    "shelved": ("Shelved (actions)", "搁置操作"),
    "shelved_now": ("Shelved at the end", "期末仍搁置"),
    "chattering": ("Chattering alarms", "振荡报警"),
    "fleeting": ("Fleeting alarms", "瞬时报警"),
    "ack_median": ("Median time to acknowledge (s)", "确认时间中位数 (s)"),
    "top10": ("Top 10 bad actors", "前10名频发报警"),
    "alarm_id": ("Alarm", "报警"),
    "count": ("Count", "次数"),
    "share": ("Share", "占比"),
    "work_orders": ("Work orders", "工单"),
    "created": ("Created", "新建"),
    "created_corrective": ("Created, corrective", "新建 维修"),
    "created_preventive": ("Created, preventive", "新建 预防性维护"),
    "done": ("Done", "完成"),
    "open_at_end": ("Open at the end", "期末未完成"),
    "overdue": ("Overdue", "逾期"),
    "backlog": ("Backlog (h)", "积压工时 (h)"),
    "down_at_end": ("Keeping an asset down", "设备停机中的工单"),
    "by_priority": ("Repair timeliness per priority", "各优先级维修及时率"),
    "priority": ("Priority", "优先级"),
    "decided": ("On time / decided", "及时 / 已判定"),
    "meets": ("Meets target", "是否达标"),
    "yes": ("yes", "是"),
    "no": ("NO", "否"),
    "meters": ("Energy and water", "能耗与用水"),
    "no_meter_data": ("No meter data.", "无仪表数据。"),
    "alarms_unavailable": (
        "Alarm source unavailable: the alarm journal could not be read when the report was "
        "made. These are not zero alarms.",
        "报警数据源不可用：生成报告时无法读取报警记录，并非零报警。",
    ),
    "meters_unavailable": (
        "Meter source unavailable: InfluxDB could not be read when the report was made. "
        "This is not zero use.",
        "仪表数据源不可用：生成报告时无法读取 InfluxDB，并非零用量。",
    ),
    "energy": ("Energy (kWh)", "电能 (kWh)"),
    "water": ("Water into tanks (m³)", "水箱进水量 (m³)"),
    "run_hours": ("Pump run hours (h)", "水泵运行时间 (h)"),
    "counters": ("Counters with data", "有数据的计量表"),
    "trend": ("Trend, last 12 periods", "近12期趋势"),
    "trend_pct": (
        "Availability, PM compliance, repair timeliness (%)",
        "完好率、预防性维护完成率、维修及时率 (%)",
    ),
    "trend_orders": ("Work orders created / done", "工单 新建 / 完成"),
    "trend_alarms": ("Alarms", "报警次数"),
    "trend_energy": ("Energy (kWh)", "电能 (kWh)"),
    "page": ("Page", "页"),
    # the daily check sheet
    "checker": ("Checked by (signature)", "检查人 (签名)"),
    "reviewed": ("Reviewed by (signature)", "审核人 (签名)"),
    "date_time": ("Date / time", "日期 / 时间"),
    "remarks": ("Remarks", "备注"),
    "pm_due": ("PM due today or overdue", "今日到期及逾期的预防性维护"),
    "statutory_due": ("Statutory items due", "法定检查项目"),
    "standing_now": ("Standing alarms", "未消除的报警"),
    "devices_comm": ("Devices out of communication or stale", "通讯中断或数据过期的设备"),
    "events_yesterday": ("Yesterday's events", "昨日事件"),
    "meter_day": ("Meter readings of the day", "当日仪表读数"),
    "order": ("Order", "工单"),
    "asset": ("Asset", "设备"),
    "title": ("Title", "名称"),
    "due": ("Due", "到期"),
    "state": ("State", "状态"),
    "since": ("Since", "开始时间"),
    "reason": ("Reason", "原因"),
    "last_seen": ("Last heard", "最后通讯"),
    "time": ("Time", "时间"),
    "event": ("Event", "事件"),
    "point": ("Counter", "计量点"),
    "historian": ("Historian", "系统读数"),
    "hand_reading": ("Reading on site", "现场读数"),
    "item": ("Item", "项目"),
    "rule": ("Rule", "要求"),
    "none": ("None.", "无。"),
    "source_unavailable": (
        "Source unavailable: could not be read when the sheet was made — check on site.",
        "数据源不可用：生成时无法读取，请现场检查。",
    ),
    "no_source": ("No source configured.", "未配置数据源。"),
    "overdue_mark": ("OVERDUE", "逾期"),
    "comm": ("out of communication", "通讯中断"),
    "stale": ("stale (no data > 1 h)", "数据过期 (> 1 h)"),
    "silent": ("no data for a day", "一天无数据"),
    "trip": ("trip", "跳闸"),
    "flood": ("flood", "水浸"),
    "dry_run": ("pool pump dry-run", "泳池泵干转"),
    "fire": ("fire", "火警"),
    "door": ("plant-room door open", "机房门开启"),
    "source_unavailable_short": ("source unavailable", "数据源不可用"),
    "critical": ("critical", "紧急"),
    "high": ("high", "高"),
    "medium": ("medium", "中"),
    "low": ("low", "低"),
}

ATTENTION: dict[str, tuple[str, str]] = {
    "timeliness": (
        "Repair timeliness {value} is below the {target} target",
        "维修及时率 {value} 低于目标 {target}",
    ),
    "timeliness_priority": (
        "Repair timeliness of {priority} orders {value} is below {target}",
        "{priority} 优先级维修及时率 {value} 低于 {target}",
    ),
    "pm": ("PM compliance {value} is below {target}", "预防性维护完成率 {value} 低于 {target}"),
    "availability": (
        "{scope} availability {value} ({hours} h down)",
        "{scope} 设备完好率 {value} (停机 {hours} h)",
    ),
    "down": (
        "{count} open order(s) keep an asset down: {orders}",
        "{count} 张未完成工单使设备停机：{orders}",
    ),
    "overdue": (
        "{count} order(s) overdue; backlog {hours} h",
        "{count} 张工单逾期；积压 {hours} h",
    ),
    "alarm_rate": (
        "{value} alarms per hour, above the ~{target}/h target",
        "每小时 {value} 次报警，高于约 {target} 次/小时的目标",
    ),
    "alarm_flood": (
        "{value} of 10-minute periods had more than 10 alarms (target < 1 %)",
        "{value} 的10分钟时段报警超过10次 (目标 < 1 %)",
    ),
    "standing": (
        "{count} standing alarm(s) active for more than 24 h",
        "{count} 个报警持续超过 24 小时",
    ),
    "chattering": (
        "{count} chattering alarm(s): tune delays or deadbands",
        "{count} 个振荡报警：请调整延时或死区",
    ),
    "bad_actors": (
        "The top 10 alarms make {share} of the load (first: {first})",
        "前10名报警占总数 {share} (首位：{first})",
    ),
    "energy_rise": ("Energy use up {value} on the previous period", "电能消耗较上期上升 {value}"),
    "water_rise": ("Water use up {value} on the previous period", "用水量较上期上升 {value}"),
}


def label(key: str, lang: Lang) -> str:
    en, zh = LABELS[key]
    return zh if lang == "zh" else en


def attention_text(key: str, values: dict[str, str], lang: Lang) -> str:
    en, zh = ATTENTION[key]
    shown = dict(values)
    if lang == "zh" and "priority" in shown and shown["priority"] in LABELS:
        shown["priority"] = label(shown["priority"], lang)
    return (zh if lang == "zh" else en).format(**shown)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def ratio(value: Ratio) -> str:
    return "-" if value.value is None else f"{value.value * 100:.1f} % ({value.good}/{value.total})"


def hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
