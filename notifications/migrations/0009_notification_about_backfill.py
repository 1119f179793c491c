"""Fill in ``about`` on the event rules' fallbacks written before 0008: an incident-level row (no obligation) that is
a fallback for someone other than the person its chain started with (the duty room, asked to phone a district
leader) is about that person. Its text named them by walking ``fallback_of``; now it reads ``about``
(``notifications.messages._unreached``), and exactly once tells those rows apart from the duty room's questions about
another leader. Every other row stays about nobody.

Data migration, separate from the schema change. Adding a value to rows that were already unique cannot make two of
them equal. The reverse does nothing: 0008's reverse drops the column, and fails if the duty room was asked about
two leaders of one step, which the old constraint cannot hold.
"""

from django.db import migrations


def fill_about(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    rows = Notification.objects.filter(obligation__isnull=True)
    parent = dict(rows.values_list("pk", "fallback_of_id"))
    recipient = dict(rows.values_list("pk", "recipient_id"))
    for pk in rows.filter(fallback_of__isnull=False, about__isnull=True).values_list("pk", flat=True):
        first = pk
        while parent.get(first) is not None:
            first = parent[first]
        leader = recipient.get(first)
        if leader is not None and leader != recipient[pk]:
            Notification.objects.filter(pk=pk).update(about_id=leader)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0008_notification_about"),
    ]

    operations = [
        migrations.RunPython(fill_about, migrations.RunPython.noop),
    ]
