"""``Obligation.opened_by_signal``: the signal whose delivery opened an obligation no one declared a time for (SPEC
rule 5), so that unlinking that signal knows the obligation rests on nothing else (``signal_services.signal_unlink``).
Schema only; ``0015_obligation_opened_by_signal_backfill`` fills it for obligations opened before."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0013_contact_deactivated_at_backfill"),
    ]

    operations = [
        migrations.AddField(
            model_name="obligation",
            name="opened_by_signal",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="reporting.signal",
            ),
        ),
    ]
