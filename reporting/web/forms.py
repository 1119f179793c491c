"""The filing form (填报表单). It only parses what the user typed; which elements are required is the domain's
rule (``reporting.elements``, SPEC rule 8), so every element is optional here and the service names what is missing.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reporting.models import ReportKind
from reporting.web.display import LOCAL_TZ

DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class LocalDateTimeField(forms.DateTimeField):
    """An ``<input type="datetime-local">`` read as Asia/Shanghai wall time and returned as an aware datetime."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", DATETIME_LOCAL_FORMATS)
        kwargs.setdefault(
            "error_messages", {"invalid": _("请输入有效的日期时间, 如 2026-11-28 09:15 (a valid date and time)")}
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        with timezone.override(LOCAL_TZ):
            return super().to_python(value)

    def prepare_value(self, value):
        if hasattr(value, "astimezone"):
            return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
        return value


def _count(label):
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        max_value=1_000_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0"}),
        error_messages={"invalid": _("请输入整数, 可以为0 (a whole number, 0 allowed)")},
    )


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("报告类型"), choices=ReportKind.choices, widget=forms.RadioSelect)
    occurred_at = LocalDateTimeField(label=_("发生时间"), required=False)
    location = forms.CharField(label=_("地点"), max_length=300, required=False)
    account = forms.CharField(
        label=_("简要经过"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    deaths = _count(_("死亡人数"))
    injuries = _count(_("受伤人数"))
    missing = _count(_("失踪人数"))
    direct_loss_yuan = forms.IntegerField(
        label=_("直接经济损失(元)"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0"}),
        error_messages={"invalid": _("请输入整数, 可以为0 (a whole number, 0 allowed)")},
    )
    measures = forms.CharField(
        label=_("已采取措施"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(
        label=_("联系电话"), max_length=20, required=False, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    call_received_at = LocalDateTimeField(label=_("来电时间(总值班室登记口头报)"), required=False)
    # The draft being edited: filing files that very row (its first save time matters to the 压报 rule).
    draft = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, kinds: list[str], may_log_call: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, ReportKind(k).label) for k in kinds]
        if not may_log_call:
            del self.fields["call_received_at"]

    def report_values(self) -> dict:
        """The cleaned values for ``report_create``: blank text stays blank (so it is named as missing)."""
        data = dict(self.cleaned_data)
        data.pop("kind", None)
        data.pop("draft", None)
        return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
