"""The chasing admin: the default ladder as the active policy, notifications read-only, a plan preview."""

import pytest
from django.urls import reverse
from freezegun import freeze_time

from notifications.models import EscalationPolicy
from reporting.models import AuditEvent
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


# --- the ladder's form: only what the chasing can do -------------------------------------------------------------


def policy_change(admin_client, **form_args):
    from tests.reporting.test_admin_audit import ladder_form

    policy = EscalationPolicy.objects.get(active=True)
    before = list(policy.steps.order_by("order").values())
    events = AuditEvent.objects.count()
    response = admin_client.post(
        reverse("admin:notifications_escalationpolicy_change", args=[policy.pk]), ladder_form(policy, **form_args)
    )
    return response, before, events, policy


@pytest.mark.parametrize(
    ("form_args", "message"),
    [
        ({"steps_over": {"verbal_overdue": {"audience": ["officer"]}}}, "officer"),
        ({"steps_over": {"verbal_overdue": {"audience": []}}}, "该字段是必填项"),
        ({"steps_over": {"verbal_overdue": {"channels": ["fax"]}}}, "fax"),
        ({"steps_over": {"verbal_overdue": {"channels": '["sms"]'}}}, "[&quot;sms&quot;]"),
        ({"steps_over": {"verbal_escalate": {"key": "event_deaths"}}}, "留给事件通报规则"),
        ({"steps_over": {"verbal_escalate": {"key": "verbal_overdue"}}}, "步骤"),
        ({"steps_over": {"verbal_reminder": {"repeats": True}}}, "截止前的提醒不能超时重复"),
        ({"steps_over": {"verbal_reminder": {"offset_minutes": -90}}}, "-60"),
        ({"steps_over": {"written_overdue": {"offset_minutes": 2000}}}, "1440"),
        ({"steps_over": {"written_overdue": {"offset_minutes": "ten"}}}, "输入整数"),
        ({"repeat_every_minutes": 1}, "5"),
        ({"repeat_max": 50}, "10"),
        (
            {
                "delete": (
                    "verbal_reminder",
                    "verbal_overdue",
                    "verbal_escalate",
                    "written_reminder",
                    "written_overdue",
                    "written_escalate",
                )
            },
            "催报规则至少要有一个步骤",
        ),
        # Only written-due steps: a relay obligation (one clock, verbal steps only) would be chased by nobody.
        ({"delete": ("verbal_reminder", "verbal_overdue", "verbal_escalate")}, "口头报截止没有截止时或截止后的步骤"),
        # Reminders only: a deadline that passes is never chased.
        (
            {"delete": ("verbal_overdue", "verbal_escalate", "written_overdue", "written_escalate")},
            "书面报截止没有截止时或截止后的步骤",
        ),
        # A late step turned into a reminder leaves its deadline with none.
        (
            {
                "delete": ("written_escalate",),
                "steps_over": {"written_overdue": {"offset_minutes": -5, "repeats": False}},
            },
            "书面报截止没有截止时或截止后的步骤",
        ),
    ],
)
def test_a_ladder_the_chasing_cannot_follow_is_refused_with_the_reason_and_nothing_changes(
    admin_client, form_args, message
):
    response, before, events, policy = policy_change(admin_client, **form_args)
    assert response.status_code == 200  # the form again, with its errors
    assert "errornote" in response.text and message in response.text
    policy.refresh_from_db()
    assert (policy.repeat_every_minutes, policy.repeat_max) == (15, 4)
    assert list(policy.steps.order_by("order").values()) == before
    assert AuditEvent.objects.count() == events


def test_steps_are_edited_with_checkboxes_and_a_repeating_step_defaults_to_sms(admin_client):
    policy = EscalationPolicy.objects.get(active=True)
    page = admin_client.get(reverse("admin:notifications_escalationpolicy_change", args=[policy.pk]))
    assert 'type="checkbox" name="steps-0-audience" value="duty_officer"' in page.text
    assert (
        'name="steps-0-channels" value="voice"' in page.text
    )  # calls have a sender (tests/notifications/test_voice.py)
    response, _, _, policy = policy_change(
        admin_client,
        steps_over={
            "verbal_escalate": {"repeats": True, "repeat_channels": [], "audience": ["duty_room"]},
            "verbal_overdue": {"repeats": False},
        },
    )
    assert response.status_code == 302, response.text[:2000]
    escalate, overdue = policy.steps.get(key="verbal_escalate"), policy.steps.get(key="verbal_overdue")
    assert (escalate.repeats, escalate.repeat_channels, escalate.audience) == (True, ["sms"], ["duty_room"])
    assert (overdue.repeats, overdue.repeat_channels) == (False, [])


def test_a_ladder_step_may_call_and_repeat_by_voice(admin_client):
    """Voice has a sender (tests/notifications/test_voice.py): the ladder may use it for a step and its repeats."""
    response, _, _, policy = policy_change(
        admin_client,
        steps_over={"verbal_overdue": {"channels": ["sms", "voice"], "repeats": True, "repeat_channels": ["voice"]}},
    )
    assert response.status_code == 302, response.text[:2000]
    overdue = policy.steps.get(key="verbal_overdue")
    assert (overdue.channels, overdue.repeat_channels) == (["sms", "voice"], ["voice"])
