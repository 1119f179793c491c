"""Timeliness figures as downloads: CSV (UTF-8 with BOM, so Excel reads the Chinese) and XLSX (openpyxl).

Columns follow the API row (``reporting.stats.FIELDS``), plus the unit's name after its code. Headers (and the
workbook's sheet names and notes) are in the active language: Chinese, or English when the request is in English.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from reporting.finding_text import finding_summary
from reporting.stats import FIELDS

HEADERS = {
    "unit": gettext_lazy("单位代码"),
    "unit_name": gettext_lazy("单位名称"),
    "obligations": gettext_lazy("报送义务数"),
    "verbal_on_time": gettext_lazy("口头报按时数"),
    "written_on_time": gettext_lazy("书面报按时数"),
    # The audit page's column says "Verbal on time" above a percentage; in a sheet of bare numbers, beside the
    # on-time counts, that would read as a count.
    "verbal_on_time_rate": pgettext_lazy("timeliness export", "口头报及时率"),
    "written_on_time_rate": pgettext_lazy("timeliness export", "书面报及时率"),
    "median_verbal_delay_seconds": gettext_lazy("口头报延迟中位数(秒)"),
    "p90_written_delay_seconds": gettext_lazy("书面报延迟P90(秒)"),
    "late": gettext_lazy("迟报"),
    "missed": gettext_lazy("漏报"),
    "held_back": gettext_lazy("压报"),
    "concealed": gettext_lazy("瞒报/谎报"),
    "median_written_delay_seconds": gettext_lazy("书面报延迟中位数(秒)"),
    "p90_verbal_delay_seconds": gettext_lazy("口头报延迟P90(秒)"),
    "roster_gaps": gettext_lazy("双人在岗缺口"),
}
COLUMNS = ("unit", "unit_name", *FIELDS[1:])
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


#: What makes a spreadsheet read a text cell as a formula (OWASP "CSV injection"); openpyxl even stores such a
#: string as a formula. Text the users typed (a review reason, a unit's name) must stay text in the auditors' files.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: Any) -> Any:
    """``value``, with text that a spreadsheet would run as a formula prefixed with ``'`` (shown as typed)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_row(cells: Iterable[Any]) -> list[Any]:
    return [_text_cell(v) for v in cells]


def _headers() -> list[str]:
    return [str(HEADERS[c]) for c in COLUMNS]


def column_width(header: str) -> int:
    # Excel measures widths in Latin characters; a Chinese one takes about two.
    return max(10, len(header) * (1 if header.isascii() else 2) + 2)


def _cells(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> list[list[Any]]:
    return [[row.get(c) if c != "unit_name" else names.get(row["unit"], "") for c in COLUMNS] for row in rows]


def timeliness_csv(rows: Iterable[dict[str, Any]], *, unit_names: dict[str, str]) -> bytes:
    """The figures as CSV: a header row in the active language, empty cells for nulls. ``unit_names`` maps unit
    codes to the names to show (a missing one leaves the cell empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_headers())
    for cells in _cells(rows, unit_names):
        writer.writerow(safe_row("" if v is None else v for v in cells))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def timeliness_xlsx(
    rows: Iterable[dict[str, Any]],
    *,
    unit_names: dict[str, str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> bytes:
    """The figures as an XLSX workbook: one sheet 及时率统计 with bold headers and rates as percentages, and a
    sheet 说明 with the period and the definitions; all in the active language. ``unit_names`` as for the CSV."""
    headers = _headers()
    book = Workbook()
    sheet = book.active
    sheet.title = gettext("及时率统计")
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cells in _cells(rows, unit_names):
        sheet.append(safe_row(cells))
    for name in ("verbal_on_time_rate", "written_on_time_rate"):
        column = COLUMNS.index(name) + 1
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = "0.0%"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = column_width(header)
    info = book.create_sheet(gettext("说明"))
    info.append([gettext("统计区间起"), _local(since) if since else gettext("不限")])
    info.append([gettext("统计区间止"), _local(until) if until else gettext("不限")])
    info.append(
        [gettext("口径"), gettext("按首次知悉时间计入区间; 演练与无需报送的义务不计; 延迟按已报送的义务计算 (秒)")]
    )
    info.append([gettext("双人在岗缺口"), gettext("按发现时间计入区间 (缺岗发生的时刻)")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- findings ----------------------------------------------------------------------------------------------------

FINDING_HEADERS = (
    ("id", pgettext_lazy("findings export", "编号")),
    ("kind", gettext_lazy("类型")),
    ("unit", gettext_lazy("单位代码")),
    ("unit_name", gettext_lazy("单位名称")),
    ("incident", gettext_lazy("事件")),
    ("obligation", pgettext_lazy("findings export", "报送义务")),
    ("report", gettext_lazy("报告")),
    ("signal", pgettext_lazy("findings export", "信息线索")),
    ("suspected", pgettext_lazy("findings export", "疑似")),
    ("found_at", gettext_lazy("发现时间")),
    ("superseded_by", gettext_lazy("已被取代(新发现编号)")),
    ("review", gettext_lazy("审核结论")),
    ("reviewed_by", gettext_lazy("审核人")),
    ("reviewed_at", gettext_lazy("审核时间")),
    ("reason", gettext_lazy("审核理由")),
    ("detail", gettext_lazy("详情")),
    # Added later, at the end, so the columns before keep their places: the incident's number as people know it
    # and the finding in words (its times in Asia/Shanghai; the detail's JSON keeps UTC, as the API gives it).
    ("incident_number", gettext_lazy("事件编号")),
    ("summary", gettext_lazy("说明")),
    # When the data stopped supporting the finding (the recompute withdrew it; it counts in no figure).
    ("withdrawn_at", gettext_lazy("系统撤销时间")),
)


def _local(value: datetime | None) -> str:
    """Times for people: Asia/Shanghai with the offset shown, so the file is unambiguous."""
    if value is None:
        return ""
    return timezone.localtime(value).isoformat(timespec="seconds")


def finding_cells(finding) -> list[Any]:
    """One finding as export cells in the active language, as the timeliness export (kind, review, unit name,
    yes/no; detail as compact JSON)."""
    return [
        finding.pk,
        finding.get_kind_display(),
        finding.unit.code,
        finding.unit.label,
        finding.incident_id or "",
        finding.obligation_id or "",
        finding.report_id or "",
        finding.signal_id or "",
        gettext("是") if finding.suspected else gettext("否"),
        _local(finding.found_at),
        finding.superseded_by_id or "",
        finding.get_review_display(),
        finding.reviewed_by.username if finding.reviewed_by_id else "",
        _local(finding.reviewed_at),
        finding.reason,
        json.dumps(finding.detail, ensure_ascii=False, sort_keys=True),
        finding.incident.number if finding.incident_id else "",
        finding_summary(finding),
        _local(finding.withdrawn_at),
    ]


def findings_csv(findings: Iterable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(label) for _, label in FINDING_HEADERS])
    for finding in findings:
        writer.writerow(safe_row(finding_cells(finding)))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def findings_xlsx(findings: Iterable) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(gettext("督查发现"))
    sheet.append([str(label) for _, label in FINDING_HEADERS])
    for finding in findings:
        sheet.append(safe_row(finding_cells(finding)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
