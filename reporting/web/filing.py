"""Filing a report from the web (the form each SMS links to): ``/obligations/<id>/file/`` and ``/f/<token>``.

Filing goes through ``reporting.report_services.report_create`` with the server's clock (SPEC rule 2: ``filed_at`` is
server time). A refused report (missing elements, a bad time) shows each message next to its field and keeps
everything the user typed.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from reporting import elements, report_services
from reporting.errors import DomainError, MissingElementsError
from reporting.links import obligation_from_token
from reporting.models import DeadlineState, Obligation, Report, ReportKind, Role
from reporting.web import drafts
from reporting.web.access import can_file, obligation_for_filing, report_visible, reports_visible, role_of
from reporting.web.board import board_row
from reporting.web.display import local_input, local_short, report_label
from reporting.web.forms import ReportForm, add_domain_errors, error_summary
from reporting.web.throttle import sms_throttled


def kinds_for(obligation: Obligation) -> list[str]:
    """The report kinds that make sense now, the most useful first: a written report while it is pending (it also
    discharges the verbal one, SPEC rule 3), the verbal one while pending, then follow-up and final reports."""
    kinds = []
    if obligation.written_state == DeadlineState.PENDING:
        kinds.append(ReportKind.WRITTEN)
    if obligation.verbal_state == DeadlineState.PENDING:
        kinds.append(ReportKind.VERBAL)
    if not (obligation.verbal_state == DeadlineState.PENDING and obligation.written_state == DeadlineState.PENDING):
        kinds += [ReportKind.FOLLOW_UP, ReportKind.FINAL]
    return [str(k) for k in kinds]


def filed_reports(obligation: Obligation) -> list[dict]:
    """The obligation's filed reports, oldest first, as the filing form lists them: an officer opening an SMS link
    after a colleague or the duty room filed sees what is already on record instead of filing it again, and may
    file a correction of any of them (SPEC rule 7). Each says which of them it corrects and which corrected it."""
    reports = list(obligation.reports.filed().select_related("filed_by").order_by("filed_at", "id"))
    items = []
    for report in reports:
        by = _filer(report)
        by_duty_room = report.filed_by is not None and report.filed_by.effective_role in (Role.DUTY_ROOM, Role.ADMIN)
        items.append(
            {
                "report": report,
                "label": report_label(report),
                "filed_at": local_short(report.filed_at),
                "by": by,
                "by_duty_room": by_duty_room,
                # As the correction's choice names it: kind and number, time, by whom.
                "choice": " · ".join(
                    [
                        report_label(report),
                        local_short(report.filed_at),
                        f"{_('区政府总值班室')} {by}" if by_duty_room else by,
                    ]
                ),
            }
        )
    labels = {item["report"].pk: item["label"] for item in items}
    for item in items:
        item["corrects"] = labels.get(item["report"].references_id)
        item["corrected_by"] = [other["label"] for other in items if other["report"].references_id == item["report"].pk]
    return items


def _filer(report: Report) -> str:
    """Who filed ``report``, as the form names them: their name, else their user name."""
    return (report.filed_by.get_full_name() or report.filed_by.username) if report.filed_by else ""


#: How recent the user's last report must be for an identical form to be taken for it sent again (``_twin_of``).
REPEAT_WINDOW = timedelta(minutes=10)


def _twin_of(request, obligation: Obligation, form: ReportForm) -> Report | None:
    """The user's last filed report of this kind on this obligation, filed within ``REPEAT_WINDOW``, when the form
    says exactly what it said (and corrects the same report, or none): the same form sent again after the page was
    loaded anew (back, then 报送) or while the first answer was slow, which adds nothing to the record. An identical
    follow-up filed later (情况无变化, an hour on) is a new report: the unit kept reporting."""
    last = (
        obligation.reports.filed()
        .filter(kind=form.cleaned_data.get("kind"), filed_by=request.user, filed_at__gte=timezone.now() - REPEAT_WINDOW)
        .order_by("-filed_at", "-id")
        .first()
    )
    return last if last is not None and _says_the_same(last, form) else None


def _says_the_same(report: Report, form: ReportForm) -> bool:
    """Whether the (valid) form holds exactly what ``report`` says: kind, elements and the report it corrects."""
    values = form.report_values()
    if values.get("serious_injuries") is None:
        values["serious_injuries"] = 0  # as the service stores it
    kind = form.cleaned_data.get("kind")
    return not _edited(report, kind=kind, values=values, references_id=form.cleaned_data.get("references"))


def _repeat(request, report: Report):
    messages.info(
        request,
        _("这份报告已于 %(time)s 报送, 重复提交未再报送。") % {"time": local_short(report.filed_at, seconds=True)},
    )
    return redirect("web:report", report.pk)


def _gone_message(obligation: Obligation, kind: str) -> str:
    """Why a verbal or written report the form still offered is no longer due: filed meanwhile (by a colleague, by
    the duty room, or a written report that also discharged the verbal one, SPEC rule 3), or marked not required."""
    kind_label = ReportKind(kind).label
    state = obligation.verbal_state if kind == ReportKind.VERBAL else obligation.written_state
    report = obligation.verbal_report if kind == ReportKind.VERBAL else obligation.written_report
    if state == DeadlineState.NOT_REQUIRED or report is None:
        return _("%(kind)s已无需报送 (已标记为无需报送), 本次未报送。您填写的内容已保留。") % {"kind": kind_label}
    who = _filer(report)
    return _(
        "%(kind)s已由 %(who)s 于 %(time)s 报送 (%(label)s), 本次未重复报送。您填写的内容已保留; "
        "如有新情况或需更正, 请选择续报后报送。"
    ) % {"kind": kind_label, "who": who, "time": local_short(report.filed_at), "label": report_label(report)}


def _initial(obligation: Obligation, user, kinds: list[str]) -> tuple[dict, Report | None]:
    """Start from the user's latest draft for this obligation, else from what the incident and the unit's last
    filed report already say."""
    draft = drafts.latest_draft(obligation=obligation, user=user)
    if draft is not None:
        initial = {f: getattr(draft, f) for f in report_services.REPORT_FIELDS}
        initial["occurred_at"] = local_input(draft.occurred_at)
        initial["call_received_at"] = local_input(draft.call_received_at)
        initial["kind"] = draft.kind if draft.kind in kinds else kinds[0]
        initial["draft"] = draft.pk
        initial["references"] = draft.references_id
        return initial, draft
    incident = obligation.incident
    initial = {
        "kind": kinds[0],
        "occurred_at": local_input(incident.occurred_at),
        "location": incident.location,
        # The figures known so far (快报事实): the officer confirms or corrects them.
        "deaths": incident.deaths,
        "injuries": incident.injuries,
        "serious_injuries": incident.serious_injuries,
        "missing": incident.missing,
    }
    contact = getattr(user, "contact", None)
    if role_of(user) == Role.UNIT_STAFF and contact is not None:
        initial["contact_name"] = contact.name
        initial["contact_phone"] = contact.phone
    # The written report (or a follow-up) builds on the unit's last filed report: the account and measures typed
    # for the verbal report are not typed again under the written report's clock. Figures stay the incident's (the
    # highest known); the officer confirms or corrects the rest.
    previous = obligation.reports.filed().order_by("-filed_at", "-id").first()
    if previous is not None:
        for name in elements.TEXT:
            if getattr(previous, name):
                initial[name] = getattr(previous, name)
        if previous.occurred_at is not None:
            initial["occurred_at"] = local_input(previous.occurred_at)
    return initial, None


def _correction_initial(report: Report, kinds: list[str]) -> dict:
    """The form for a correction of ``report`` (SPEC rule 7): a follow-up (续报, it moves no clock) referencing it,
    filled in with what it said, so that the officer changes only what was wrong. The report itself is never
    changed; the contact stays the one it names, as its other elements."""
    initial = {f: getattr(report, f) for f in report_services.REPORT_FIELDS}
    initial["occurred_at"] = local_input(report.occurred_at)
    initial["kind"] = ReportKind.FOLLOW_UP if ReportKind.FOLLOW_UP in kinds else kinds[0]
    initial["references"] = report.pk
    return initial


def _corrected(reports: list[dict], value: str) -> Report | None:
    """The filed report of this obligation whose id ``value`` names (``?corrects=``), or None for anything else:
    another unit's or incident's report, a draft, nonsense; all read the same, confirming nothing."""
    return next((item["report"] for item in reports if str(item["report"].pk) == value.strip()), None)


def _submit(*, obligation: Obligation, form: ReportForm, user, as_draft: bool) -> Report:
    """Save or file what the form holds. An open draft is updated and filed itself (see ``reporting.web.drafts``);
    without one, ``report_create`` saves a new draft or files directly."""
    now = timezone.now()
    kind = form.cleaned_data["kind"]
    values = form.report_values()
    # One of the obligation's filed reports (the form offers no other): the service checks it again.
    references_id = form.cleaned_data.get("references")
    references = obligation.reports.filed().filter(pk=references_id).first() if references_id else None
    draft = drafts.draft_for_form(obligation=obligation, draft_id=form.cleaned_data.get("draft"))
    if draft is None:
        return report_services.report_create(
            obligation=obligation, kind=kind, actor=user, now=now, draft=as_draft, references=references, **values
        )
    if as_draft or _edited(draft, kind=kind, values=values, references_id=references_id):
        # The service logs this as a draft save (report_draft_saved), also when the user pressed 报送.
        draft = report_services.report_draft_update(
            report=draft, kind=kind, actor=user, now=now, references=references, **values
        )
    if as_draft:
        return draft
    return report_services.report_file(report=draft, actor=user, now=now)


def _edited(draft: Report, *, kind: str, values: dict, references_id: int | None = None) -> bool:
    """Whether the form holds anything else than the draft as saved (an empty text field is stored blank)."""
    stored = {f: getattr(draft, f) for f in (*report_services.REPORT_FIELDS, "call_received_at")}
    typed = {f: values.get(f) for f in stored}
    typed = {f: "" if v is None and isinstance(stored[f], str) else v for f, v in typed.items()}
    return draft.kind != kind or typed != stored or draft.references_id != references_id


def _bound_form(
    request, obligation: Obligation, *, kinds: list[str], may_log_call: bool, correctable: list[tuple[int, str]]
) -> tuple[ReportForm, int]:
    """The POSTed form and its status: 200 when it may be submitted, 400 when a value is invalid, 208 when it is a
    valid verbal or written report that the form offered when shown but is no longer due (filed meanwhile by this
    user, a colleague or the duty room, or marked not required): the caller files it only if it is not the same
    report sent again, and otherwise answers with ``_gone_form`` (409), instead of calling the kind an invalid
    choice."""
    posted_kind = request.POST.get("kind", "")
    if posted_kind in (ReportKind.VERBAL, ReportKind.WRITTEN) and posted_kind not in kinds:
        as_sent = ReportForm(request.POST, kinds=[posted_kind], may_log_call=may_log_call, correctable=correctable)
        if as_sent.is_valid():
            return as_sent, 208  # possibly the same report again: the caller looks for its twin
        return _gone_form(request, obligation, kinds=kinds, may_log_call=may_log_call, correctable=correctable)
    form = ReportForm(request.POST, kinds=kinds, may_log_call=may_log_call, correctable=correctable)
    if form.is_valid():
        return form, 200
    if request.POST.get("action") != "draft":
        form.name_missing()
    return form, 400


def _gone_form(
    request, obligation: Obligation, *, kinds: list[str], may_log_call: bool, correctable: list[tuple[int, str]]
) -> tuple[ReportForm, int]:
    """The form again with what was typed, the kind to choose anew and the reason on it (409)."""
    data = request.POST.copy()
    posted_kind = data.pop("kind")[-1]
    form = ReportForm(data, kinds=kinds, may_log_call=may_log_call, correctable=correctable)
    form.is_valid()
    form.errors.pop("kind", None)
    form.add_error("kind", _gone_message(obligation, posted_kind))
    return form, 409


def _filing(request, obligation: Obligation):
    kinds = kinds_for(obligation)
    may_log_call = role_of(request.user) in (Role.DUTY_ROOM, Role.ADMIN)
    reports = filed_reports(obligation)
    correctable = [(item["report"].pk, item["choice"]) for item in reports]
    status = 200
    draft_saved = None
    correcting = None
    if request.method == "POST":
        as_draft = request.POST.get("action") == "draft"
        form, status = _bound_form(request, obligation, kinds=kinds, may_log_call=may_log_call, correctable=correctable)
        if status in (200, 208) and not as_draft:
            # The same report sent again (a double tap, a retry after a slow answer, back and 报送): filed once.
            repeated = _twin_of(request, obligation, form)
            if repeated is not None:
                return _repeat(request, repeated)
        if status == 208:
            form, status = _gone_form(
                request, obligation, kinds=kinds, may_log_call=may_log_call, correctable=correctable
            )
        if status == 200:
            try:
                report = _submit(obligation=obligation, form=form, user=request.user, as_draft=as_draft)
            except (MissingElementsError, DomainError) as exc:
                add_domain_errors(form, exc)
                status = exc.status_code
            else:
                if not as_draft:
                    return redirect("web:report", report.pk)
                draft_saved = report
                messages.success(request, _("草稿已保存 (只有报送才计时)"))
                # Later saves and the filing act on this draft row.
                form = ReportForm(
                    {**request.POST.dict(), "draft": str(report.pk)},
                    kinds=kinds,
                    may_log_call=may_log_call,
                    correctable=correctable,
                )
                form.is_valid()
        if draft_saved is None:
            draft_saved = drafts.draft_for_form(obligation=obligation, draft_id=form.cleaned_data.get("draft"))
        correcting = _corrected(reports, str(form.cleaned_data.get("references") or ""))
    else:
        initial, draft_saved = _initial(obligation, request.user, kinds)
        if "corrects" in request.GET:
            correcting = _corrected(reports, request.GET["corrects"])
            if correcting is None:
                messages.warning(
                    request, _("无法更正所选的报告: 只能更正本单位此项报送中已报送的报告, 请从下方列表中选择。")
                )
            else:
                # A new report, not the open draft (which stays for later): the draft is another report.
                initial, draft_saved = _correction_initial(correcting, kinds), None
        typed = _typed_kept(request)
        if typed is not None:
            # Shown as typed, not filed: the officer checks it and presses 报送 (filing time is server time).
            initial.update(typed)
            if initial.get("kind") not in kinds:
                initial.pop("kind", None)  # filed meanwhile: the officer chooses again
            messages.info(request, _("已恢复您上次未能提交的内容, 尚未报送: 请核对后点击报送。"))
        form = ReportForm(initial=initial, kinds=kinds, may_log_call=may_log_call, correctable=correctable)
    context = {
        "error_summary": error_summary(form),
        "obligation": obligation,
        "incident": obligation.incident,
        "row": board_row(obligation, now=timezone.now()),
        "form": form,
        "draft": draft_saved,
        "draft_saved_at": local_short(draft_saved.created_at) if draft_saved else None,
        "required_by_kind": {kind: list(fields) for kind, fields in elements.REQUIRED.items()},
        "may_log_call": may_log_call,
        "typed_by": typed_by_marker(request.user),
        "filed_reports": reports,
        "correcting": next((item for item in reports if item["report"] == correcting), None),
        # Both clocks are decided (by a report, or marked not required): nothing is due any more; the page says so
        # first, so that nobody files the verbal or written report again.
        "discharged": obligation.verbal_state != DeadlineState.PENDING
        and obligation.written_state != DeadlineState.PENDING,
    }
    return render(request, "web/file.html", context, status=status)


#: Session key: a report typed into the form whose session had ended (``_to_login``), restored after login.
TYPED = "typed_report"
#: The form's ``typed_by`` value: who the form was shown to, signed (``typed_by_marker``).
TYPED_BY_SALT = "reporting.web.filing.typed_by"


def typed_by_marker(user) -> str:
    """The filing form's hidden ``typed_by`` value: the user the form was shown to. A report kept when the session
    ended is shown again to that user only: the session that keeps it is anonymous (expired, signed out) or another
    user's (signed in in another tab), and whoever signs in next on that browser must not find it in their form."""
    return signing.Signer(salt=TYPED_BY_SALT).sign(str(user.pk))


