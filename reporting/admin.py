"""Django admin for the domain; filed reports and audit events are read-only.

Records whose changes the rules govern (obligations and their clocks, reports, refused reports, signals, breaches,
audit events) are view-only here: they change only through ``reporting.services``, which judges and audits each
change. An incident's figures and grade may be edited, and that edit goes through ``incident_update`` (regrade,
never below the computed grade, one audit event); a finding's review goes through ``finding_review`` (a reason, who
and when, one audit event).

Every other edit here is audited too (SPEC "Integrity and access"): units, users, API tokens and reporting policies
through ``reporting.config_services``, people and shifts through ``reporting.roster_services`` (so the roster's
change log shows them), each through a ``ServiceAdmin``.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from reporting import config_services, deadlines, grading, roster_services, services
from reporting import models as m
from reporting.errors import DomainError
from reporting.findings_services import finding_review, review_errors
from reporting.web.display import EVENT_LABELS


class ServiceAdmin(admin.ModelAdmin):
    """An admin whose writes go through a service, which appends the audit event (SPEC "Integrity and access").

    Subclasses save in ``save_model`` and delete in ``delete_one``; ``delete_model`` and the bulk "delete selected"
    action both go through ``delete_one``. The forms check what the services refuse, so a refusal is a form error;
    one the form could not foresee (a concurrent change) is shown as an error message, never a server error.
    """

    def delete_one(self, request, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_one(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_one(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            return self._refused(request, exc)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (DomainError, ProtectedError) as exc:
            return self._refused(request, exc)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except (DomainError, ProtectedError) as exc:
            return self._refused(request, exc)

    def _refused(self, request, exc):
        if isinstance(exc, DomainError):
            text = "; ".join(str(message) for messages_ in exc.errors.values() for message in messages_)
        else:
            text = "已被其他记录引用, 不能删除 (referenced by other records; cannot be deleted)"
        self.message_user(request, text, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())


def _changes(form) -> dict:
    """The fields the admin's form changed, with their new values. Not filtered: a service refuses a field it
    does not know (``ValueError``) rather than a field being left unsaved or unrecorded."""
    return {f: form.cleaned_data[f] for f in form.changed_data}


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved ``obj`` the row a service created (the admin logs and redirects to ``obj``)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db


@admin.register(m.Unit)
class UnitAdmin(ServiceAdmin):
    """Units through ``config_services``: ``unit_added`` / ``unit_changed`` (incl. ``vertical``, ``active``) /
    ``unit_removed``."""

    list_display = ("code", "name", "kind", "vertical", "active")
    list_filter = ("kind", "vertical", "active")
    search_fields = ("code", "name", "name_en")

    def get_readonly_fields(self, request, obj=None):
        """A unit's code is permanent once created, as in the API: feeds, the audit chain and the roster's change
        log name units by it."""
        return ("code",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            config_services.unit_update(unit=obj, changes=_changes(form), actor=request.user, now=timezone.now())
        else:
            config_services.unit_create(unit=obj, actor=request.user, now=timezone.now())

    def delete_one(self, request, obj):
        config_services.unit_delete(unit=obj, actor=request.user, now=timezone.now())


class ContactAdminForm(forms.ModelForm):
    class Meta:
        model = m.Contact
        fields = ["unit", *roster_services.CONTACT_FIELDS]

    def clean(self):
        """What ``contact_update`` refuses: a person with shifts not ended does not move to another unit."""
        cleaned = super().clean()
        if self.instance.pk is not None and "unit" in self.changed_data:
            for message in roster_services.contact_move_errors(self.instance, now=timezone.now()).get("unit", []):
                self.add_error("unit", message)
        return cleaned


@admin.register(m.Contact)
class ContactAdmin(ServiceAdmin):
    """People through ``roster_services``: the roster's change log (/roster/<code>/) shows admin edits too."""

    form = ContactAdminForm
    list_display = ("name", "unit", "role", "phone", "email", "is_default", "active")
    list_filter = ("role", "is_default", "active")
    search_fields = ("name", "phone", "email", "unit__code")
    list_select_related = ("unit",)

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if change:
            roster_services.contact_update(contact=obj, changes=_changes(form), actor=request.user, now=now)
        else:
            values = {f: form.cleaned_data[f] for f in roster_services.CONTACT_FIELDS}
            saved = roster_services.contact_create(
                unit=form.cleaned_data["unit"], **values, actor=request.user, now=now
            )
            _adopt(obj, saved)

    def delete_one(self, request, obj):
        roster_services.contact_delete(contact=obj, actor=request.user, now=timezone.now())


