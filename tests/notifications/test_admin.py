"""The chasing admin: the default ladder as the active policy, notifications read-only, a plan preview."""

from django.urls import reverse
from freezegun import freeze_time

from notifications.models import EscalationPolicy
from tests.notifications.conftest import T0, open_incident


def test_default_ladder_is_the_active_policy(db):
    policy = EscalationPolicy.objects.get(active=True)
    assert [(s.key, s.anchor, s.offset_minutes, s.channels, s.repeats) for s in policy.steps.order_by("order")] == [
        ("verbal_reminder", "verbal_due", -10, ["sms"], False),
        ("verbal_overdue", "verbal_due", 0, ["sms", "email"], True),
        ("verbal_escalate", "verbal_due", 5, ["sms", "email"], False),
        ("written_reminder", "written_due", -10, ["sms"], False),
        ("written_overdue", "written_due", 0, ["sms", "email"], True),
        ("written_escalate", "written_due", 5, ["sms", "email"], False),
    ]
    assert (policy.repeat_every_minutes, policy.repeat_max) == (15, 4)


def test_admin_pages(client, admin_user, units, roster):
    with freeze_time(T0):
        obligation = open_incident(units).obligations.get()
    client.force_login(admin_user)
    policy = EscalationPolicy.objects.get(active=True)
    page = client.get(reverse("admin:notifications_escalationpolicy_change", args=[policy.pk]))
    assert page.status_code == 200 and "verbal_escalate" in page.text
    assert client.get(reverse("admin:notifications_notification_changelist")).status_code == 200
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    with freeze_time(T0):
        preview = client.get(reverse("admin:notifications_chaseplan_change", args=[obligation.pk]))
    assert preview.status_code == 200
    # 09:20 Asia/Shanghai, the verbal reminder, still planned; the last written repeat at 11:00.
    assert "2026-11-28 09:20 &nbsp; verbal_reminder#0" in preview.text
    assert "2026-11-28 11:00 &nbsp; written_overdue#4" in preview.text
