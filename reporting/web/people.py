"""A unit's people (人员): who can be put on its roster and who the chasing falls back to (默认联系人).

Unit staff keep their own unit's people, the duty room anyone's, with the same access as the roster
(``reporting.web.roster``). A person is never deleted here: notifications and audit events name them, so one who
has left is made inactive, which takes them off the roster at once.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from reporting import roster_services
from reporting.models import Contact, Unit
from reporting.web.access import MANAGE_ROLES, role_of
from reporting.web.forms import ContactFieldsForm, error_summary
from reporting.web.roster import may_edit, readable_unit

#: What the page edits (a district leader's portfolio and notification flag are the duty room's, through the API).
PERSON_FIELDS = ("name", "phone", "email", "role", "is_default", "active")


class PersonForm(ContactFieldsForm):
    role = forms.ChoiceField(label=gettext_lazy("职务"))
    is_default = forms.BooleanField(
        label=gettext_lazy("默认联系人 (无人在岗时通知)"),
        required=False,
    )

    def __init__(self, *args, unit: Unit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in roster_services.unit_roles(unit)]


def _people_page(request, unit: Unit, *, form: PersonForm | None = None, status: int = 200):
    editable = may_edit(request.user, unit)
    if editable and form is None:
        form = PersonForm(unit=unit, initial={"active": True})
    context = {
        "unit": unit,
        "people": Contact.objects.filter(unit=unit).order_by("-active", "name", "id"),
        "editable": editable,
        "may_keep_leaders": role_of(request.user) in MANAGE_ROLES,  # on the leaders page
        "form": form if editable else None,
        "errors": error_summary(form) if form is not None and form.is_bound else [],
    }
    return render(request, "web/roster_people.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def people(request, code: str):
    unit = readable_unit(request.user, code)
    if request.method == "GET":
        return _people_page(request, unit)
    if not may_edit(request.user, unit):
        raise Http404("no such action")
    form = PersonForm(request.POST, unit=unit)
    if not form.is_valid():
        return _people_page(request, unit, form=form, status=400)
    person = roster_services.contact_create(
        unit=unit, **{f: form.cleaned_data[f] for f in PERSON_FIELDS}, actor=request.user, now=timezone.now()
    )
    messages.success(request, _("已添加 %(name)s。") % {"name": person.name})
    return redirect("web:people", unit.code)


@require_http_methods(["GET", "POST"])
@login_required
def person_edit(request, contact_id: int):
    person = Contact.objects.select_related("unit").filter(pk=contact_id).first()
    if (
        person is None
        or not may_edit(request.user, person.unit)
        or person.role not in roster_services.unit_roles(person.unit)
    ):
        raise Http404("no such person")
    unit = person.unit
    if request.method == "POST":
        form = PersonForm(request.POST, unit=unit)
        if form.is_valid():
            roster_services.contact_update(
                contact=person,
                changes={f: form.cleaned_data[f] for f in PERSON_FIELDS},
                actor=request.user,
                now=timezone.now(),
            )
            messages.success(request, _("已保存 %(name)s。") % {"name": form.cleaned_data["name"]})
            return redirect("web:people", unit.code)
        status = 400
    else:
        form = PersonForm(unit=unit, initial={f: getattr(person, f) for f in PERSON_FIELDS})
        status = 200
    context = {"unit": unit, "person": person, "form": form, "errors": error_summary(form) if form.is_bound else []}
    return render(request, "web/roster_person.html", context, status=status)