def _typist(request) -> int | None:
    """The user the POSTed form was shown to, from its ``typed_by`` value; None when it has none or a forged one."""
    try:
        return int(signing.Signer(salt=TYPED_BY_SALT).unsign(request.POST.get("typed_by", "")))
    except (signing.BadSignature, ValueError):
        return None


def _to_login(request):
    """The login page, and back to this form afterwards. A report POSTed after the session ended (expired, signed
    out in another tab) is kept in the new session, which login keeps, and shown again, unfiled, after login: an
    officer who typed for twenty minutes must not lose it to a session. It passed the CSRF check, and it is shown
    again only to the user the form was shown to (``typed_by``)."""
    if request.method == "POST" and keep_typed(request):
        messages.warning(request, _("登录已失效, 报告尚未报送。请重新登录, 您填写的内容会恢复到表单中。"))
    return redirect_to_login(request.get_full_path(), reverse("web:login"))


def keep_typed(request) -> bool:
    """Keep the POSTed report for this form in the session, to be shown again (once, unfiled) on its next GET, to
    the user the form was shown to; False (nothing kept) when the form names no such user, or when the session is
    another user's (signed in in another tab: signing in again as the typist would start a new session anyway)."""
    typist = _typist(request)
    if typist is None or (request.user.is_authenticated and request.user.pk != typist):
        return False
    data = {k: v for k, v in request.POST.lists() if k not in ("csrfmiddlewaretoken", "action", "typed_by")}
    request.session[TYPED] = {"path": request.path, "user": typist, "data": data}
    return True


