"""值班表 from a spreadsheet: a unit's roster typed into Excel (XLSX, or CSV as Excel saves it) read into shifts.

Reading never writes. Every row is checked with the roster's own rules (``roster_services.shift_errors``, as the
roster page and the API check one shift) plus what only a file can get wrong (a cell that is no time, a name that
is nobody, two rows for one person on one post at once); every problem is named by the file's row number (as Excel
numbers it) and column, in the page's language. A file with any problem is refused whole. The pages, the
template and the confirmation are ``reporting.web.roster_import``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from reporting import roster_services
from reporting.models import Contact, ContactRole, Unit
from reporting.web.bilingual import localize
from reporting.web.display import LOCAL_TZ
from reporting.web.forms import phone_value
from reporting.web.roster import ENDED_SHIFT

#: A month of three posts for a busy unit is about 100 rows; 2,000 is a year of two posts, far more than anyone
#: types, and still a request that checks and writes in seconds.
MAX_ROWS = 2000
#: An XLSX is a zip: 1 MiB of it may unpack to gigabytes (a "zip bomb"). A real roster unpacks to a few MiB.
MAX_UNPACKED = 50 * 1024 * 1024
#: A title row or two above the header is common ("泗泾镇 12 月值班表"); the header is looked for this far down.
HEADER_SCAN = 10
#: Columns read per row: the template has five; a sheet's far-right formatting is ignored.
MAX_COLUMNS = 30

COLUMNS: dict[str, Any] = {
    "starts_at": gettext_lazy("开始时间"),
    "ends_at": gettext_lazy("结束时间"),
    "role": gettext_lazy("岗位"),
    "name": gettext_lazy("姓名"),
    "phone": gettext_lazy("手机号"),
}
REQUIRED = ("starts_at", "ends_at", "role", "name")
#: Headers as people write them, in Chinese or English; compared without case, spaces, ``_``, ``-`` or ``:``.
ALIASES = {
    "starts_at": ("开始时间", "开始", "上班时间", "接班时间", "start", "starts", "startsat", "starttime", "from"),
    "ends_at": ("结束时间", "结束", "下班时间", "交班时间", "end", "ends", "endsat", "endtime", "to", "until"),
    "role": ("岗位", "职务", "post", "role"),
    "name": ("姓名", "人员", "值班人员", "值班人", "name", "person"),
    "phone": ("手机号", "手机", "手机号码", "电话", "联系电话", "phone", "mobile", "mobilephone"),
}
_HEADER_OF = {alias: column for column, aliases in ALIASES.items() for alias in aliases}
#: Text times as typed or as Excel writes them to CSV (``2026/12/8 8:30``), Asia/Shanghai wall time.
TIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
)
#: Where ``shift_errors`` names a field, the file's column to show it on.
FIELD_COLUMN = {
    "contact": "name",
    "role": "role",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "days": "ends_at",
    "every": "ends_at",
}
_EXAMPLE_MARKS = ("示例", "example")


@dataclass(frozen=True)
class Problem:
    """Why a file, or one cell of it, cannot go on the roster. ``row`` is None for the whole file."""

    row: int | None
    column: str | None
    message: str
    letter: str = ""

    @property
    def label(self) -> str:
        return str(COLUMNS[self.column]) if self.column else ""


@dataclass(frozen=True)
class Planned:
    """One shift a file would put on the roster, with the row it came from."""

    row: int
    contact: Contact
    role: str
    starts_at: datetime
    ends_at: datetime


class _Formula(str):
    """A formula cell: its value is whatever the spreadsheet last computed, which nobody checked here."""


class Refused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.problem = Problem(None, None, message)


def _limit() -> int:
    """The request size limit (1 MiB) bounds the file too: Django's own limit leaves uploaded files out."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def limit_mib() -> int:
    return _limit() // (1024 * 1024)


def too_big_message() -> str:
    return _("文件超过 %(mib)s MiB, 请分成几个文件上传") % {"mib": limit_mib()}


def _not_a_sheet() -> Refused:
    return Refused(_("不是表格文件, 或文件已损坏: 请上传 .xlsx 或 .csv 文件 (可先下载模板)"))


def read_upload(*, unit: Unit, upload, now: datetime) -> tuple[list[Planned], list[Problem]]:
    """The shifts in an uploaded file and every problem with it; shifts only when there is no problem."""
    if upload.size > _limit():
        return [], [Problem(None, None, too_big_message())]
    try:
        rows = _table(upload.read())
        columns, header_row = _header(rows)
        data = [(number, cells) for number, cells in rows if number > header_row]
        if not data:
            raise Refused(_("表中没有班次: 请在表头下面逐行填写"))
        if len(data) > MAX_ROWS:
            raise Refused(_("一次最多导入 %(n)d 行, 请分成几个文件上传") % {"n": MAX_ROWS})
    except Refused as exc:
        return [], [exc.problem]
    people = _people(unit)
    planned, problems = [], []
    for number, cells in data:
        shift, row_problems = _row(unit, number, cells, columns, people)
        problems += row_problems
        if shift is not None:
            planned.append(shift)
    problems += check(unit=unit, shifts=planned, now=now)
    order = list(COLUMNS)
    problems.sort(key=lambda p: (p.row or 0, order.index(p.column) if p.column else -1))
    if problems:
        return [], [_with_letter(p, columns) for p in problems]
    return planned, []


