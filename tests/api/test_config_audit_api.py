"""Units, users and tokens changed through the API are on the audit chain (SPEC "Integrity and access"): who did it
and what changed, nothing for a request that changes nothing, and never a token key, a password or its hash.
Paths, fields and status codes are API.md's, unchanged."""

import json

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from reporting.models import AuditEvent, User
from tests.api.conftest import V1

pytestmark = pytest.mark.django_db


def events(kind):
    return list(AuditEvent.objects.filter(kind=kind).order_by("id"))


def all_events_json() -> str:
    rows = AuditEvent.objects.order_by("id").values("kind", "actor", "object_type", "object_id", "detail")
    return json.dumps(list(rows), ensure_ascii=False, default=str)


def test_units_created_and_changed_through_the_api_are_audited(api, units, duty_room, capsys):
    duty = api(duty_room)
    body = {"code": "xinqiao", "name": "新桥镇", "kind": "town", "domains": ["natural_disaster"]}
    response = duty.post(f"{V1}/units/", body, format="json")
    assert response.status_code == 201
    assert response.json() == {**body, "name_en": "", "vertical": False, "active": True}
    (event,) = events("unit_added")
    assert (event.actor, event.object_type, event.incident_id) == ("duty", "unit", None)
    assert event.detail == {
        "unit": "xinqiao",
        "code": "xinqiao",
        "name": "新桥镇",
        "name_en": "",
        "kind": "town",
        "vertical": False,
        "domains": ["natural_disaster"],
        "active": True,
    }

    # The vertical flag changes the unit's findings (SPEC rule 12); deactivation takes it off every list.
    response = duty.patch(f"{V1}/units/xinqiao/", {"vertical": True, "active": False}, format="json")
    assert response.status_code == 200 and response.json()["vertical"] is True
    (event,) = events("unit_changed")
    assert event.actor == "duty"
    assert event.detail == {"unit": "xinqiao", "changed": {"vertical": [False, True], "active": [True, False]}}

    # Nothing changes: nothing recorded (the same values again, or an empty body).
    count = AuditEvent.objects.count()
    assert duty.patch(f"{V1}/units/xinqiao/", {"vertical": True, "name": "新桥镇"}, format="json").status_code == 200
    assert duty.patch(f"{V1}/units/xinqiao/", {}, format="json").status_code == 200
    assert AuditEvent.objects.count() == count

    call_command("verify_audit_chain")
    assert "audit chain OK" in capsys.readouterr().out


def test_users_and_tokens_through_the_api_are_audited_without_secrets(api, units, admin_user, capsys):
    root = api(admin_user)
    secret = "Sijing-Officer-Pass-1"
    response = root.post(
        f"{V1}/users/",
        {"username": "sijing-2", "role": "unit_staff", "unit": "sijing", "password": secret},
        format="json",
    )
    assert response.status_code == 201
    created = response.json()
    keys = [created["token"]]
    (added,) = events("user_added")
    assert (added.actor, added.object_type, added.object_id) == ("admin", "user", str(created["id"]))
    assert added.detail["user"] == "sijing-2"
    assert (added.detail["role"], added.detail["unit"], added.detail["is_active"]) == ("unit_staff", "sijing", True)
    assert added.detail["usable_password"] is True
    (token,) = events("token_created")
    assert (token.actor, token.object_type, token.object_id) == ("admin", "user", str(created["id"]))
    assert token.detail == {"user": "sijing-2"}
    assert token.id > added.id

    # A unit change and a role change; then deactivation; then a new password (recorded only as changed).
    user_url = f"{V1}/users/{created['id']}/"
    assert root.patch(user_url, {"unit": "chedun"}, format="json").status_code == 200
    assert root.patch(user_url, {"role": "auditor", "unit": None}, format="json").status_code == 200
    assert root.patch(user_url, {"active": False}, format="json").status_code == 200
    new_secret = "Another-Pass-2222"
    assert root.patch(user_url, {"password": new_secret}, format="json").status_code == 200
    assert [(e.actor, e.detail) for e in events("user_changed")] == [
        ("admin", {"user": "sijing-2", "changed": {"unit": ["sijing", "chedun"]}}),
        ("admin", {"user": "sijing-2", "changed": {"role": ["unit_staff", "auditor"], "unit": ["chedun", None]}}),
        ("admin", {"user": "sijing-2", "changed": {"is_active": [True, False]}}),
        ("admin", {"user": "sijing-2", "changed": {}, "password": "changed"}),
    ]
    user = User.objects.get(pk=created["id"])
    assert user.check_password(new_secret)

    # The same values again, or an empty body: nothing recorded.
    count = AuditEvent.objects.count()
    assert root.patch(user_url, {"role": "auditor", "active": False}, format="json").status_code == 200
    assert root.patch(user_url, {}, format="json").status_code == 200
    assert AuditEvent.objects.count() == count

    # A replaced token: who replaced whose, never the key.
    response = root.post(f"{user_url}token/")
    assert response.status_code == 201
    keys.append(response.json()["token"])
    assert Token.objects.get(user=user).key == keys[-1]
    (replaced,) = events("token_replaced")
    assert (replaced.actor, replaced.object_id, replaced.detail) == ("admin", str(user.pk), {"user": "sijing-2"})

    stored = all_events_json()
    for forbidden in (*keys, secret, new_secret, user.password):
        assert forbidden not in stored
    assert "md5$" not in stored and "pbkdf2" not in stored

    call_command("verify_audit_chain")
    assert "audit chain OK" in capsys.readouterr().out


def test_a_refused_user_request_records_nothing(api, units, admin_user):
    count = AuditEvent.objects.count()
    response = api(admin_user).post(f"{V1}/users/", {"username": "x", "role": "unit_staff"}, format="json")
    assert response.status_code == 400
    assert AuditEvent.objects.count() == count


def test_a_units_code_is_permanent(api, units, duty_room):
    """Units are referred to by code (API.md): a PATCH may repeat it, not change it; nothing is written."""
    duty = api(duty_room)
    assert duty.patch(f"{V1}/units/sijing/", {"code": "sijing", "name": "泗泾镇"}, format="json").status_code == 200
    response = duty.patch(f"{V1}/units/sijing/", {"code": "sijing2", "name": "泗泾"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["code"]
    units["sijing"].refresh_from_db()
    assert (units["sijing"].code, units["sijing"].name) == ("sijing", "泗泾镇")
    assert not AuditEvent.objects.filter(kind="unit_changed").exists()


@pytest.mark.parametrize("weak", ["password", "12345678", "qwertyuiop"])
def test_a_password_set_through_the_api_follows_the_password_rules(api, units, admin_user, weak):
    root = api(admin_user)
    body = {"username": "sijing-3", "role": "unit_staff", "unit": "sijing", "password": weak}
    response = root.post(f"{V1}/users/", body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["password"]
    assert not User.objects.filter(username="sijing-3").exists()
    created = root.post(f"{V1}/users/", {**body, "password": "Sijing-Officer-Pass-3"}, format="json")
    assert created.status_code == 201
    changed = root.patch(f"{V1}/users/{created.json()['id']}/", {"password": weak}, format="json")
    assert changed.status_code == 400 and "password" in changed.json()
    assert User.objects.get(username="sijing-3").check_password("Sijing-Officer-Pass-3")
