"""Admin for the organisation: units, people, shifts, users, API tokens, permission groups and reporting policies,
each edit through a service that audits it; a staff user's own password change too."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from reporting import config_services, roster_services
from reporting import models as m
from reporting.admin.base import ServiceAdmin, adopt_saved, form_changes


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
            config_services.unit_update(unit=obj, changes=form_changes(form), actor=request.user, now=timezone.now())
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
            roster_services.contact_update(contact=obj, changes=form_changes(form), actor=request.user, now=now)
        else:
            values = {f: form.cleaned_data[f] for f in roster_services.CONTACT_FIELDS}
            saved = roster_services.contact_create(
                unit=form.cleaned_data["unit"], **values, actor=request.user, now=now
            )
            adopt_saved(obj, saved)

    def delete_one(self, request, obj):
        roster_services.contact_delete(contact=obj, actor=request.user, now=timezone.now())


class ShiftAdminForm(forms.ModelForm):
    class Meta:
        model = m.Shift
        fields = list(roster_services.SHIFT_FIELDS)

    def clean(self):
        """What ``shifts_create`` and ``shift_update`` refuse, as form errors."""
        cleaned = super().clean()
        values = [cleaned.get(f) for f in ("unit", "contact", "role", "starts_at", "ends_at")]
        if all(v is not None for v in values) and (not self.instance.pk or self.changed_data):
            unit, contact, role, starts_at, ends_at = values
            errors = roster_services.shift_errors(
                unit=unit, contact=contact, role=role, starts_at=starts_at, ends_at=ends_at, exclude=self.instance.pk
            )
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
            changes = form_changes(form)
            roster_services.shift_update(shift=obj, changes=changes, actor=request.user, now=now)
        else:
            values = {f: form.cleaned_data[f] for f in roster_services.SHIFT_FIELDS}
            (saved,) = roster_services.shifts_create(**values, actor=request.user, now=now)
            adopt_saved(obj, saved)

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
            changes = form_changes(form)
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


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change my password" (/admin/password_change/, ``admin.site.password_change_form``): recorded as
    the user's ``user_changed`` with ``"password": "changed"``, as a password set on the user's admin page is, in the
    same transaction as the new password (never the password or its hash)."""

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                config_services.user_password_changed(user=user, actor=user, now=timezone.now())
        return user


admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(ServiceAdmin, GroupAdmin):
    """Django's group admin through ``config_services``: ``group_added`` (with its permissions and members) /
    ``group_changed`` (name, permissions) / ``group_removed``. Who is in a group is edited on the user's page and
    recorded there (``user_changed`` ``groups``)."""

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if change:
            config_services.group_update(group=obj, changes=form_changes(form), actor=request.user, now=now)
        else:
            permissions = form.cleaned_data.get("permissions") or []
            config_services.group_create(group=obj, permissions=permissions, actor=request.user, now=now)

    def delete_one(self, request, obj):
        config_services.group_delete(group=obj, actor=request.user, now=timezone.now())


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class AuditedTokenAdmin(ServiceAdmin, TokenAdmin):
    """DRF's token admin, audited: ``token_created`` / ``token_removed`` (who, for whom; never the key). A token is
    created or revoked, never edited (giving a token to another user would be both). The list never shows the keys:
    a key is shown once, to whoever created it (the API's token endpoints), not to every admin afterwards."""

    list_display = ("key_hint", "user", "created")
    fields = ("user",)

    @admin.display(description="key")
    def key_hint(self, obj) -> str:
        return f"{obj.key[:4]}…" if obj.key else ""

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        token = config_services.token_replace(user=obj.user, token=obj, actor=request.user, now=timezone.now())
        self.message_user(
            request,
            f"{obj.user.username} 的新令牌 (仅显示这一次; shown only this once): {token.key}",
            messages.WARNING,
        )

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
            changes = form_changes(form)
            config_services.reporting_policy_update(policy=obj, changes=changes, actor=request.user, now=now)
        else:
            config_services.reporting_policy_create(policy=obj, actor=request.user, now=now)

    def delete_one(self, request, obj):
        config_services.reporting_policy_delete(policy=obj, actor=request.user, now=timezone.now())