def check(*, unit: Unit, shifts: list[Planned], now: datetime) -> list[Problem]:
    """What the roster's rules refuse of these shifts, by row: ``shift_errors`` for each (the same rules as a
    shift typed on the roster page), an ended shift (the page adds none: it is history), and two rows of the
    shifts for one person on one post at once."""
    problems = []
    for shift in shifts:
        errors = roster_services.shift_errors(
            unit=unit, contact=shift.contact, role=shift.role, starts_at=shift.starts_at, ends_at=shift.ends_at
        )
        if "ends_at" not in errors and shift.ends_at <= now:
            errors["ends_at"] = [str(ENDED_SHIFT)]
        for field, messages in errors.items():
            problems += [Problem(shift.row, FIELD_COLUMN.get(field), localize(m)) for m in messages]
    return problems + _clashes(shifts)


def _clashes(shifts: list[Planned]) -> list[Problem]:
    """Rows for one person on one post that overlap (``roster_services._overlapping``'s rule, among the rows)."""
    problems = []
    groups: dict[tuple[int, str], list[Planned]] = {}
    for shift in shifts:
        groups.setdefault((shift.contact.pk, shift.role), []).append(shift)
    for group in groups.values():
        group.sort(key=lambda s: (s.starts_at, s.row))
        latest = group[0]
        for shift in group[1:]:
            if (shift.starts_at, shift.ends_at) == (latest.starts_at, latest.ends_at):
                message = _("与第 %(row)d 行重复") % {"row": latest.row}
                problems.append(Problem(shift.row, "starts_at", message))
            elif shift.starts_at < latest.ends_at:
                message = _("与第 %(row)d 行的班次重叠 (同一人同一岗位)") % {"row": latest.row}
                problems.append(Problem(shift.row, "starts_at", message))
            if shift.ends_at > latest.ends_at:
                latest = shift
    return problems


def _with_letter(problem: Problem, columns: dict[str, int]) -> Problem:
    if problem.column not in columns:
        return problem
    letter = get_column_letter(columns[problem.column] + 1)
    return Problem(problem.row, problem.column, problem.message, letter)


# Reading the file


def _table(data: bytes) -> list[tuple[int, list[Any]]]:
    """The file's non-blank rows, numbered as the spreadsheet numbers them (from 1)."""
    if not data:
        raise Refused(_("文件是空的"))
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Refused(_("这是旧版 Excel (.xls) 文件: 请在 Excel 中另存为 .xlsx 或 CSV 后上传"))
    if b"\x00" in data:
        raise _not_a_sheet()
    return _csv_rows(_decoded(data))


