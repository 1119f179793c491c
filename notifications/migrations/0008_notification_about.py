"""``Notification.about``: the person a message asks its recipient to reach (an event rule's fallback to the duty
room names the district leader whose SMS failed), part of ``notification_exactly_once``. Before it, two leaders
unreached on one step got the duty room asked about the first one only. Rows of older fallbacks are filled in by
0009."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0007_early_status_callback'),
        ('reporting', '0008_relay_one_clock'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='about',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='reporting.contact', verbose_name='需联系的人'),
        ),
        migrations.RemoveConstraint(
            model_name='notification',
            name='notification_exactly_once',
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.UniqueConstraint(fields=('incident', 'obligation', 'step', 'repeat', 'recipient', 'channel', 'about'), name='notification_exactly_once', nulls_distinct=False),
        ),
    ]
