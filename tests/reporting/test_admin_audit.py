"""Every change made in the Django admin is on the audit chain (SPEC "Integrity and access"): units (their
``vertical`` and ``active`` flags change findings), users and their tokens, a staff user's own password change,
permission groups, the reporting minutes and the escalation ladder, and people and shifts, which go through
``roster_services`` so the roster's change log shows them. Each event says who and what changed; a save that changes
nothing appends nothing; no secret is recorded."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from notifications.models import EscalationPolicy
from reporting import roster_services
from reporting.models import AuditEvent, Contact, ContactRole, ReportingPolicy, Role, Shift, Unit, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def events(kind=None):
    qs = AuditEvent.objects.order_by("id")
    return list(qs.filter(kind=kind) if kind else qs)


def all_events_json() -> str:
    """Every event as stored (detail, object ids, actor), the way an auditor's export would see it."""
    rows = AuditEvent.objects.order_by("id").values("kind", "actor", "object_type", "object_id", "detail")
    return json.dumps(list(rows), ensure_ascii=False, default=str)


def split(value):
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def assert_chain_verifies(capsys):
    call_command("verify_audit_chain")
    assert "audit chain OK" in capsys.readouterr().out


# --- units ----------------------------------------------------------------------------------------------------


def unit_form(unit, **over):
    form = {
        "code": unit.code,
        "name": unit.name,
        "name_en": unit.name_en,
        "kind": unit.kind,
        "domains": json.dumps(unit.domains),
    }
    if unit.vertical:
        form["vertical"] = "on"
    if unit.active:
        form["active"] = "on"
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_unit_added_changed_and_removed_in_the_admin(admin_client, units, capsys):
    added = admin_client.post(
        url(Unit, "add"), {"code": "xinqiao", "name": "新桥镇", "kind": "town", "domains": "[]", "active": "on"}
    )
    assert added.status_code == 302
    (event,) = events("unit_added")
    unit = Unit.objects.get(code="xinqiao")
    assert (event.actor, event.object_type, event.object_id) == ("admin", "unit", str(unit.pk))
    assert event.detail["unit"] == "xinqiao" and event.detail["vertical"] is False and event.detail["active"] is True

    # The vertical flag (SPEC rule 12) and deactivation: before and after.
    changed = admin_client.post(url(Unit, "change", unit.pk), unit_form(unit, vertical="on", active=None))
    assert changed.status_code == 302
    (event,) = events("unit_changed")
    assert event.actor == "admin"
    assert event.detail == {"unit": "xinqiao", "changed": {"vertical": [False, True], "active": [True, False]}}
    unit.refresh_from_db()
    assert (unit.vertical, unit.active) == (True, False)

    # Saving the unchanged form appends nothing; the code is permanent (read-only here, 400 in the API).
    count = AuditEvent.objects.count()
    assert admin_client.post(url(Unit, "change", unit.pk), unit_form(unit)).status_code == 302
    assert admin_client.post(url(Unit, "change", unit.pk), unit_form(unit, code="xinqiao2")).status_code == 302
    assert AuditEvent.objects.count() == count and Unit.objects.filter(code="xinqiao").exists()

    removed = admin_client.post(url(Unit, "delete", unit.pk), {"post": "yes"})
    assert removed.status_code == 302 and not Unit.objects.filter(code="xinqiao").exists()
    (event,) = events("unit_removed")
    assert event.detail["unit"] == "xinqiao" and event.detail["vertical"] is True
    assert_chain_verifies(capsys)


# --- users, passwords and tokens ------------------------------------------------------------------------------


