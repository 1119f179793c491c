"""值班表 from a spreadsheet (从表格导入): the template, the upload and its preview, the confirmation.

Same access as adding one shift on the roster page (``reporting.web.roster``): unit staff for their own unit, the
duty room and admins for any; everyone else gets a 404, as for the add form. The file is read by
``reporting.web.roster_sheet``; the shifts are written by ``roster_services.shifts_import``, that is one by one
through the service the roster page and the API use, in one transaction.

Confirming twice (a double click, the back button, two tabs) puts the shifts on the roster once: the second finds
them all there already and says so.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reporting import roster_services
from reporting.errors import DomainError
from reporting.exports import XLSX_CONTENT_TYPE
from reporting.models import ContactRole, Unit
from reporting.web import roster_sheet
from reporting.web.display import LOCAL_TZ, local_short
from reporting.web.roster import initial_shift, may_edit, readable_unit
from reporting.web.roster_sheet import Planned, Problem


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
        context["token"] = roster_sheet.token_for(unit=unit, user=request.user, shifts=shifts)
    return render(request, "web/roster_import.html", context, status=status)


def _week_of(unit: Unit, shifts) -> str:
    first = min(s.starts_at for s in shifts).astimezone(LOCAL_TZ).date()
    return f"{reverse('web:roster-unit', args=[unit.code])}?from={first.isoformat()}"


@require_GET
@login_required
def template(request, code: str):
    unit = _editable_unit(request, code)
    first = initial_shift(timezone.now())["starts_at"]
    response = HttpResponse(roster_sheet.template_xlsx(unit=unit, first=first), content_type=XLSX_CONTENT_TYPE)
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
    shifts = roster_sheet.shifts_from_token(request.POST.get("token", ""), unit=unit, user=request.user)
    if not shifts:
        message = _("预览已失效 (超过一小时, 或不是本单位、本人的预览), 请重新上传文件。")
        return _page(request, unit, problems=[Problem(None, None, message)], status=400)
    if roster_sheet.already_on_roster(unit=unit, shifts=shifts):
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
            if roster_sheet.already_on_roster(unit=unit, shifts=shifts):
                messages.info(request, _("这些班次已在值班表中, 未重复导入。"))
                return redirect(_week_of(unit, shifts))
            problems = roster_sheet.check(unit=unit, shifts=shifts, now=now) or [
                Problem(None, None, _("值班表刚被修改, 请重新上传文件。"))
            ]
        else:
            messages.success(request, _("已从表格导入 %(n)d 个班次。") % {"n": len(created)})
            return redirect(_week_of(unit, created))
    return _page(request, unit, problems=problems, status=409)
