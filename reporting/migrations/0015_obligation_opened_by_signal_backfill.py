"""Fill ``Obligation.opened_by_signal`` for obligations a signal's delivery opened before the field existed.

The audit events say which: the signal's evidence (``signal_services._apply_signal_evidence``) opened the obligation
in the transaction that linked or received the signal, so its ``obligation_created`` event comes right after that
signal's ``signal_linked`` or ``signal_received`` event, at the same moment, with the signal's source as channel and
its delivery as the declared time. An obligation the duty room opened itself (also one for the unit a signal was
delivered to, when it named that unit) was created before the signal was linked, so it is never matched.

Data migration, separate from the schema change. Reversible: the reverse clears the field. No audit event is
written, as in ``0008_relay_one_clock``.
"""

from django.db import migrations

SIGNAL_SOURCES = ("110", "119", "120", "12345", "suishenpai", "city")


def backfill(apps, schema_editor):
    AuditEvent = apps.get_model("reporting", "AuditEvent")
    Obligation = apps.get_model("reporting", "Obligation")
    Signal = apps.get_model("reporting", "Signal")
    created = AuditEvent.objects.filter(kind="obligation_created", object_type="obligation").order_by("id")
    for event in created.iterator(chunk_size=2000):
        detail = event.detail if isinstance(event.detail, dict) else {}
        if detail.get("kind", "report") != "report" or detail.get("channel") not in SIGNAL_SOURCES:
            continue
        obligation = Obligation.objects.filter(pk=int(event.object_id), opened_by_signal__isnull=True).first()
        if obligation is None or obligation.declared_first_known_at is None:
            continue
        candidates = Signal.objects.filter(
            delivered_to_id=obligation.unit_id,
            delivered_at=obligation.declared_first_known_at,
            source=detail["channel"],
        ).values_list("pk", flat=True)
        signal_event = (
            AuditEvent.objects.filter(
                kind__in=("signal_linked", "signal_received"),
                object_type="signal",
                object_id__in=[str(pk) for pk in candidates],
                incident_id=event.incident_id,
                at=event.at,
                id__lt=event.id,
            )
            .order_by("-id")
            .first()
        )
        if signal_event is not None:
            Obligation.objects.filter(pk=obligation.pk).update(opened_by_signal_id=int(signal_event.object_id))


def clear(apps, schema_editor):
    apps.get_model("reporting", "Obligation").objects.update(opened_by_signal=None)


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0014_obligation_opened_by_signal"),
    ]

    operations = [
        migrations.RunPython(backfill, clear),
    ]
