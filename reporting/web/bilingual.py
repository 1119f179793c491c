"""A page shows each message in the page's language only.

The domain words its refusals in both languages (services, ``reporting.deadlines``, the API's fields): the REST API
returns them as they are, and its clients and tests rely on that. The pages choose, here, and nowhere else.

Formats ``split`` understands:

1. ``<zh> (<en>)``: Chinese, then the English in brackets at the very end, with no Chinese inside them. Most services'
   messages: ``结束时间必须晚于开始时间 (ends_at must be after starts_at)``.
2. ``<label> (<field>): <message>``: ``reporting.deadlines.TimeError`` names the field first
   (``发生时间 (occurred_at): 时间不能晚于当前时间 (this time is in the future)``). A page shows the form's own,
   translated label next to the field, so the prefix is dropped and ``<message>`` is read as format 1; a message
   about a field the form does not have keeps the label (``localize(..., keep_label=True)``).
3. ``<zh> — <en>``: an em dash between the halves (``reporting.elements.missing_message``). The forms build their own
   missing-element message from the error's fields (``add_domain_errors``), so this only matters elsewhere.

Anything else is already in one language (Django's own messages, the pages' translated strings) and is shown as it is.

Choosing: the Chinese half is looked up in ``KNOWN`` and ``PATTERNS``, the pages' own wording (msgids in the English
catalogue, worded with the pages' labels rather than raw field names or the API's values), shown in the page's
language. A Chinese page shows any other message's Chinese half; an English page looks it up in the catalogue and
falls back to its English half when nobody translated it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

#: Any CJK ideograph: what makes a half "Chinese".
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_BRACKETED = re.compile(r"^(?P<zh>.*?\S)\s*\((?P<en>[^()]*)\)$", re.S)
_LABELLED = re.compile(r"^(?P<label>[^:()]+?) \((?P<field>[a-z_]+)\): (?P<rest>.+)$", re.S)
_DASHED = re.compile(r"^(?P<zh>.*?\S)\s+—\s+(?P<en>.+)$", re.S)
#: A raw field name after its label in the Chinese half (``简要经过 (account)``): the pages never show it.
_FIELD_NAME = re.compile(r" \([a-z_]+\)")

#: The Chinese half of the domain's fixed messages, as the pages word them (the msgid is usually the same text).
KNOWN: dict[str, Promise] = {
    # reporting.deadlines
    "首次知悉时间必填": _("首次知悉时间必填"),
    "首次知悉时间不能早于事件发生时间": _("首次知悉时间不能早于事件发生时间"),
    "时间必填": _("时间必填"),
    "时间不能晚于当前时间": _("时间不能晚于当前时间"),
    "来电时间不能晚于登记时间": _("来电时间不能晚于登记时间"),
    "来电时间最多早于登记时间30分钟": _("来电时间最多早于登记时间30分钟"),
    "不是有效的时间": _("不是有效的时间"),
    # reporting.services, obligation_services, report_services, signal_services
    "必须是不小于0的整数": _("必须是不小于0的整数"),
    "至少指定一个责任单位": _("至少指定一个责任单位"),
    "该字段不可修改": _("该字段不可修改"),
    "必须说明原因": _("必须说明原因"),
    "该义务已完成报送": _("该义务已完成报送"),
    "仅垂直管理(拉条)单位可登记向市级报告时间": _("仅垂直管理(拉条)单位可登记向市级报告时间"),
    "仅口头报可填写来电时间": _("仅口头报可填写来电时间"),
    "仅总值班室登记口头报时可填写": _("仅总值班室登记口头报时可填写"),
    "该报告已报送": _("该报告已报送"),
    "该线索已关联其他事件": _("该线索已关联其他事件"),
    "该线索已关联事件": _("该线索已关联事件"),
    # reporting.roster_services
    "结束时间必须晚于开始时间": _("结束时间必须晚于开始时间"),
    "一个班次不能超过 7 天": _("一个班次不能超过 7 天"),
    "该人员不属于此单位": _("该人员不属于此单位"),
    "该人员已停用, 不能排班": _("该人员已停用, 不能排班"),
    "此人还有未结束的班次, 请先删除这些班次再调动单位": _("此人还有未结束的班次, 请先删除这些班次再调动单位"),
    # reporting.findings_services: the domain's Chinese names the API's values; the page names its choices.
    "审核结论须为 confirmed 或 dismissed": _("请选择审核结论: 确认或排除"),
    "必须填写审核理由": _("必须填写审核理由"),
    # reporting.text and reporting.api.fields
    "不能包含控制字符": _("不能包含控制字符"),
    "手机号码须为 E.164 格式, 如 +8617000000001": _("手机号码须为 E.164 格式, 如 +8617000000001"),
}


def _unit_label(code: str) -> str:
    from reporting.models import Unit

    unit = Unit.objects.filter(code=code).first()
    return unit.label if unit is not None else code


def _grade_label(value: str) -> str:
    from reporting.models import Grade

    return str(Grade(value).label) if value in Grade.values else value


#: Messages with figures or codes in them: the Chinese half's pattern, the page's wording (a msgid with the
#: pattern's named groups) and how a group is shown (a unit's code as its name in the page's language).
PATTERNS: list[tuple[re.Pattern[str], Promise, dict[str, Callable[[str], str]]]] = [
    (
        re.compile(r"^重伤人数\((?P<serious>\d+)\)不能多于受伤人数\((?P<injuries>\d+)\), 重伤者计入受伤人数$"),
        _("重伤人数(%(serious)s)不能多于受伤人数(%(injuries)s), 重伤者计入受伤人数"),
        {},
    ),
    (
        re.compile(r"^填写重伤人数\((?P<serious>\d+)\)时须同时填写受伤人数, 重伤者计入受伤人数$"),
        _("填写重伤人数(%(serious)s)时须同时填写受伤人数, 重伤者计入受伤人数"),
        {},
    ),
    (
        re.compile(r"^等级不能低于计算等级 (?P<grade>\S+)$"),
        _("等级不能低于计算等级: %(grade)s"),
        {"grade": _grade_label},
    ),
    (
        re.compile(r"^该单位已是本事件的责任单位: (?P<unit>\S+)$"),
        _("该单位已是本事件的责任单位: %(unit)s"),
        {"unit": _unit_label},
    ),
    (re.compile(r"^班次数须在 1 到 (?P<n>\d+) 之间$"), _("班次数须在 1 到 %(n)s 之间"), {}),
    (re.compile(r"^间隔天数须在 1 到 (?P<n>\d+) 之间$"), _("间隔天数须在 1 到 %(n)s 之间"), {}),
    (re.compile(r"^审核理由不能超过(?P<n>\d+)字$"), _("审核理由不能超过%(n)s字"), {}),
]


def split(message: str) -> tuple[str, str | None, str | None]:
    """``(Chinese half, English half, label)`` of a bilingual message (formats above); a message in one language
    gives ``(message, None, None)``. ``label`` is the Chinese field label of format 2, else None."""
    label = None
    labelled = _LABELLED.match(message)
    if labelled and CJK.search(labelled["label"]):
        label, message = labelled["label"], labelled["rest"]
    for pattern in (_BRACKETED, _DASHED):
        match = pattern.match(message)
        if match and CJK.search(match["zh"]) and not CJK.search(match["en"]):
            return _FIELD_NAME.sub("", match["zh"]), match["en"], label
    return message, None, label


def _worded(zh: str) -> str | None:
    """The pages' own wording of a known Chinese half, in the active language; None for an unknown one."""
    if zh in KNOWN:
        return str(KNOWN[zh])
    for pattern, wording, shown in PATTERNS:
        match = pattern.match(zh)
        if match:
            return str(wording) % {k: shown.get(k, str)(v) for k, v in match.groupdict().items()}
    return None


def localize(message: str, *, keep_label: bool = False) -> str:
    """``message`` in the active language only (see the module's docstring)."""
    message = str(message)
    zh, en, label = split(message)
    if en is None and label is None:
        return message
    text = _worded(zh)
    if (get_language() or "").startswith("en"):
        if text is None:
            translated = gettext(zh)
            text = translated if translated != zh or en is None else en
        label = gettext(label) if label else None
    elif text is None:
        text = zh
    return f"{label}: {text}" if keep_label and label else text


def localize_error(error: ValidationError | str) -> ValidationError:
    """A ``ValidationError`` (as ``Form.add_error`` takes it) with every message localized."""
    if not isinstance(error, ValidationError):
        error = ValidationError(error)
    if hasattr(error, "error_dict"):
        return ValidationError(
            {field: [localize(m) for m in ValidationError(errs)] for field, errs in error.error_dict.items()}
        )
    return ValidationError([ValidationError(localize(m), code=e.code) for e in error.error_list for m in e])


class LocalizedErrorsForm(forms.Form):
    """A form whose errors are in the page's language whatever words them (validators shared with the API,
    domain errors added by the view)."""

    def add_error(self, field, error):
        super().add_error(field, localize_error(error))