def user_form(user, **over):
    joined = split(user.date_joined)
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "unit": user.unit_id or "",
        "contact": user.contact_id or "",
        "date_joined_0": joined[0],
        "date_joined_1": joined[1],
        # The page's hidden copy of a field with a callable default, as the browser posts it back.
        "initial-date_joined_0": joined[0],
        "initial-date_joined_1": joined[1],
        "last_login_0": "",
        "last_login_1": "",
    }
    if user.last_login:
        form["last_login_0"], form["last_login_1"] = split(user.last_login)
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            form[flag] = "on"
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_user_created_changed_and_removed_in_the_admin_records_no_password(admin_client, units, capsys):
    secret = "Zq8-very-secret-pass"
    added = admin_client.post(
        url(User, "add"),
        {
            "username": "chedun-2",
            "usable_password": "true",
            "password1": secret,
            "password2": secret,
            "role": Role.UNIT_STAFF,
            "unit": units["chedun"].pk,
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    user = User.objects.get(username="chedun-2")
    (event,) = events("user_added")
    assert event.actor == "admin" and event.object_id == str(user.pk)
    assert event.detail["user"] == "chedun-2"
    assert (event.detail["role"], event.detail["unit"], event.detail["is_active"]) == ("unit_staff", "chedun", True)
    assert event.detail["usable_password"] is True

    # A move to another unit and a deactivation, as two fields of one change.
    response = admin_client.post(url(User, "change", user.pk), user_form(user, unit=units["sijing"].pk, is_active=None))
    assert response.status_code == 302, response.content.decode()[:3000]
    (event,) = events("user_changed")
    assert event.actor == "admin"
    assert event.detail == {"user": "chedun-2", "changed": {"unit": ["chedun", "sijing"], "is_active": [True, False]}}

    # A role change (to one with no unit) and making them staff.
    user.refresh_from_db()
    response = admin_client.post(
        url(User, "change", user.pk), user_form(user, role=Role.AUDITOR, unit="", is_staff="on")
    )
    assert response.status_code == 302
    event = events("user_changed")[-1]
    assert event.detail["changed"] == {
        "role": ["unit_staff", "auditor"],
        "unit": ["sijing", None],
        "is_staff": [False, True],
    }

    # Saving the unchanged form appends nothing.
    user.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(url(User, "change", user.pk), user_form(user)).status_code == 302
    assert AuditEvent.objects.count() == count

    # Django's own password form: recorded as changed, never the password or its hash.
    new_secret = "Another-secret-99x"
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": new_secret, "password2": new_secret, "set-password": "1"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_secret)
    event = events("user_changed")[-1]
    assert event.detail == {"user": "chedun-2", "changed": {}, "password": "changed"}
    hashes = [user.password]

    # Turning password login off is recorded as such.
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]), {"usable_password": "false", "unset-password": "1"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert events("user_changed")[-1].detail == {"user": "chedun-2", "changed": {}, "password": "disabled"}
    hashes.append(user.password)

    removed = admin_client.post(url(User, "delete", user.pk), {"post": "yes"})
    assert removed.status_code == 302 and not User.objects.filter(username="chedun-2").exists()
    (event,) = events("user_removed")
    assert event.detail["user"] == "chedun-2" and event.detail["role"] == "auditor"

    stored = all_events_json()
    for forbidden in (secret, new_secret, *hashes, "md5$", "pbkdf2"):
        assert forbidden not in stored
    assert_chain_verifies(capsys)


def test_tokens_created_and_revoked_in_the_admin_never_record_the_key(admin_client, duty_room, capsys):
    from rest_framework.authtoken.models import TokenProxy

    added = admin_client.post(url(TokenProxy, "add"), {"user": duty_room.pk})
    assert added.status_code == 302, added.content.decode()[:3000]
    token = Token.objects.get(user=duty_room)
    (event,) = events("token_created")
    assert (event.actor, event.object_type, event.object_id) == ("admin", "user", str(duty_room.pk))
    assert event.detail == {"user": "duty"}
    assert token.key not in all_events_json()
    # The key is shown once, to the admin who made it, and never again in the list.
    assert token.key in admin_client.get(added["Location"]).content.decode()
    listing = admin_client.get(url(TokenProxy, "changelist")).content.decode()
    assert token.key not in listing and f"{token.key[:4]}…" in listing

    # A second token for the same user is refused by the form (one token per user), and records nothing.
    count = AuditEvent.objects.count()
    assert admin_client.post(url(TokenProxy, "add"), {"user": duty_room.pk}).status_code == 200
    assert AuditEvent.objects.count() == count

    # A token is created or revoked, never edited.
    assert admin_client.post(url(TokenProxy, "change", duty_room.pk), {"user": duty_room.pk}).status_code == 403

    revoked = admin_client.post(url(TokenProxy, "delete", duty_room.pk), {"post": "yes"})
    assert revoked.status_code == 302 and not Token.objects.filter(user=duty_room).exists()
    (event,) = events("token_removed")
    assert event.detail == {"user": "duty"} and event.actor == "admin"
    assert token.key not in all_events_json()
    assert_chain_verifies(capsys)


def test_a_staff_users_own_password_change_in_the_admin_is_recorded_never_the_password(
    admin_client, admin_user, capsys
):
    change_url = reverse("admin:password_change")
    old_hash = admin_user.password
    # A wrong old password changes nothing and records nothing.
    count = AuditEvent.objects.count()
    refused = admin_client.post(
        change_url, {"old_password": "wrong", "new_password1": "x-Very-new-77q", "new_password2": "x-Very-new-77q"}
    )
    assert refused.status_code == 200 and AuditEvent.objects.count() == count

    new_secret = "Own-new-secret-42z"
    response = admin_client.post(
        change_url, {"old_password": "pw-admin", "new_password1": new_secret, "new_password2": new_secret}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:password_change_done")
    admin_user.refresh_from_db()
    assert admin_user.check_password(new_secret)
    (event,) = events("user_changed")
    assert (event.actor, event.object_type, event.object_id) == ("admin", "user", str(admin_user.pk))
    assert event.detail == {"user": "admin", "changed": {}, "password": "changed"}
    stored = all_events_json()
    for forbidden in ("pw-admin", new_secret, old_hash, admin_user.password, "pbkdf2", "md5$"):
        assert forbidden not in stored
    assert_chain_verifies(capsys)


def group_form(group, **over):
    form = {"name": group.name, "permissions": [str(p.pk) for p in group.permissions.order_by("id")]}
    form.update(over)
    return form


def test_permission_groups_added_changed_and_removed_in_the_admin(admin_client, units, capsys):
    from django.contrib.auth.models import Group, Permission

    view_unit = Permission.objects.get(content_type__app_label="reporting", codename="view_unit")
    change_unit = Permission.objects.get(content_type__app_label="reporting", codename="change_unit")
    added = admin_client.post(url(Group, "add"), {"name": "单位管理", "permissions": [str(view_unit.pk)]})
    assert added.status_code == 302, added.content.decode()[:3000]
    group = Group.objects.get(name="单位管理")
    (event,) = events("group_added")
    assert (event.actor, event.object_type, event.object_id) == ("admin", "group", str(group.pk))
    assert event.detail == {
        "group": "单位管理",
        "name": "单位管理",
        "permissions": ["reporting.view_unit"],
        "members": [],
    }

    response = admin_client.post(
        url(Group, "change", group.pk),
        group_form(group, name="单位维护", permissions=[str(view_unit.pk), str(change_unit.pk)]),
    )
    assert response.status_code == 302
    (event,) = events("group_changed")
    assert event.detail == {
        "group": "单位维护",
        "changed": {
            "name": ["单位管理", "单位维护"],
            "permissions": [["reporting.view_unit"], ["reporting.change_unit", "reporting.view_unit"]],
        },
    }
    assert set(Group.objects.get(pk=group.pk).permissions.all()) == {view_unit, change_unit}

    # Saving the unchanged form appends nothing.
    group.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(url(Group, "change", group.pk), group_form(group)).status_code == 302
    assert AuditEvent.objects.count() == count

    # Membership is edited on the user's page and recorded there.
    member = User.objects.create_user(username="unit-admin", password="pw-unit-admin", role=Role.DUTY_ROOM)
    response = admin_client.post(url(User, "change", member.pk), user_form(member, groups=[str(group.pk)]))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert events("user_changed")[-1].detail == {"user": "unit-admin", "changed": {"groups": [[], ["单位维护"]]}}

    # Removing the group takes it from its members: the event says whom and what they could do.
    removed = admin_client.post(url(Group, "delete", group.pk), {"post": "yes"})
    assert removed.status_code == 302 and not Group.objects.filter(pk=group.pk).exists()
    (event,) = events("group_removed")
    assert event.detail == {
        "group": "单位维护",
        "name": "单位维护",
        "permissions": ["reporting.change_unit", "reporting.view_unit"],
        "members": ["unit-admin"],
    }

    # The bulk "delete selected" action goes through the service too.
    first, second = Group.objects.create(name="甲组"), Group.objects.create(name="乙组")
    response = admin_client.post(
        url(Group, "changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302 and not Group.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert sorted(e.detail["group"] for e in events("group_removed")) == ["乙组", "单位维护", "甲组"]
    assert_chain_verifies(capsys)


# --- reporting minutes and the escalation ladder --------------------------------------------------------------


def policy_form(policy, **over):
    form = {
        "grade": policy.grade or "",
        "verbal_minutes": policy.verbal_minutes,
        "written_minutes": policy.written_minutes,
        "relay_minutes": policy.relay_minutes,
    }
    form.update(over)
    return form


def test_reporting_minutes_edited_in_the_admin_are_recorded_before_and_after(admin_client, capsys):
    policy, _ = ReportingPolicy.objects.get_or_create(grade=None)
    before = (policy.verbal_minutes, policy.written_minutes)
    change_url = url(ReportingPolicy, "change", policy.pk)

    response = admin_client.post(change_url, policy_form(policy, verbal_minutes=20, written_minutes=45))
    assert response.status_code == 302
    (event,) = events("reporting_policy_changed")
    assert event.actor == "admin" and event.object_id == str(policy.pk)
    assert event.detail == {
        "grade": None,
        "changed": {"verbal_minutes": [before[0], 20], "written_minutes": [before[1], 45]},
    }

    # Unchanged: nothing. Refused by the model's rule (written before verbal): a form error, nothing recorded.
    policy.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(change_url, policy_form(policy)).status_code == 302
    refused = admin_client.post(change_url, policy_form(policy, verbal_minutes=50, written_minutes=40))
    assert refused.status_code == 200 and "errornote" in refused.content.decode()
    assert AuditEvent.objects.count() == count

    added = admin_client.post(
        url(ReportingPolicy, "add"), {"grade": "I", "verbal_minutes": 15, "written_minutes": 30, "relay_minutes": 10}
    )
    assert added.status_code == 302
    (event,) = events("reporting_policy_added")
    assert event.detail == {"grade": "I", "verbal_minutes": 15, "written_minutes": 30, "relay_minutes": 10}
    grade_one = ReportingPolicy.objects.get(grade="I")
    assert admin_client.post(url(ReportingPolicy, "delete", grade_one.pk), {"post": "yes"}).status_code == 302
    (event,) = events("reporting_policy_removed")
    assert event.detail["grade"] == "I" and event.detail["verbal_minutes"] == 15
    assert_chain_verifies(capsys)


def ladder_form(policy, *, steps_over=None, delete=(), extra=None, **over):
    """The escalation policy's change form with its steps inline, as the admin page posts it."""
    steps = list(policy.steps.order_by("order"))
    form = {
        "name": policy.name,
        "repeat_every_minutes": policy.repeat_every_minutes,
        "repeat_max": policy.repeat_max,
        "steps-TOTAL_FORMS": len(steps) + (1 if extra else 0),
        "steps-INITIAL_FORMS": len(steps),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    if policy.active:
        form["active"] = "on"
    rows = [
        {
            "id": step.pk,
            "policy": policy.pk,
            "order": step.order,
            "key": step.key,
            "anchor": step.anchor,
            "offset_minutes": step.offset_minutes,
            "audience": step.audience,
            "channels": step.channels,
            "board_alarm": step.board_alarm,
            "repeats": step.repeats,
            "repeat_channels": step.repeat_channels,
        }
        for step in steps
    ]
    if extra:
        rows.append({"policy": policy.pk, **extra})
    for i, row in enumerate(rows):
        row.update((steps_over or {}).get(row.get("key"), {}))
        if row.get("key") in delete:
            row["DELETE"] = "on"
        for field, value in row.items():
            if field in ("board_alarm", "repeats"):
                if value:
                    form[f"steps-{i}-{field}"] = "on"
            else:
                form[f"steps-{i}-{field}"] = value
    form.update(over)
    return form


def test_escalation_ladder_edits_in_the_admin_are_one_event_with_each_change(admin_client, capsys):
    policy = EscalationPolicy.objects.get(active=True)
    change_url = url(EscalationPolicy, "change", policy.pk)
    reminder = policy.steps.get(key="verbal_reminder")

    response = admin_client.post(
        change_url,
        ladder_form(
            policy,
            repeat_max=2,
            steps_over={"verbal_reminder": {"offset_minutes": -5}},
            delete=("written_escalate",),
            extra={
                "order": 7,
                "key": "written_final",
                "anchor": "written_due",
                "offset_minutes": 30,
                "audience": ["unit_head"],
                "channels": ["sms"],
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    (event,) = events("escalation_policy_changed")
    assert event.actor == "admin" and event.object_id == str(policy.pk)
    assert event.detail["policy"] == policy.name
    assert event.detail["changed"] == {"repeat_max": [4, 2]}
    steps = event.detail["steps"]
    assert steps["changed"] == [{"id": reminder.pk, "key": "verbal_reminder", "changed": {"offset_minutes": [-10, -5]}}]
    assert [s["key"] for s in steps["added"]] == ["written_final"]
    assert steps["added"][0]["audience"] == ["unit_head"] and steps["added"][0]["offset_minutes"] == 30
    assert [(s["key"], s["offset_minutes"]) for s in steps["removed"]] == [("written_escalate", 5)]

    # Saving the unchanged ladder appends nothing.
    policy.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(change_url, ladder_form(policy)).status_code == 302
    assert AuditEvent.objects.count() == count

    added = admin_client.post(
        url(EscalationPolicy, "add"),
        {
            "name": "台风期间",
            "repeat_every_minutes": 10,
            "repeat_max": 6,
            "steps-TOTAL_FORMS": 2,
            "steps-INITIAL_FORMS": 0,
            "steps-MIN_NUM_FORMS": 0,
            "steps-MAX_NUM_FORMS": 1000,
            "steps-0-order": 1,
            "steps-0-key": "verbal_overdue",
            "steps-0-anchor": "verbal_due",
            "steps-0-offset_minutes": 0,
            "steps-0-audience": ["duty_officer"],
            "steps-0-channels": ["sms"],
            "steps-1-order": 2,
            "steps-1-key": "written_overdue",
            "steps-1-anchor": "written_due",
            "steps-1-offset_minutes": 0,
            "steps-1-audience": ["duty_officer", "unit_head"],
            "steps-1-channels": ["sms", "email"],
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    (event,) = events("escalation_policy_added")
    assert (event.detail["policy"], event.detail["active"], event.detail["repeat_max"]) == ("台风期间", False, 6)
    assert [(s["key"], s["offset_minutes"]) for s in event.detail["steps"]] == [
        ("verbal_overdue", 0),
        ("written_overdue", 0),
    ]

    typhoon = EscalationPolicy.objects.get(name="台风期间")
    assert admin_client.post(url(EscalationPolicy, "delete", typhoon.pk), {"post": "yes"}).status_code == 302
    (event,) = events("escalation_policy_removed")
    assert event.detail["policy"] == "台风期间" and len(event.detail["steps"]) == 2
    assert_chain_verifies(capsys)


# --- people and shifts: through roster_services, on the roster's change log -----------------------------------


def contact_form(contact, **over):
    form = {
        "unit": contact.unit_id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "role": contact.role,
        "portfolio": json.dumps(contact.portfolio),
    }
    for flag in ("is_default", "active", "notify_on_grade"):
        if getattr(contact, flag):
            form[flag] = "on"
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_people_edited_in_the_admin_go_through_the_roster_services(admin_client, units, duty_room, capsys):
    added = admin_client.post(
        url(Contact, "add"),
        {
            "unit": units["sijing"].pk,
            "name": "赵值班",
            "phone": "+8617000000055",
            "email": "",
            "role": ContactRole.DUTY_OFFICER,
            "portfolio": "[]",
            "active": "on",
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    contact = Contact.objects.get(name="赵值班")
    (event,) = events("contact_added")
    assert (event.actor, event.object_id) == ("admin", str(contact.pk))
    assert event.detail["unit"] == "sijing" and event.detail["phone"] == "+8617000000055"

    response = admin_client.post(url(Contact, "change", contact.pk), contact_form(contact, phone="+8617000000056"))
    assert response.status_code == 302
    (event,) = events("contact_changed")
    assert event.detail == {
        "unit": "sijing",
        "name": "赵值班",
        "changed": {"phone": ["+8617000000055", "+8617000000056"]},
    }
    contact.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(url(Contact, "change", contact.pk), contact_form(contact)).status_code == 302
    assert AuditEvent.objects.count() == count

    # The roster's change log shows the admin's changes like any other.
    admin_client.force_login(duty_room)
    changes = admin_client.get("/roster/sijing/").context["changes"]
    assert [(c["label"], c["actor"]) for c in changes] == [("人员信息变更", "admin"), ("添加人员", "admin")]
    assert changes[0]["span"] == "手机: +8617000000055 → +8617000000056"
    assert_chain_verifies(capsys)


def test_a_person_with_shifts_ahead_is_not_moved_in_the_admin(admin_client, units):
    now = timezone.now()
    contact = roster_services.contact_create(
        unit=units["sijing"], name="钱值班", role=ContactRole.DUTY_OFFICER, actor=None, now=now
    )
    roster_services.shifts_create(
        unit=units["sijing"],
        contact=contact,
        role=ContactRole.DUTY_OFFICER,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=9),
        actor=None,
        now=now,
    )
    count = AuditEvent.objects.count()
    response = admin_client.post(url(Contact, "change", contact.pk), contact_form(contact, unit=units["chedun"].pk))
    assert response.status_code == 200
    assert "未结束的班次" in response.content.decode()
    assert Contact.objects.get(pk=contact.pk).unit == units["sijing"]
    assert AuditEvent.objects.count() == count


def test_deleting_people_in_the_admin_records_them_and_their_shifts(admin_client, units):
    now = timezone.now()
    people = [
        roster_services.contact_create(
            unit=units["chedun"], name=name, role=ContactRole.DUTY_OFFICER, actor=None, now=now
        )
        for name in ("甲", "乙")
    ]
    roster_services.shifts_create(
        unit=units["chedun"],
        contact=people[0],
        role=ContactRole.DUTY_OFFICER,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=9),
        actor=None,
        now=now,
    )
    # One through its delete page, one through the changelist's "delete selected" action.
    assert admin_client.post(url(Contact, "delete", people[0].pk), {"post": "yes"}).status_code == 302
    response = admin_client.post(
        url(Contact, "changelist"),
        {"action": "delete_selected", "_selected_action": [people[1].pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Contact.objects.filter(pk__in=[p.pk for p in people]).exists()
    assert [(e.kind, e.actor, e.detail["name"]) for e in events() if e.actor == "admin"] == [
        ("shift_removed", "admin", "甲"),
        ("contact_removed", "admin", "甲"),
        ("contact_removed", "admin", "乙"),
    ]


def shift_form(shift=None, **over):
    form = {}
    if shift is not None:
        starts, ends = split(shift.starts_at), split(shift.ends_at)
        form = {
            "unit": shift.unit_id,
            "contact": shift.contact_id,
            "role": shift.role,
            "starts_at_0": starts[0],
            "starts_at_1": starts[1],
            "ends_at_0": ends[0],
            "ends_at_1": ends[1],
        }
    form.update(over)
    return form


def test_shifts_edited_in_the_admin_go_through_the_roster_services(admin_client, units, duty_room, capsys):
    now = timezone.now().replace(microsecond=0)
    contact = roster_services.contact_create(
        unit=units["sijing"], name="孙值班", role=ContactRole.DUTY_OFFICER, actor=None, now=now
    )
    other = roster_services.contact_create(
        unit=units["chedun"], name="周值班", role=ContactRole.DUTY_OFFICER, actor=None, now=now
    )
    starts, ends = now + timedelta(days=1), now + timedelta(days=1, hours=8)
    body = shift_form(
        unit=units["sijing"].pk,
        contact=contact.pk,
        role=ContactRole.DUTY_OFFICER,
        starts_at_0=split(starts)[0],
        starts_at_1=split(starts)[1],
        ends_at_0=split(ends)[0],
        ends_at_1=split(ends)[1],
    )
    # What roster_services refuses is a form error, not a server error: a person of another unit, an 8-day shift.
    count = AuditEvent.objects.count()
    refused = admin_client.post(url(Shift, "add"), {**body, "contact": other.pk})
    assert refused.status_code == 200 and "该人员不属于此单位" in refused.content.decode()
    too_long = now + timedelta(days=9)
    refused = admin_client.post(url(Shift, "add"), {**body, "ends_at_0": split(too_long)[0]})
    assert refused.status_code == 200 and "一个班次不能超过 7 天" in refused.content.decode()
    assert AuditEvent.objects.count() == count and not Shift.objects.exists()

    added = admin_client.post(url(Shift, "add"), body)
    assert added.status_code == 302, added.content.decode()[:3000]
    shift = Shift.objects.get()
    (event,) = events("shift_added")
    assert (event.actor, event.object_id, event.detail["name"]) == ("admin", str(shift.pk), "孙值班")

    # An edit is the shift taken off as it was and put on as it is now, on the same row.
    response = admin_client.post(url(Shift, "change", shift.pk), shift_form(shift, role=ContactRole.SHIFT_LEADER))
    assert response.status_code == 302
    removed, readded = events()[-2:]
    assert (removed.kind, readded.kind) == ("shift_removed", "shift_added")
    assert (removed.detail["role"], readded.detail["role"]) == ("duty_officer", "shift_leader")
    assert removed.object_id == readded.object_id == str(shift.pk)

    shift.refresh_from_db()
    count = AuditEvent.objects.count()
    assert admin_client.post(url(Shift, "change", shift.pk), shift_form(shift)).status_code == 302
    assert AuditEvent.objects.count() == count

    assert admin_client.post(url(Shift, "delete", shift.pk), {"post": "yes"}).status_code == 302
    assert events()[-1].kind == "shift_removed" and not Shift.objects.exists()

    admin_client.force_login(duty_room)
    changes = admin_client.get("/roster/sijing/").context["changes"]
    assert [(c["label"], c["actor"]) for c in changes if c["actor"] == "admin"] == [
        ("删除班次", "admin"),
        ("排班", "admin"),
        ("删除班次", "admin"),
        ("排班", "admin"),
    ]
    assert_chain_verifies(capsys)


def test_the_audit_event_admin_names_each_kind(admin_client, units):
    admin_client.post(url(Unit, "add"), {"code": "xinqiao", "name": "新桥镇", "kind": "town", "domains": "[]"})
    page = admin_client.get(url(AuditEvent, "changelist")).content.decode()
    assert "unit_added" in page and "新建单位" in page


def test_a_refusal_the_form_could_not_foresee_is_a_message_not_a_server_error(admin_client, units, monkeypatch):
    """A concurrent change can make the service refuse what the form accepted (a shift added to the person in the
    meantime): the admin shows the service's reason, and nothing is saved or recorded."""
    from reporting.errors import ConflictError

    contact = roster_services.contact_create(
        unit=units["sijing"], name="吴值班", role=ContactRole.DUTY_OFFICER, actor=None, now=timezone.now()
    )

    def refuse(**kwargs):
        raise ConflictError({"unit": ["此人还有未结束的班次 (has shifts that have not ended)"]})

    monkeypatch.setattr(roster_services, "contact_update", refuse)
    count = AuditEvent.objects.count()
    change_url = url(Contact, "change", contact.pk)
    response = admin_client.post(change_url, contact_form(contact, unit=units["chedun"].pk), follow=True)
    assert response.redirect_chain == [(change_url, 302)]
    assert "此人还有未结束的班次" in response.content.decode()
    assert Contact.objects.get(pk=contact.pk).unit == units["sijing"]
    assert AuditEvent.objects.count() == count