def _typed_kept(request) -> dict | None:
    """What ``_to_login`` kept for this form, once, and only for the user who typed it (another user who signed in
    on the same browser never sees it: it is dropped)."""
    typed = request.session.get(TYPED)
    if not typed or typed.get("path") != request.path:
        return None
    del request.session[TYPED]
    if typed.get("user") != request.user.pk:
        return None
    return {k: v[-1] for k, v in typed["data"].items() if v}


@require_http_methods(["GET", "POST"])
@sms_throttled
def file_obligation(request, obligation_id: int):
    if not request.user.is_authenticated:
        return _to_login(request)
    return _filing(request, obligation_for_filing(request.user, obligation_id))


@require_http_methods(["GET", "POST"])
@sms_throttled
def file_by_token(request, token: str):
    """The SMS link: a forged or expired token is a clear 404 page; then login, then the unit check (404)."""
    obligation_id = obligation_from_token(token)
    if obligation_id is None:
        return render(request, "web/link_invalid.html", status=404)
    if not request.user.is_authenticated:
        return _to_login(request)
    return _filing(request, obligation_for_filing(request.user, obligation_id))


def _linked(reports) -> list[dict]:
    """Reports as the report page links them: label, unit and filing time, oldest first."""
    return [
        {"report": r, "label": report_label(r), "filed_at": local_short(r.filed_at)}
        for r in reports.order_by("filed_at", "id")
    ]


