"""Django admin for the domain; filed reports and audit events are read-only.

The organisation (units, people, shifts, users, tokens, policies) is in ``organisation``, incidents and what
follows from them in ``incidents``; ``base`` has the admin classes both use.

Records whose changes the rules govern (obligations and their clocks, reports, refused reports, signals, breaches,
audit events) are view-only here: they change only through ``reporting.services``, which judges and audits each
change. An incident's figures and grade may be edited, and that edit goes through ``incident_update`` (regrade,
never below the computed grade, one audit event); a finding's review goes through ``finding_review`` (a reason, who
and when, one audit event).

Every other edit here is audited too (SPEC "Integrity and access"): units, users (and a staff user's own password
change), API tokens, permission groups and reporting policies through ``reporting.config_services``, people and
shifts through ``reporting.roster_services`` (so the roster's change log shows them), each through a
``ServiceAdmin``.
"""

from django.contrib import admin

from reporting.admin import incidents, organisation  # noqa: F401 (registers the model admins)
from reporting.web.login import AdminLoginForm

admin.site.login_form = AdminLoginForm  # the same limit on guessing as the pages' login
admin.site.password_change_form = organisation.AuditedPasswordChangeForm  # on the audit chain, as other user changes
