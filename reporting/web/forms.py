"""The filing form (填报表单). It only parses what the user typed; which elements are required is the domain's
rule (``reporting.elements``, SPEC rule 8), so every element is optional here and the service names what is missing.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reporting import deadlines, elements, phones
from reporting.api.fields import MAX_BIGINT
from reporting.errors import DomainError, MissingElementsError
from reporting.models import Channel, Domain, Grade, ReportKind, Unit
from reporting.services import serious_injuries_error
from reporting.text import CONTROL_MESSAGE, has_control_characters
from reporting.web.bilingual import LocalizedErrorsForm, localize
from reporting.web.display import LOCAL_TZ

DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class LocalDateTimeField(forms.DateTimeField):
    """An ``<input type="datetime-local">`` read as Asia/Shanghai wall time and returned as an aware datetime."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", DATETIME_LOCAL_FORMATS)
        kwargs.setdefault("error_messages", {"invalid": _("请输入有效的日期时间, 如 2026-11-28 09:15")})
        super().__init__(**kwargs)

    def to_python(self, value):
        with timezone.override(LOCAL_TZ):
            return super().to_python(value)

    def prepare_value(self, value):
        if hasattr(value, "astimezone"):
            return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
        return value


def _printable(value: str) -> None:
    if has_control_characters(value):
        raise forms.ValidationError(CONTROL_MESSAGE)


class MultilineField(forms.CharField):
    """Text typed into a textarea. A browser counts a line break as one character against ``maxlength`` but sends it
    as CRLF: the text is kept with LF, so that what the browser (and the page's counter, ``app.js``) let through
    is not refused as too long."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class TextForm(LocalizedErrorsForm):
    """A form whose text fields refuse control characters, as the API's do (``reporting.text``); its errors are in
    the page's language (``reporting.web.bilingual``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(_printable)


def add_domain_errors(form: forms.Form, exc: DomainError) -> None:
    """A service's refusal on the form, in the page's language: each message on its field, or above the form when
    it names none (a message about a field the form lacks keeps that field's label). A missing element is named by
    the form's own label, not by the domain's bilingual message (``elements.missing_message``)."""
    for field, msgs in exc.errors.items():
        on_form = field in form.fields
        if isinstance(exc, MissingElementsError) and on_form:
            form.add_error(field, _("缺少必报要素: %(label)s") % {"label": form.fields[field].label})
            continue
        for msg in msgs if isinstance(msgs, list | tuple) else [msgs]:
            form.add_error(field if on_form else None, localize(str(msg), keep_label=not on_form))


def error_summary(form: forms.Form) -> list[tuple[str, str]]:
    """(field name, message) for the summary at the top; the field's label is added unless the message names it."""
    summary = []
    for name, errors in form.errors.items():
        label = str(form.fields[name].label) if name in form.fields else ""
        for error in errors:
            error = localize(error)
            mentioned = not label or label.casefold() in error.casefold()
            summary.append((name if name in form.fields else "", error if mentioned else f"{label}: {error}"))
    return summary


def _money(*, required: bool) -> forms.IntegerField:
    """直接经济损失(元): whole yuan, 0 or more, within the database's range (a bigger number is a 400, not a 500)."""
    return forms.IntegerField(
        label=_("直接经济损失(元)"),
        required=required,
        min_value=0,
        max_value=MAX_BIGINT,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0"}),
        error_messages={"invalid": _("请输入整数, 可以为0")},
    )


def _count(label):
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        max_value=1_000_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0"}),
        error_messages={"invalid": _("请输入整数, 可以为0")},
    )


def _serious():
    """其中重伤: of the injured, those seriously injured (grading counts these, SPEC rule 9). The service refuses more
    than the injured; left empty on a new incident or a report, it is 0."""
    return _count(_("其中重伤人数"))


_PHONE_ERRORS = {
    "invalid": _("不是有效的电话号码, 请核对 (手机如 13812345678, 座机如 021-57671234)"),
    "not_mobile": _("请填写手机号码: 催报短信发不到座机"),
}