@login_required
def report_detail(request, report_id: int):
    """The success page after filing: on time or late, and by how much (frozen at filing, SPEC rule 4)."""
    report = report_visible(request.user, report_id)
    obligation = Obligation.objects.select_related("incident", "unit").get(pk=report.obligation_id)
    may_file = can_file(request.user, obligation)
    context = {
        "report": report,
        "report_label": report_label(report),
        "incident": report.incident,
        "obligation": obligation,
        "delay_minutes": (report.delay_seconds or 0) // 60,
        "delay_rest_seconds": (report.delay_seconds or 0) % 60,
        "counted_at": local_short(report.counted_at, seconds=True),
        "due_at": local_short(report.due_at, seconds=True),
        # The button names the report still due (a written one after a verbal report), else follow-up/final.
        "next_due": next((k for k in kinds_for(obligation) if k in (ReportKind.WRITTEN, ReportKind.VERBAL)), None),
        # SPEC rule 7: the report it corrects, and the later reports correcting it (this one stays as filed); only
        # those the user may read (the API lets the duty room reference another unit's report of the incident).
        "corrects": _linked(reports_visible(request.user).filter(pk=report.references_id).filed()),
        "corrected_by": _linked(reports_visible(request.user).filter(references=report).filed()),
        "may_correct": report.filed_at is not None and may_file,
        # A reader (district leader, auditor) reaches this page from the incident's reports: no filing buttons, which
        # would lead to a 404.
        "may_file": may_file,
    }
    return render(request, "web/report.html", context)
