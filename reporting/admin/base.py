"""The admin classes the domain's model admins are built on."""

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpResponseRedirect

from reporting.errors import DomainError


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


def form_changes(form) -> dict:
    """The fields the admin's form changed, with their new values. Not filtered: a service refuses a field it
    does not know (``ValueError``) rather than a field being left unsaved or unrecorded."""
    return {f: form.cleaned_data[f] for f in form.changed_data}


def adopt_saved(obj, saved) -> None:
    """Make the admin's unsaved ``obj`` the row a service created (the admin logs and redirects to ``obj``)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records, or records only the services may change: visible, never changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
