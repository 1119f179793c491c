"""Admin for incidents and what follows from them: obligations, reports, signals, findings, audit events,
breaches. Only an incident's facts and a finding's review are edited here, through their services."""

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reporting import deadlines, grading, services
from reporting import models as m
from reporting.admin.base import ReadOnlyAdmin
from reporting.findings_services import finding_review, review_errors
from reporting.web.display import EVENT_LABELS


class ObligationInline(admin.TabularInline):
    model = m.Obligation
    extra = 0
    can_delete = False
    fields = ("unit", "kind", "first_known_at", "verbal_due_at", "written_due_at", "verbal_state", "written_state")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class IncidentAdminForm(forms.ModelForm):
    class Meta:
        model = m.Incident
        fields = [
            "title",
            "domain",
            "occurred_at",
            "location",
            "summary",
            "deaths",
            "injuries",
            "serious_injuries",
            "missing",
            "direct_loss_yuan",
            "grade",
            "sensitive",
        ]

    def clean(self):
        """SPEC rule 9: a human may set the grade higher than the figures give, never lower. SPEC rule 6: the
        occurrence time is not in the future and not after any unit's first-known time."""
        cleaned = super().clean()
        occurred_at = cleaned.get("occurred_at")
        if occurred_at is not None and self.instance.pk is not None and "occurred_at" in self.changed_data:
            known = list(self.instance.obligations.values_list("first_known_at", flat=True))
            try:
                deadlines.check_incident_times(occurred_at=occurred_at, first_known_at=known, now=timezone.now())
            except deadlines.TimeError as exc:
                self.add_error("occurred_at" if exc.field == "occurred_at" else None, exc.message)
        figures = {f: cleaned.get(f, getattr(self.instance, f)) or 0 for f in services.FIGURES}
        serious = services.serious_injuries_error(
            serious_injuries=figures["serious_injuries"], injuries=figures["injuries"]
        )
        if serious and "serious_injuries" not in self.errors:
            self.add_error("serious_injuries", serious)
        computed = grading.compute_grade(**figures)
        grade = cleaned.get("grade")
        if grade and grading.is_lower(grade, computed):
            self.add_error("grade", f"等级不能低于按数字计算的等级 {computed} (grade is lower than computed)")
        return cleaned


@admin.register(m.Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentAdminForm
    list_display = ("number", "title", "domain", "grade", "occurred_at", "exercise")
    list_filter = ("domain", "grade", "exercise", "sensitive")
    search_fields = ("number", "title", "location")
    date_hierarchy = "occurred_at"
    readonly_fields = ("number", "grade_computed", "exercise", "created_by", "created_at", "updated_at")
    inlines = [ObligationInline]

    def has_add_permission(self, request):
        # An incident is opened with its responsible units and their clocks (API or web form), never bare.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in services.UPDATABLE}
        if changes:
            services.incident_update(incident=obj, actor=request.user, now=timezone.now(), **changes)
            obj.refresh_from_db()


@admin.register(m.Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    list_display = ("incident", "unit", "kind", "first_known_at", "verbal_state", "written_state", "next_action_at")
    list_filter = ("kind", "verbal_state", "written_state")
    search_fields = ("incident__number", "unit__code")
    list_select_related = ("incident", "unit")


@admin.register(m.Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("incident", "unit", "kind", "sequence", "filed_at", "on_time", "delay_seconds")
    list_filter = ("kind", "on_time")
    search_fields = ("incident__number", "unit__code")
    list_select_related = ("incident", "unit")


@admin.register(m.RefusedReport)
class RefusedReportAdmin(ReadOnlyAdmin):
    list_display = ("obligation", "kind", "attempted_at", "missing_elements")


@admin.register(m.Signal)
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("source", "external_id", "delivered_to", "delivered_at", "incident")
    list_filter = ("source",)
    search_fields = ("external_id", "summary")


class FindingAdminForm(forms.ModelForm):
    """Only the review is edited here (confirm or dismiss, with a reason), and only through ``finding_review``."""

    class Meta:
        model = m.Finding
        fields = ["review", "reason"]

    def clean(self):
        cleaned = super().clean()
        if "review" in self.changed_data or "reason" in self.changed_data:
            errors = review_errors(decision=cleaned.get("review"), reason=cleaned.get("reason") or "")
            for field, messages in errors.items():
                self.add_error("review" if field == "decision" else field, messages)
        return cleaned


@admin.register(m.Finding)
class FindingAdmin(admin.ModelAdmin):
    form = FindingAdminForm
    list_display = ("kind", "unit", "incident", "suspected", "review", "found_at", "withdrawn_at")
    # withdrawn_at: set by the recompute when the data no longer supports the finding (never edited here).
    list_filter = ("kind", "review", "suspected", "exercise", ("withdrawn_at", admin.EmptyFieldListFilter))
    readonly_fields = (
        "kind",
        "key",
        "unit",
        "incident",
        "obligation",
        "report",
        "signal",
        "detail",
        "found_at",
        "withdrawn_at",
        "reviewed_by",
        "reviewed_at",
    )

    def has_add_permission(self, request):
        return False  # findings are computed from the record, never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # a finding stays on record; an auditor dismisses it

    def save_model(self, request, obj, form, change):
        # A review is a decision with a reason, who and when, appended to the audit chain (SPEC "Audit findings").
        if "review" in form.changed_data or "reason" in form.changed_data:
            finding_review(
                finding=obj,
                decision=form.cleaned_data["review"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                now=timezone.now(),
            )
            obj.refresh_from_db()


@admin.register(m.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "kind", "kind_label", "actor", "incident", "object_type", "object_id")
    list_filter = ("kind",)
    search_fields = ("kind", "actor", "object_id")

    @admin.display(description=_("事件名称"))
    def kind_label(self, obj):
        return EVENT_LABELS.get(obj.kind, "")


@admin.register(m.DeadlineBreach)
class DeadlineBreachAdmin(ReadOnlyAdmin):
    list_display = ("obligation", "deadline", "due_at", "recorded_at")
