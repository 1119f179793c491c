"""Admin for chasing: policies with their steps (editable; new obligations freeze the active one), notifications
(read-only), the sweep heartbeat, and each obligation's frozen plan previewed with times."""

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from notifications import escalation, policy_services
from notifications.models import (
    Anchor,
    Audience,
    ChasePlan,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationChannel,
    RosterReminder,
    SweepHeartbeat,
)
from notifications.sweep import clock_of, fired_steps
from reporting.admin.base import ReadOnlyAdmin, ServiceAdmin

#: The channels a step (and its repeats) may send on: every channel with a sender. A voice call (语音外呼) not
#: answered falls back to an SMS to the same person.
STEP_CHANNELS = [
    (c.value, c.label) for c in (NotificationChannel.SMS, NotificationChannel.EMAIL, NotificationChannel.VOICE)
]
#: A step's offset from its deadline: a reminder at most an hour ahead, a late step at most a day after.
OFFSET_MINUTES = (-60, 24 * 60)
#: Repeats while overdue: at least 5 minutes apart and at most 10 of them, so an edit cannot flood a phone.
REPEAT_EVERY_MINUTES, REPEAT_MAX = (5, 24 * 60), 10
#: Step keys with this prefix name the event rules' messages (deaths, grade), which read differently.
RESERVED_PREFIX = "event_"


class EscalationPolicyForm(forms.ModelForm):
    repeat_every_minutes = forms.IntegerField(
        label=_("超时重复间隔(分钟)"), min_value=REPEAT_EVERY_MINUTES[0], max_value=REPEAT_EVERY_MINUTES[1]
    )
    repeat_max = forms.IntegerField(label=_("最多重复次数"), min_value=0, max_value=REPEAT_MAX)

    class Meta:
        model = EscalationPolicy
        fields = list(policy_services.POLICY_FIELDS)


class EscalationStepForm(forms.ModelForm):
    """One step of the ladder: whom (the roster's roles), how (the channels that can send), when (an offset from a
    deadline). Checkboxes instead of JSON, so a step can only name an audience and channels the chasing knows."""

    offset_minutes = forms.IntegerField(
        label=_("偏移(分钟, 负数为提前)"), min_value=OFFSET_MINUTES[0], max_value=OFFSET_MINUTES[1]
    )
    audience = forms.MultipleChoiceField(label=_("对象"), choices=Audience.choices, widget=forms.CheckboxSelectMultiple)
    channels = forms.MultipleChoiceField(label=_("渠道"), choices=STEP_CHANNELS, widget=forms.CheckboxSelectMultiple)
    repeat_channels = forms.MultipleChoiceField(
        label=_("重复渠道"),
        choices=STEP_CHANNELS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("超时重复时使用；不选则为短信。"),
    )

    class Meta:
        model = EscalationStep
        fields = list(policy_services.STEP_FIELDS)  # what the audit event records of a step

    def clean_key(self):
        key = self.cleaned_data["key"]
        if key.startswith(RESERVED_PREFIX):
            raise forms.ValidationError(_("以 event_ 开头的步骤名留给事件通报规则使用，请换一个名称。"))
        return key

    def clean(self):
        data = super().clean()
        if data.get("repeats"):
            offset = data.get("offset_minutes")
            if offset is not None and offset < 0:
                self.add_error("repeats", _("截止前的提醒不能超时重复：只有截止时或截止后的步骤可以重复。"))
            data["repeat_channels"] = data.get("repeat_channels") or [NotificationChannel.SMS.value]
        else:
            data["repeat_channels"] = []
        return data


class EscalationStepFormSet(BaseInlineFormSet):
    """The ladder as a whole: every deadline has a step at or after it, so a missed deadline is always chased. The
    verbal one also carries the relay obligations (SPEC rule 13: one clock, only verbal-anchored steps kept)."""

    default_error_messages = {"too_few_forms": _("催报规则至少要有一个步骤：没有步骤就不会催报任何单位。")}

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return  # each step's own errors first
        kept = [form.cleaned_data for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        if not kept:
            return  # too_few_forms says it
        chased = {step["anchor"] for step in kept if step["offset_minutes"] >= 0}
        missing = [label for value, label in Anchor.choices if value not in chased]
        if missing:
            raise forms.ValidationError(
                [
                    forms.ValidationError(
                        _("%(anchor)s没有截止时或截止后的步骤（偏移不小于 0）：超过这个截止时间不会催报任何人。"),
                        params={"anchor": label},
                    )
                    for label in missing
                ]
            )


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    form = EscalationStepForm
    formset = EscalationStepFormSet
    extra = 0
    min_num = 1  # a ladder with no step chases nobody
    ordering = ["order"]

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, validate_min=True, **kwargs)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ServiceAdmin):
    """A policy and its steps are saved together and recorded as one audit event (``notifications.policy_services``:
    each changed field before and after, steps added, removed and changed)."""

    list_display = ["name", "active", "repeat_every_minutes", "repeat_max"]
    form = EscalationPolicyForm
    inlines = [EscalationStepInline]

    def save_model(self, request, obj, form, change):
        # The ladder as stored before this save; recorded against the saved one once the steps are saved too.
        form.ladder_before = policy_services.ladder(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        policy_services.escalation_policy_saved(
            policy=form.instance, before=form.ladder_before, actor=request.user, now=timezone.now()
        )

    def delete_one(self, request, obj):
        policy_services.escalation_policy_delete(policy=obj, actor=request.user, now=timezone.now())


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "incident", "obligation", "step", "repeat", "channel", "to", "status", "scheduled_for"]
    list_filter = ["status", "channel", "step"]
    search_fields = ["to", "incident__number", "provider_id"]
    list_select_related = ["incident", "obligation__incident", "obligation__unit"]
    date_hierarchy = "scheduled_for"


@admin.register(SweepHeartbeat)
class SweepHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "beat_at", "claimed"]


@admin.register(ChasePlan)
class ChasePlanAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "verbal_due_at", "written_due_at", "verbal_state", "written_state", "next_action_at"]
    list_select_related = ["incident", "unit"]
    readonly_fields = ["preview"]
    fields = ["preview"]

    @admin.display(description=_("计划步骤 (预览)"))
    def preview(self, obj):
        rows = escalation.preview(obj.escalation_plan or [], clock_of(obj), now=timezone.now(), fired=fired_steps(obj))
        return format_html_join(
            "\n",
            "<div>{} &nbsp; {}#{} &nbsp; {} &nbsp; {} &nbsp; [{}]</div>",
            (
                (
                    timezone.localtime(r["at"]).strftime("%Y-%m-%d %H:%M"),
                    r["step"],
                    r["repeat"],
                    ", ".join(r["audience"]),
                    ", ".join(r["channels"]),
                    r["status"],
                )
                for r in rows
            ),
        )


@admin.register(RosterReminder)
class RosterReminderAdmin(ReadOnlyAdmin):
    list_display = ["day", "unit", "status", "gap_seconds", "sent_at"]
    list_filter = ["status", "day"]
