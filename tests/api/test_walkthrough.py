"""API.md walked through as an outside client would, with its own example bodies, on a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from reporting.models import Role, User
from tests.api.conftest import V1, client_for
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def z(dt) -> str:
    """How the API renders a time: UTC with Z, to the second."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def shanghai(dt) -> str:
    """How a client in Songjiang sends a time: with its +08:00 offset."""
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def test_api_md_walkthrough():
    admin = User.objects.create_superuser(username="root", password="pw-root-123", email="root@example.org")
    duty_user = User.objects.create_user(username="duty", password="pw-duty-123", role=Role.DUTY_ROOM)
    root, duty = client_for(admin), client_for(duty_user)
    occurred, known = NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)

    with freeze_time(NOW):
        # Organisation: units by code, a contact, a shift.
        for body in (
            {"code": "sijing", "name": "泗泾镇", "kind": "town", "vertical": False, "domains": ["production_safety"]},
            {"code": "police", "name": "区公安分局", "kind": "department", "vertical": True, "domains": []},
            {"code": "duty-room", "name": "区政府总值班室", "kind": "duty_room"},
        ):
            response = duty.post(f"{V1}/units/", body, format="json")
            assert response.status_code == 201, response.content
        assert duty.get(f"{V1}/units/sijing/").json() == {
            "code": "sijing",
            "name": "泗泾镇",
            "name_en": "",
            "kind": "town",
            "vertical": False,
            "domains": ["production_safety"],
            "active": True,
        }
        contact_body = {
            "unit": "sijing",
            "name": "王某",
            "phone": "+8617000000001",
            "email": "a@example.org",
            "role": "duty_officer",
            "portfolio": [],
            "is_default": True,
        }
        response = duty.post(f"{V1}/contacts/", contact_body, format="json")
        assert response.status_code == 201
        contact = response.json()
        assert contact["unit"] == "sijing" and contact["phone"] == "+8617000000001" and contact["is_default"] is True
        shift_body = {
            "unit": "sijing",
            "contact": contact["id"],
            "role": "duty_officer",
            "starts_at": shanghai(NOW - timedelta(hours=1)),
            "ends_at": shanghai(NOW + timedelta(hours=23)),
        }
        response = duty.post(f"{V1}/shifts/", shift_body, format="json")
        assert response.status_code == 201
        assert response.json()["starts_at"] == z(NOW - timedelta(hours=1))

        # A user for 泗泾镇's duty officer: the token is shown once, and can be replaced.
        response = root.post(
            f"{V1}/users/",
            {"username": "sijing-officer", "role": "unit_staff", "unit": "sijing", "contact": contact["id"]},
            format="json",
        )
        assert response.status_code == 201
        officer_user = response.json()
        assert officer_user["unit"] == "sijing" and officer_user["active"] is True and len(officer_user["token"]) == 40
        assert "token" not in root.get(f"{V1}/users/{officer_user['id']}/").json()
        response = root.post(f"{V1}/users/{officer_user['id']}/token/")
        assert response.status_code == 201 and response.json()["token"] != officer_user["token"]
        officer = client_for(User.objects.get(pk=officer_user["id"]))

        # Open an incident for two units (API.md's example body).
        incident_body = {
            "title": "泗泾镇某厂房火灾",
            "domain": "production_safety",
            "occurred_at": shanghai(occurred),
            "location": "泗泾镇某路某号",
            "summary": "厂房起火",
            "deaths": 0,
            "injuries": 2,
            "missing": 0,
            "direct_loss_yuan": 0,
            "grade": None,
            "exercise": False,
            "sensitive": False,
            "units": [
                {"unit": "sijing", "first_known_at": shanghai(known), "channel": "self"},
                {"unit": "police", "first_known_at": shanghai(known), "channel": "110"},
            ],
        }
        response = duty.post(f"{V1}/incidents/", incident_body, format="json")
        assert response.status_code == 201, response.content
        incident = response.json()
        assert incident["number"] == f"SJ-2026-{incident['id']:06d}"
        assert incident["grade"] == "IV" and incident["grade_computed"] == "IV"
        assert incident["occurred_at"] == z(occurred)
        by_unit = {o["unit"]: o for o in incident["obligations"]}
        assert set(by_unit) == {"sijing", "police"}
        assert by_unit["sijing"]["verbal_due_at"] == z(known + timedelta(minutes=30))
        assert by_unit["sijing"]["written_due_at"] == z(known + timedelta(minutes=60))
        assert by_unit["sijing"]["verbal_state"] == "pending" and by_unit["sijing"]["overdue"] is False
        assert by_unit["sijing"]["verbal_filed_at"] is None

    # 泗泾镇 phones in its verbal report at 09:05 and files its written report at 09:40 (both on time).
    with freeze_time(NOW + timedelta(minutes=5)):
        verbal = {
            "incident": incident["id"],
            "unit": "sijing",
            "kind": "verbal",
            "occurred_at": shanghai(occurred),
            "location": "泗泾镇某路某号",
            "account": "厂房起火",
            "deaths": 0,
            "injuries": 2,
            "missing": 0,
        }
        response = officer.post(f"{V1}/reports/", verbal, format="json")
        assert response.status_code == 201, response.content
        report = response.json()
        assert report["kind"] == "verbal" and report["sequence"] == 1 and report["on_time"] is True
        assert report["delay_seconds"] == 0
        assert report["filed_at"] == report["counted_at"] == z(NOW + timedelta(minutes=5))
        assert report["due_at"] == z(known + timedelta(minutes=30))
    with freeze_time(NOW + timedelta(minutes=40)):
        written = {
            **verbal,
            "kind": "written",
            "measures": "消防、120到场",
            "contact_name": "王某",
            "contact_phone": "+8617000000001",
            "references": None,
            "draft": False,
        }
        response = officer.post(f"{V1}/reports/", written, format="json")
        assert response.status_code == 201
        assert response.json()["on_time"] is True and response.json()["due_at"] == z(known + timedelta(minutes=60))

    # The police: a draft at 09:45, filed at 10:00 — 10 minutes after its written due time.
    with freeze_time(NOW + timedelta(minutes=45)):
        response = duty.post(f"{V1}/reports/", {**written, "unit": "police", "draft": True}, format="json")
        assert response.status_code == 201
        draft = response.json()
        assert draft["filed_at"] is None and draft["draft"] is True
    with freeze_time(NOW + timedelta(minutes=60)):
        response = duty.post(f"{V1}/reports/{draft['id']}/file/")
        assert response.status_code == 200
        filed = response.json()
        assert filed["on_time"] is False and filed["delay_seconds"] == 600 and filed["sequence"] == 1
        for method in ("put", "patch", "delete"):
            assert getattr(duty, method)(f"{V1}/reports/{filed['id']}/", {}, format="json").status_code == 405

    # A 120 signal, posted twice by the feed: the same object back, 201 then 200.
    feed_user = User.objects.create_user(username="feed", password="pw-feed-123", role=Role.FEED)
    feed = client_for(feed_user)
    with freeze_time(NOW + timedelta(minutes=61)):
        signal_body = {
            "source": "120",
            "external_id": "A-778",
            "received_at": shanghai(NOW - timedelta(minutes=12)),
            "delivered_to": "sijing",
            "delivered_at": shanghai(NOW - timedelta(minutes=11)),
            "domain": "production_safety",
            "summary": "厂房火灾, 2人受伤",
            "location": "泗泾镇某路某号",
            "deaths": 0,
            "injuries": 2,
            "incident": None,
        }
        first = feed.post(f"{V1}/signals/", signal_body, format="json")
        again = feed.post(f"{V1}/signals/", signal_body, format="json")
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
        assert first.json()["delivered_to"] == "sijing" and first.json()["incident"] is None
        response = duty.post(f"{V1}/signals/{first.json()['id']}/link/", {"incident": incident["id"]}, format="json")
        assert response.status_code == 200 and response.json()["incident"] == incident["id"]

        # The incident's obligations and timeline.
        response = duty.get(f"{V1}/obligations/", {"incident": incident["id"]})
        assert response.status_code == 200 and response.json()["count"] == 2
        obligations = {o["unit"]: o for o in response.json()["results"]}
        assert obligations["sijing"]["verbal_state"] == "on_time"
        assert obligations["sijing"]["written_state"] == "on_time"
        assert obligations["police"]["written_state"] == "late"
        # The signal reached 泗泾镇 one minute before it declared knowing: the clock runs from the evidence.
        assert obligations["sijing"]["first_known_at"] == z(NOW - timedelta(minutes=11))
        response = duty.get(f"{V1}/incidents/{incident['id']}/timeline/", {"page_size": 500})
        assert response.status_code == 200
        kinds = [event["kind"] for event in response.json()["results"]]
        assert kinds[:3] == ["incident_created", "obligation_created", "obligation_created"]
        assert kinds.count("report_filed") == 3 and "report_draft_saved" in kinds and "signal_linked" in kinds
        times = [event["at"] for event in response.json()["results"]]
        assert times == sorted(times) and all(t.endswith("Z") for t in times)
        # 泗泾镇's officer sees the incident and 泗泾镇's own clock and reports, not the police's.
        response = officer.get(f"{V1}/incidents/{incident['id']}/timeline/", {"page_size": 500})
        assert response.status_code == 200
        events = response.json()["results"]
        assert [e["kind"] for e in events][:2] == ["incident_created", "obligation_created"]
        assert [e["kind"] for e in events].count("report_filed") == 2 and "signal_linked" in [e["kind"] for e in events]
        assert {e["detail"]["unit"] for e in events if "unit" in e["detail"]} == {"sijing"}

        # Filters as API.md lists them.
        assert duty.get(f"{V1}/incidents/", {"unit": "police"}).json()["count"] == 1
        assert duty.get(f"{V1}/incidents/", {"open": "true"}).json()["count"] == 0
        assert duty.get(f"{V1}/reports/", {"incident": incident["id"], "kind": "written"}).json()["count"] == 2
        assert officer.get(f"{V1}/reports/").json()["count"] == 2  # 泗泾镇's own, not the police's
        # Unit staff see the incident with their own unit's obligation only; the duty room sees both.
        assert [o["unit"] for o in officer.get(f"{V1}/incidents/{incident['id']}/").json()["obligations"]] == ["sijing"]
        assert len(duty.get(f"{V1}/incidents/{incident['id']}/").json()["obligations"]) == 2
        assert duty.get(f"{V1}/notifications/", {"incident": incident["id"]}).status_code == 200