class ShiftAdminForm(forms.ModelForm):
    class Meta:
        model = m.Shift
        fields = list(roster_services.SHIFT_FIELDS)

    def clean(self):
        """What ``shifts_create`` and ``shift_update`` refuse, as form errors."""
        cleaned = super().clean()
        values = [cleaned.get(f) for f in ("unit", "contact", "starts_at", "ends_at")]
        if all(v is not None for v in values) and (not self.instance.pk or self.changed_data):
            unit, contact, starts_at, ends_at = values
            errors = roster_services.shift_errors(unit=unit, contact=contact, starts_at=starts_at, ends_at=ends_at)
            for field, messages_ in errors.items():
                for message in messages_:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(m.Shift)
class ShiftAdmin(ServiceAdmin):
    """Shifts through ``roster_services``; an edit is recorded as the shift taken off and put on again."""

    form = ShiftAdminForm
    list_display = ("unit", "contact", "role", "starts_at", "ends_at")
    list_filter = ("role",)
    search_fields = ("unit__code", "contact__name")
    list_select_related = ("unit", "contact")
    date_hierarchy = "starts_at"

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if change:
            changes = _changes(form)
            roster_services.shift_update(shift=obj, changes=changes, actor=request.user, now=now)
        else:
            values = {f: form.cleaned_data[f] for f in roster_services.SHIFT_FIELDS}
            (saved,) = roster_services.shifts_create(**values, actor=request.user, now=now)
            _adopt(obj, saved)

    def delete_one(self, request, obj):
        roster_services.shift_delete(shift=obj, actor=request.user, now=timezone.now())


@admin.register(m.User)
class TrackerUserAdmin(ServiceAdmin, UserAdmin):
    """Users through ``config_services``: ``user_added`` / ``user_changed`` (role, unit, deactivation, staff and
    superuser flags, groups, permissions; a password only as changed) / ``user_removed``."""

    list_display = ("username", "role", "unit", "is_active", "is_superuser")
    list_filter = ("role", "is_active", "is_superuser")
    fieldsets = (*UserAdmin.fieldsets, ("角色 / Role", {"fields": ("role", "unit", "contact")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("角色 / Role", {"fields": ("role", "unit", "contact")}))

    def save_model(self, request, obj, form, change):
        if change:
            changes = _changes(form)
            config_services.user_update(user=obj, changes=changes, actor=request.user, now=timezone.now())
        else:
            # The add form has set the password (or made it unusable) on ``obj``.
            config_services.user_create(user=obj, actor=request.user, now=timezone.now())

    def delete_one(self, request, obj):
        config_services.user_delete(user=obj, actor=request.user, now=timezone.now())

    def user_change_password(self, request, id, form_url=""):
        """Django's own password form; a new (or disabled) password is recorded as such, never its hash."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None and request.method == "POST":
                after = m.User.objects.filter(pk=user.pk).values_list("password", flat=True).first()
                if after != before:
                    config_services.user_password_changed(user=user, actor=request.user, now=timezone.now())
            return response


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class AuditedTokenAdmin(ServiceAdmin, TokenAdmin):
    """DRF's token admin, audited: ``token_created`` / ``token_removed`` (who, for whom; never the key). A token is
    created or revoked, never edited (giving a token to another user would be both)."""

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        config_services.token_replace(user=obj.user, token=obj, actor=request.user, now=timezone.now())

    def delete_one(self, request, obj):
        config_services.token_delete(token=obj, actor=request.user, now=timezone.now())


@admin.register(m.ReportingPolicy)
class ReportingPolicyAdmin(ServiceAdmin):
    """SPEC rule 1's minutes through ``config_services``: ``reporting_policy_added`` / ``_changed`` (each changed
    field before and after) / ``_removed``."""

    list_display = ("grade", "verbal_minutes", "written_minutes", "relay_minutes")

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if change:
            changes = _changes(form)
            config_services.reporting_policy_update(policy=obj, changes=changes, actor=request.user, now=now)
        else:
            config_services.reporting_policy_create(policy=obj, actor=request.user, now=now)

    def delete_one(self, request, obj):
        config_services.reporting_policy_delete(policy=obj, actor=request.user, now=timezone.now())


class ObligationInline(admin.TabularInline):
    model = m.Obligation
    extra = 0
    can_delete = False
    fields = ("unit", "kind", "first_known_at", "verbal_due_at", "written_due_at", "verbal_state", "written_state")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records, or records only the services may change: visible, never changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
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
    list_display = ("kind", "unit", "incident", "suspected", "review", "found_at")
    list_filter = ("kind", "review", "suspected", "exercise")
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