def _decoded(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (what Excel in China saves as "CSV")."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _not_a_sheet()


def _csv_rows(text: str) -> list[tuple[int, list[Any]]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
            cells = [c.strip() for c in cells[:MAX_COLUMNS]]
            if any(cells):
                rows.append((number, [_Formula(c) if c.startswith("=") else c for c in cells]))
            if len(rows) > HEADER_SCAN + MAX_ROWS:
                break
    except csv.Error as exc:
        raise _not_a_sheet() from exc
    return rows


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The first sheet's rows; a formula cell as ``_Formula``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED:
                raise _not_a_sheet()
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Refused:
        raise
    except Exception as exc:  # a damaged or foreign zip fails in many ways, every one of them the file's fault
        raise _not_a_sheet() from exc
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
            values = [_Formula(c.value) if c.data_type == "f" else c.value for c in cells]
            values = [v.strip() if isinstance(v, str) and not isinstance(v, _Formula) else v for v in values]
            if any(v not in (None, "") for v in values):
                rows.append((number, values))
            if len(rows) > HEADER_SCAN + MAX_ROWS:
                break
        return rows
    except Exception as exc:
        raise _not_a_sheet() from exc
    finally:
        book.close()


def _normal(header: Any) -> str:
    text = str(header or "").casefold()
    for character in " _-:：\u3000()（）":
        text = text.replace(character, "")
    return text


def _header(rows: list[tuple[int, list[Any]]]) -> tuple[dict[str, int], int]:
    """``{column: index}`` and the header's row number: the first of the first rows naming two known columns."""
    for number, cells in rows[:HEADER_SCAN]:
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            column = _HEADER_OF.get(_normal(cell))
            if column is None:
                continue
            if column in columns:
                raise Refused(_("表头中“%(column)s”列出现了两次") % {"column": COLUMNS[column]})
            columns[column] = index
        if len(columns) >= 2:
            missing = [str(COLUMNS[c]) for c in REQUIRED if c not in columns]
            if missing:
                raise Refused(_("表头缺少这些列: %(columns)s") % {"columns": _("、").join(missing)})
            return columns, number
    wanted = _("、").join(str(COLUMNS[c]) for c in COLUMNS)
    raise Refused(_("找不到表头: 第一行应为 %(columns)s (可先下载模板)") % {"columns": wanted})


# One row


def _people(unit: Unit) -> dict[str, list[Contact]]:
    people: dict[str, list[Contact]] = {}
    for contact in Contact.objects.filter(unit=unit).order_by("-active", "id"):
        people.setdefault(contact.name.strip(), []).append(contact)
    return people


def _row(unit, number, cells, columns, people) -> tuple[Planned | None, list[Problem]]:
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for column, index in columns.items():
        value = cells[index] if index < len(cells) else None
        if isinstance(value, _Formula):
            message = _("这是公式单元格: 请复制后“选择性粘贴 → 数值”, 再上传")
            problems.append(Problem(number, column, message))
            continue
        try:
            values[column] = _PARSERS[column](value, unit)
        except forms.ValidationError as exc:
            problems += [Problem(number, column, str(m)) for m in exc.messages]
    contact = None
    if "name" in values:
        try:
            contact = _person(values["name"], values.get("phone"), people)
        except forms.ValidationError as exc:
            problems += [Problem(number, exc.code or "name", str(m)) for m in exc.messages]
    if problems or contact is None:
        return None, problems
    shift = Planned(number, contact, values["role"], values["starts_at"], values["ends_at"])
    return shift, []


def _when(value: Any, column: str) -> datetime:
    if value in (None, ""):
        raise forms.ValidationError(_("请填写%(column)s") % {"column": COLUMNS[column]})
    if isinstance(value, datetime):
        # An Excel time is a fraction of a day: 08:30 may come back a few microseconds off. Whole seconds, as typed.
        value = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
        return value.astimezone(LOCAL_TZ) if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
    if isinstance(value, str):
        for pattern in TIME_FORMATS:
            try:
                return datetime.strptime(value, pattern).replace(tzinfo=LOCAL_TZ)
            except ValueError:
                continue
    raise forms.ValidationError(_("不是有效的时间, 请写成 2026-12-08 08:00 (上海时间) 或使用 Excel 的日期时间格式"))


def _role(value: Any, unit: Unit) -> str:
    text = _normal(value)
    if not text:
        raise forms.ValidationError(_("请填写岗位"))
    for role in ContactRole:
        names = {role.value}
        for language in ("zh-hans", "en"):
            with translation.override(language):
                names.add(_normal(role.label))
        if text in names:
            return role.value
    posts = _("、").join(str(r.label) for r in roster_services.shift_roles(unit))
    raise forms.ValidationError(_("不是本单位的岗位, 可填: %(posts)s") % {"posts": posts})


def _text(value: Any, unit: Unit) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into Excel is a number
    return "" if value is None else str(value).strip()


def _phone(value: Any, unit: Unit) -> str:
    text = _text(value, unit)
    return phone_value(text, mobile=False) if text else ""


_PARSERS = {
    "starts_at": lambda value, unit: _when(value, "starts_at"),
    "ends_at": lambda value, unit: _when(value, "ends_at"),
    "role": _role,
    "name": _text,
    "phone": _phone,
}


def _person(name: str, phone: str | None, people: dict[str, list[Contact]]) -> Contact:
    """The unit's person called ``name``; among namesakes, the one with ``phone``. Inactive people are matched
    too (``shift_errors`` then says they are inactive) but an active namesake comes first. A ``ValidationError``'s
    code is the column to show it on."""
    if not name:
        raise forms.ValidationError(_("请填写姓名"), code="name")
    candidates = people.get(name, [])
    if not candidates:
        if name.casefold().startswith(_EXAMPLE_MARKS):
            raise forms.ValidationError(_("这是模板中的示例行, 请删除后再上传"), code="name")
        message = _("本单位没有名为“%(name)s”的人员 (按姓名匹配人员名单; 重名时再按手机号)")
        raise forms.ValidationError(message % {"name": name}, code="name")
    if phone:
        candidates = [c for c in candidates if c.phone == phone]
        if not candidates:
            message = _("手机号与本单位名为“%(name)s”的人员都不符")
            raise forms.ValidationError(message % {"name": name}, code="phone")
    active = [c for c in candidates if c.active] or candidates[:1]
    if len(active) > 1:
        message = _("本单位有 %(n)d 人名为“%(name)s”: 请填写手机号以区分")
        raise forms.ValidationError(message % {"n": len(active), "name": name}, code="name")
    return active[0]
