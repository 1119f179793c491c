"""Admin for chasing: policies with their steps (editable; new obligations freeze the active one), notifications
(read-only), the sweep heartbeat, and each obligation's frozen plan previewed with times."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from notifications import escalation, policy_services
from notifications.models import (
    ChasePlan,
    EscalationPolicy,
    EscalationStep,
    Notification,
    RosterReminder,
    SweepHeartbeat,
)
from notifications.sweep import clock_of, fired_steps
from reporting.admin.base import ReadOnlyAdmin, ServiceAdmin


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    ordering = ["order"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ServiceAdmin):
    """A policy and its steps are saved together and recorded as one audit event (``notifications.policy_services``:
    each changed field before and after, steps added, removed and changed)."""

    list_display = ["name", "active", "repeat_every_minutes", "repeat_max"]
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
