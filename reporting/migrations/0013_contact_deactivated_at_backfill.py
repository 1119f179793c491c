# Data migration of 0012: when people were made inactive (and active again), from the audit chain.

from django.db import migrations


def from_the_audit_chain(apps, schema_editor):
    """When each person was last made inactive (and active again), as the chain recorded it (``contact_changed``
    with ``changed.active``); none recorded: left null (the coverage counts them as before: never, if inactive)."""
    AuditEvent = apps.get_model("reporting", "AuditEvent")
    Contact = apps.get_model("reporting", "Contact")
    moments = {}
    events = AuditEvent.objects.filter(kind="contact_changed", object_type="contact", detail__changed__has_key="active")
    for event in events.order_by("id").iterator():
        before_after = event.detail["changed"]["active"]
        field = "deactivated_at" if before_after == [True, False] else "reactivated_at"
        moments.setdefault(event.object_id, {})[field] = event.at
    for contact in Contact.objects.filter(pk__in=[int(pk) for pk in moments if pk.isdigit()]):
        for field, at in moments[str(contact.pk)].items():
            setattr(contact, field, at)
        contact.save(update_fields=["deactivated_at", "reactivated_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0012_contact_deactivated_at"),
    ]

    operations = [
        migrations.RunPython(from_the_audit_chain, migrations.RunPython.noop),
    ]