def phone_value(value: str, *, mobile: bool) -> str:
    try:
        return phones.phone_e164(value, mobile=mobile)
    except phones.PhoneError as exc:
        raise forms.ValidationError(_PHONE_ERRORS[exc.reason], code=exc.reason) from exc


class ReportForm(TextForm):
    kind = forms.ChoiceField(label=_("报告类型"), choices=ReportKind.choices, widget=forms.RadioSelect)
    occurred_at = LocalDateTimeField(label=_("发生时间"), required=False)
    location = forms.CharField(label=_("地点"), max_length=300, required=False)
    account = MultilineField(
        label=_("简要经过"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    deaths = _count(_("死亡人数"))
    injuries = _count(_("受伤人数"))
    serious_injuries = _serious()
    missing = _count(_("失踪人数"))
    direct_loss_yuan = _money(required=False)
    measures = MultilineField(
        label=_("已采取措施"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(
        label=_("联系电话"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
        help_text=_("手机或座机, 如 13812345678、021-57671234"),
    )
    call_received_at = LocalDateTimeField(
        label=_("来电时间(总值班室登记口头报)"),
        required=False,
        # SPEC rule 2, said where the duty officer types it: the bounds, and what counts when it is left empty.
        help_text=_("最早为 30 分钟前, 不能晚于现在; 不填则以登记时间为准"),
    )
    # SPEC rule 7: a correction is a new report referencing one of this obligation's filed reports, which stays as
    # it was filed. The choices are only those reports: another unit's, another incident's, a draft or nonsense is
    # refused with one message that confirms nothing about it.
    references = forms.TypedChoiceField(
        label=_("更正已报送的报告"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("如已报送的报告有误, 请选择要更正的报告, 以续报报送更正后的内容; 原报告保留不变。"),
        error_messages={"invalid_choice": _("只能更正本单位此项报送中已报送的报告, 请从列表中重新选择。")},
    )
    # The draft being edited: filing files that very row (its first save time matters to the 压报 rule).
    draft = forms.IntegerField(required=False, min_value=1, max_value=MAX_BIGINT, widget=forms.HiddenInput)

    def clean_contact_phone(self):
        """A number someone can call back, mobile or landline, stored in E.164; blank stays blank (the rule-8 check
        names it when the kind requires it)."""
        value = self.cleaned_data["contact_phone"].strip()
        return phone_value(value, mobile=False) if value else ""

    def clean(self):
        """The service's checks of the occurred time and the call time, here as well (as ``IncidentForm.clean``): a
        bad time shows with the other refusals at once, not in a second round once the officer fixed them. The
        service checks again."""
        data = super().clean()
        occurred = data.get("occurred_at")
        if occurred is not None:
            try:
                deadlines.check_past("occurred_at", occurred, now=timezone.now())
            except deadlines.TimeError as exc:
                add_domain_errors(self, DomainError({exc.field: [exc.message]}))
        call = data.get("call_received_at")
        if call is not None and data.get("kind") == ReportKind.VERBAL:
            # SPEC rule 2, as the service checks it against the filing time: at most 30 minutes back, not ahead.
            try:
                deadlines.counted_time(filed_at=timezone.now(), call_received_at=call)
            except deadlines.TimeError as exc:
                add_domain_errors(self, DomainError({exc.field: [exc.message]}))
        if data.get("references") is not None and data.get("kind") and data["kind"] != ReportKind.FOLLOW_UP:
            self.add_error("kind", _("更正请选择续报报送 (更正不重新计时, 原报告保留不变)。"))
        return data

    def name_missing(self) -> None:
        """On a form refused for a bad value, also name each required element left empty (SPEC rule 8), so the
        officer fixes everything in one round. Only the service's refusal of a complete-looking form is kept as a
        refused report (the 漏报 rule reads those)."""
        kind = self.cleaned_data.get("kind")
        if kind not in elements.REQUIRED:
            return
        typed = {**self.cleaned_data, **{name: self.data.get(name) for name in self.errors}}
        for name in elements.missing_elements(kind, typed):
            if name in self.fields and name not in self.errors:
                self.add_error(name, _("缺少必报要素: %(label)s") % {"label": self.fields[name].label})

    def __init__(self, *args, kinds: list[str], may_log_call: bool, correctable: list[tuple[int, str]], **kwargs):
        """``correctable``: (id, label) of the obligation's filed reports, those a correction may reference."""
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, ReportKind(k).label) for k in kinds]
        self.fields["references"].choices = [("", _("否, 这是一份新报告")), *correctable]
        if not may_log_call:
            del self.fields["call_received_at"]

    def report_values(self) -> dict:
        """The cleaned values for ``report_create``: blank text stays blank (so it is named as missing)."""
        data = dict(self.cleaned_data)
        data.pop("kind", None)
        data.pop("draft", None)
        data.pop("references", None)
        return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}


def _text(label, max_length, *, required=True, rows=None):
    if rows:
        return MultilineField(
            label=label, max_length=max_length, required=required, widget=forms.Textarea(attrs={"rows": rows})
        )
    return forms.CharField(label=label, max_length=max_length, required=required, widget=forms.TextInput())


class IncidentFactsForm(TextForm):
    """What the new-incident and edit forms share: the incident's title, place, summary and figures."""

    title = _text(_("事件标题"), 200)
    location = _text(_("地点"), 300)
    summary = _text(_("简要情况"), 5000, required=False, rows=3)
    deaths = _count(_("死亡人数"))
    injuries = _count(_("受伤人数"))
    serious_injuries = _serious()
    missing = _count(_("失踪人数"))
    direct_loss_yuan = _money(required=True)


class IncidentForm(IncidentFactsForm):
    """Opening an incident (新建事件): the incident's facts and who must report it from when (SPEC rules 1, 5, 6).

    Unit staff open it for their own unit only; the duty room names one or more responsible units (``units``), each
    first knowing at ``first_known_at``. The grade and the sensitive flag are the duty room's."""

    domain = forms.ChoiceField(label=_("领域"), choices=Domain.choices)
    occurred_at = LocalDateTimeField(label=_("发生时间"))
    direct_loss_yuan = _money(required=False)
    grade = forms.ChoiceField(
        label=_("等级 (不填则按伤亡损失计算; 只能调高)"),
        choices=[("", _("按计算"))] + list(Grade.choices),
        required=False,
    )
    exercise = forms.BooleanField(label=_("演练 (不计入督查统计)"), required=False)
    sensitive = forms.BooleanField(label=_("敏感事件"), required=False)
    units = forms.ModelMultipleChoiceField(
        label=_("责任单位"),
        queryset=Unit.objects.none(),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("至少选择一个责任单位"),
            "invalid_choice": _("未知单位: %(value)s"),
            "invalid_pk_value": _("未知单位: %(pk)s"),
        },
    )
    first_known_at = LocalDateTimeField(label=_("首次知悉时间"))
    channel = forms.ChoiceField(label=_("知悉途径"), choices=Channel.choices)

    def __init__(self, *args, own_unit: Unit | None, **kwargs):
        super().__init__(*args, **kwargs)
        if own_unit is not None:
            # Unit staff: their own unit is the responsible unit; grade, sensitivity and exercise are the duty room's.
            for name in ("units", "grade", "sensitive", "exercise"):
                del self.fields[name]
        else:
            self.fields["units"].queryset = Unit.objects.filter(active=True).order_by("kind", "code")

    def clean(self):
        """The service's checks on the values that parsed (times, seriously injured), here as well: every refusal
        shows at once, instead of a second round after the user fixed the first ones. The service checks again."""
        data = super().clean()
        occurred, known = data.get("occurred_at"), data.get("first_known_at")
        if occurred is not None:
            try:
                deadlines.check_incident_times(
                    occurred_at=occurred, first_known_at=[known] if known else [], now=timezone.now()
                )
            except deadlines.TimeError as exc:
                add_domain_errors(self, DomainError({exc.field: [exc.message]}))
        serious, injuries = data.get("serious_injuries"), data.get("injuries")
        if serious is not None and "injuries" not in self.errors:
            message = serious_injuries_error(serious_injuries=serious, injuries=injuries)
            if message:
                add_domain_errors(self, DomainError({"serious_injuries": [message]}))
        return data

    def incident_values(self) -> dict:
        """The keyword arguments of ``services.incident_create`` but ``units``."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("units", "first_known_at", "channel")}
        data["grade"] = data.get("grade") or None
        data["summary"] = data["summary"].strip()
        return data


class UnitClockForm(TextForm):
    """A responsible unit added to an open incident (增加责任单位), with when and how it first knew."""

    unit = forms.ModelChoiceField(
        label=_("单位"),
        queryset=Unit.objects.filter(active=True).order_by("kind", "code"),
        to_field_name="code",
        empty_label=_("请选择"),
        error_messages={
            "required": _("请选择单位"),
            "invalid_choice": _("未知单位"),
        },
    )
    first_known_at = LocalDateTimeField(label=_("首次知悉时间"))
    channel = forms.ChoiceField(label=_("知悉途径"), choices=Channel.choices, initial=Channel.DUTY_ROOM)


class NotRequiredForm(TextForm):
    """SPEC rule 11: the duty room marks an obligation not required, with a reason auditors will see."""

    reason = _text(_("原因"), 2000)


class RestoreForm(TextForm):
    """撤销无需报送: why the mark was a mistake; the stopped clocks are pending again with their original due times."""

    reason = _text(_("撤销原因"), 2000)


class FirstKnownForm(TextForm):
    """SPEC rule 4: correcting a first-known time; decided clocks keep their lateness, pending ones move."""

    first_known_at = LocalDateTimeField(label=_("更正后的首次知悉时间"))
    reason = _text(_("更正原因"), 2000)


#: The edit form's choice for "the grade the figures give" (no grade of that name exists).
COMPUTED = "computed"


class IncidentEditForm(IncidentFactsForm):
    """The duty room corrects an incident's facts (API: PATCH); the grade may be raised, never set below the one
    computed from the figures (SPEC rule 9). Every change is logged by the service."""

    grade = forms.ChoiceField(
        label=_("等级 (只能调高, 不能低于计算等级)"),
        choices=[
            ("", _("不变 (未经人工调高的等级随伤亡损失自动调整)")),
            (COMPUTED, _("按伤亡损失计算 (取消人工调高)")),
            *Grade.choices,
        ],
        required=False,
    )

    def changes(self) -> dict:
        """The keyword arguments of ``services.incident_update``: the fields the user changed on the page (each
        carries the value it was shown with, ``show_hidden_initial``), so that figures a report raised after the page
        was opened are not put back by saving another field. No grade chosen keeps a grade the duty room raised and
        lets a computed one follow the figures; ``COMPUTED`` drops a raise (the API's ``"grade": null``)."""
        data = {k: v for k, v in self.cleaned_data.items() if k == "grade" or k in self.changed_data}
        if "summary" in data:
            data["summary"] = data["summary"].strip()
        if data.get("grade") == COMPUTED:
            data["grade"] = None
        elif not data.get("grade"):
            del data["grade"]
        return data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("deaths", "injuries", "serious_injuries", "missing"):
            self.fields[name].required = True
        for name, field in self.fields.items():
            field.show_hidden_initial = name != "grade"


class CityReportForm(TextForm):
    """SPEC rule 12: when a vertical unit reported to its city-level department."""

    reported_at = LocalDateTimeField(label=_("向市级部门报告时间"))


class ContactFieldsForm(TextForm):
    """What every person has on the pages: a name, an E.164 mobile, an email and whether they are in use (the
    people page adds a role and the default-contact flag; the leaders page a portfolio and the notification list)."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(
        label=_("手机"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
        help_text=_("手机号码, 如 13800000000 或 +8613800000000; 催报短信发到这里"),
    )
    email = forms.EmailField(label=_("邮箱"), max_length=254, required=False)
    active = forms.BooleanField(label=_("在用"), required=False, initial=True)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("请填写姓名"))
        return name

    def clean_phone(self):
        """A mobile (the SMS chasing goes there), typed as people do, stored in E.164."""
        return phone_value(self.cleaned_data["phone"].strip(), mobile=True)
