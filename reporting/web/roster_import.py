"""值班表 from a spreadsheet (从表格导入): the template, the upload and its preview, the confirmation.

Same access as adding one shift on the roster page (``reporting.web.roster``): unit staff for their own unit, the
duty room and admins for any; everyone else gets a 404, as for the add form. The file is read by
``reporting.web.roster_sheet``; the shifts are written by ``roster_services.shifts_import``, that is one by one
through the service the roster page and the API use, in one transaction.

What the officer confirms is what the preview showed: the parsed rows travel signed in the confirm form
(``token_for``), bound to the unit, the user and the hour, never the file again. Confirming twice (a double click,
the back button, two tabs) puts the shifts on the roster once: the second finds them all there already and says so.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from reporting import roster_services
from reporting.errors import DomainError
from reporting.exports import XLSX_CONTENT_TYPE, column_width, safe_row
from reporting.models import Contact, ContactRole, Shift, Unit
from reporting.web import roster_sheet
from reporting.web.display import LOCAL_TZ, local_short
from reporting.web.roster import initial_shift, may_edit, readable_unit
from reporting.web.roster_sheet import Planned, Problem

#: The previewed rows are signed with this salt: only this page's confirm form reads them back.
PREVIEW_SALT = "reporting.web.roster_import"
#: A preview confirms within the hour; after that the roster may well have moved on.
PREVIEW_MAX_AGE = 3600


def token_for(*, unit: Unit, user, shifts: list[Planned]) -> str:
    """The previewed shifts, signed and compressed (2,000 rows make about 25 KB)."""
    rows = [[s.row, s.contact.pk, s.role, int(s.starts_at.timestamp()), int(s.ends_at.timestamp())] for s in shifts]
    return signing.dumps({"unit": unit.pk, "user": user.pk, "rows": rows}, salt=PREVIEW_SALT, compress=True)


def shifts_from_token(token: str, *, unit: Unit, user) -> list[Planned] | None:
    """The previewed shifts, or None when the token is not one this user got for this unit within the hour (or
    someone in it has since been deleted)."""
    try:
        payload = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        return None
    if payload.get("unit") != unit.pk or payload.get("user") != user.pk:
        return None
    rows = payload["rows"]
    people = Contact.objects.filter(unit=unit).in_bulk({row[1] for row in rows})
    if len(people) != len({row[1] for row in rows}):
        return None

    def moment(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, tz=LOCAL_TZ)

    return [Planned(row, people[contact], role, moment(s), moment(e)) for row, contact, role, s, e in rows]


def already_on_roster(*, unit: Unit, shifts: list[Planned]) -> bool:
    """Whether every one of these shifts is on the roster as it is (this preview was confirmed already)."""
    if not shifts:
        return False
    existing = set(
        Shift.objects.filter(
            unit=unit,
            contact__in={s.contact.pk for s in shifts},
            starts_at__gte=min(s.starts_at for s in shifts),
            ends_at__lte=max(s.ends_at for s in shifts),
        ).values_list("contact_id", "role", "starts_at", "ends_at")
    )
    return all((s.contact.pk, s.role, s.starts_at, s.ends_at) in existing for s in shifts)


def template_xlsx(*, unit: Unit, first: datetime) -> bytes:
    """The template, in the page's language: the roster sheet with its header and one example row from ``first``
    (to delete: it names nobody), the posts offered as a list in the post column, and the unit's people and posts
    on a second sheet."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("值班表")
    headers = [str(label) for label in roster_sheet.COLUMNS.values()]
    sheet.append(headers)
    posts = [str(r.label) for r in roster_services.shift_roles(unit)]
    example_person = Contact.objects.filter(unit=unit, active=True).order_by("name", "id").first()
    sheet.append(
        safe_row(
            [
                first.replace(tzinfo=None),
                (first + timedelta(days=1)).replace(tzinfo=None),
                posts[0],
                _("示例 (导入前删除此行)"),
                example_person.phone if example_person else "",
            ]
        )
    )
    for index, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = max(column_width(header), 18 if index <= 2 else 0)
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    for cell in (sheet["A2"], sheet["B2"]):
        cell.number_format = "yyyy-mm-dd hh:mm"
    picker = DataValidation(type="list", formula1='"' + ",".join(posts) + '"', allow_blank=True)
    sheet.add_data_validation(picker)
    picker.add(f"C2:C{roster_sheet.MAX_ROWS + 1}")
    sheet.freeze_panes = "A2"

    people = book.create_sheet(_("人员与岗位"))
    people_headers = [str(roster_sheet.COLUMNS["name"]), str(roster_sheet.COLUMNS["phone"]), _("职务"), _("状态")]
    people.append(people_headers)
    for contact in Contact.objects.filter(unit=unit).order_by("-active", "name", "id"):
        state = _("在用") if contact.active else _("不在用")
        people.append(safe_row([contact.name, contact.phone, contact.get_role_display(), state]))
    people.append([])
    people.append([_("可填岗位")])
    for post in posts:
        people.append([post])
    people.append([])
    people.append([_("时间为上海时间, 如 2026-12-08 08:00; 同名人员请填写手机号以区分。")])
    for index, header in enumerate(people_headers, start=1):
        people.cell(row=1, column=index).font = Font(bold=True)
        people.column_dimensions[get_column_letter(index)].width = max(column_width(header), 16)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _editable_unit(request, code: str) -> Unit:
    unit = readable_unit(request.user, code)
    if not may_edit(request.user, unit):
        raise Http404("no such action")
    return unit


