"""The default ladder (SPEC "Escalation (chasing)") as the active escalation policy. Data frozen here on purpose:
later edits of notifications.escalation.DEFAULT_LADDER must not rewrite history."""

from django.db import migrations

POLICY = "默认催报规则 (default ladder)"

# (order, key, anchor, offset minutes, audience, channels, board alarm, repeats)
STEPS = [
    (1, "verbal_reminder", "verbal_due", -10, ["duty_officer", "shift_leader"], ["sms"], False, False),
    (
        2,
        "verbal_overdue",
        "verbal_due",
        0,
        ["duty_officer", "shift_leader", "leader_on_shift"],
        ["sms", "email"],
        False,
        True,
    ),
    (3, "verbal_escalate", "verbal_due", 5, ["duty_room", "unit_head"], ["sms", "email"], True, False),
    (4, "written_reminder", "written_due", -10, ["duty_officer", "shift_leader"], ["sms"], False, False),
    (
        5,
        "written_overdue",
        "written_due",
        0,
        ["duty_officer", "shift_leader", "leader_on_shift"],
        ["sms", "email"],
        False,
        True,
    ),
    (6, "written_escalate", "written_due", 5, ["duty_room", "unit_head"], ["sms", "email"], True, False),
]


def create(apps, schema_editor):
    Policy = apps.get_model("notifications", "EscalationPolicy")
    Step = apps.get_model("notifications", "EscalationStep")
    if Policy.objects.filter(name=POLICY).exists():
        return
    active = not Policy.objects.filter(active=True).exists()
    policy = Policy.objects.create(name=POLICY, active=active, repeat_every_minutes=15, repeat_max=4)
    for order, key, anchor, offset, audience, channels, alarm, repeats in STEPS:
        Step.objects.create(
            policy=policy,
            order=order,
            key=key,
            anchor=anchor,
            offset_minutes=offset,
            audience=audience,
            channels=channels,
            board_alarm=alarm,
            repeats=repeats,
            repeat_channels=["sms"] if repeats else [],
        )


def remove(apps, schema_editor):
    apps.get_model("notifications", "EscalationPolicy").objects.filter(name=POLICY).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_step_repeat_channels_redrive")]

    operations = [migrations.RunPython(create, remove)]