def _preview(shifts: list[Planned]) -> list[dict]:
    return [
        {
            "row": s.row,
            "starts_at": local_short(s.starts_at),
            "ends_at": local_short(s.ends_at),
            "role": str(ContactRole(s.role).label),
            "name": s.contact.name,
            "phone": s.contact.phone,
        }
        for s in shifts
    ]


def _page(
    request,
    unit: Unit,
    *,
    problems: list[Problem] | None = None,
    shifts: list[Planned] | None = None,
    status: int = 200,
):
    context = {
        "unit": unit,
        "problems": problems or [],
        "preview": _preview(shifts or []),
        "max_rows": roster_sheet.MAX_ROWS,
        "max_mib": roster_sheet.limit_mib(),
        "posts": _("、").join(str(r.label) for r in roster_services.shift_roles(unit)),
    }
    if shifts:
        context["token"] = token_for(unit=unit, user=request.user, shifts=shifts)
    return render(request, "web/roster_import.html", context, status=status)


def _week_of(unit: Unit, shifts) -> str:
    first = min(s.starts_at for s in shifts).astimezone(LOCAL_TZ).date()
    return f"{reverse('web:roster-unit', args=[unit.code])}?from={first.isoformat()}"


@require_GET
@login_required
def template(request, code: str):
    unit = _editable_unit(request, code)
    first = initial_shift(timezone.now())["starts_at"]
    response = HttpResponse(template_xlsx(unit=unit, first=first), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="roster-{unit.code}.xlsx"'
    return response


@require_http_methods(["GET", "POST"])
@login_required
def upload(request, code: str):
    """GET: how to fill the template, and the upload form. POST: the file's preview (200), or every problem with
    it (400) and nothing to confirm."""
    unit = _editable_unit(request, code)
    if request.method == "GET":
        return _page(request, unit)
    file = request.FILES.get("file")
    if file is None:
        return _page(request, unit, problems=[Problem(None, None, _("请选择要上传的文件"))], status=400)
    shifts, problems = roster_sheet.read_upload(unit=unit, upload=file, now=timezone.now())
    if problems:
        return _page(request, unit, problems=problems, status=400)
    return _page(request, unit, shifts=shifts)


@require_POST
@login_required
def confirm(request, code: str):
    unit = _editable_unit(request, code)
    now = timezone.now()
    shifts = shifts_from_token(request.POST.get("token", ""), unit=unit, user=request.user)
    if not shifts:
        message = _("预览已失效 (超过一小时, 或不是本单位、本人的预览), 请重新上传文件。")
        return _page(request, unit, problems=[Problem(None, None, message)], status=400)
    if already_on_roster(unit=unit, shifts=shifts):
        messages.info(request, _("这些班次已在值班表中, 未重复导入。"))
        return redirect(_week_of(unit, shifts))
    problems = roster_sheet.check(unit=unit, shifts=shifts, now=now)
    if not problems:
        rows = [{"contact": s.contact, "role": s.role, "starts_at": s.starts_at, "ends_at": s.ends_at} for s in shifts]
        try:
            created = roster_services.shifts_import(unit=unit, shifts=rows, actor=request.user, now=now)
        except DomainError:
            # Another request changed the roster in between: the same preview confirmed twice at once (it waited
            # for the first), or a shift typed meanwhile.
            if already_on_roster(unit=unit, shifts=shifts):
                messages.info(request, _("这些班次已在值班表中, 未重复导入。"))
                return redirect(_week_of(unit, shifts))
            problems = roster_sheet.check(unit=unit, shifts=shifts, now=now) or [
                Problem(None, None, _("值班表刚被修改, 请重新上传文件。"))
            ]
        else:
            messages.success(request, _("已从表格导入 %(n)d 个班次。") % {"n": len(created)})
            return redirect(_week_of(unit, created))
    return _page(request, unit, problems=problems, status=409)
