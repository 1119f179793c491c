"""Every web form, every field, with values a user (or a tampered request) can send: never a 500, and a refused
request writes nothing. The API has schemathesis; the pages have this."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import signal_services
from reporting.models import (
    AuditEvent,
    Contact,
    Finding,
    FindingKind,
    Incident,
    Obligation,
    Report,
    Shift,
    Signal,
)
from reporting.web.display import local_input
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db

NASTY = [
    "",
    "   ",
    "x" * 10_001,
    "起火\x00经过",
    "响铃\x07",
    "-1",
    "1e309",
    "9" * 30,
    "２０２６-１１-２８T０９:００",
    "2026-11-28T25:61",
    "0x1F",
    "<script>alert(1)</script>",
    "NaN",
]


@pytest.fixture
def world(units, sijing_officer, duty_room):
    incident = open_incident(sijing_officer, units["police"], known_minutes_ago=10, title="某路口交通事故")
    obligation = incident.obligations.get()
    now = timezone.now()
    signal, _ = signal_services.signal_ingest(
        actor=None,
        now=now,
        source="110",
        external_id="A-1",
        received_at=now - timedelta(minutes=3),
        delivered_to=units["sijing"],
        delivered_at=now - timedelta(minutes=2),
    )
    finding = Finding.objects.create(
        key="fuzz-1",
        kind=FindingKind.LATE,
        unit=units["police"],
        incident=incident,
        obligation=obligation,
        found_at=now,
    )
    earlier = local_input(now - timedelta(minutes=8))
    return {
        "incident": incident,
        "obligation": obligation,
        "signal": signal,
        "finding": finding,
        "earlier": earlier,
        "occurred": local_input(incident.occurred_at),
        "tomorrow": local_input(now + timedelta(days=1)),
        "after": local_input(now + timedelta(days=2)),
        "contact": str(sijing_officer.contact.pk),
        "leader": str(
            Contact.objects.create(
                unit=units["qfb"], name="区领导甲", phone="+8613800000400", role="district_leader"
            ).pk
        ),
    }


def forms(world) -> list[tuple[str, str, dict]]:
    """(persona fixture, url, a valid body) for every form the pages post."""
    i, o = world["incident"].pk, world["obligation"].pk
    new = {
        "title": "某厂房火灾",
        "domain": "production_safety",
        "occurred_at": world["occurred"],
        "location": "某路1号",
        "summary": "",
        "deaths": "0",
        "injuries": "0",
        "serious_injuries": "0",
        "missing": "0",
        "direct_loss_yuan": "0",
        "first_known_at": world["earlier"],
        "channel": "self",
    }
    person = {"name": "赵新", "role": "duty_officer", "phone": "+8613800000123", "email": "", "active": "on"}
    leader = {"name": "区领导乙", "phone": "+8613800000402", "portfolio": "public_health", "active": "on"}
    return [
        ("sijing_officer", "/incidents/new/", new),
        ("duty_room", "/incidents/new/", {**new, "units": "sijing", "grade": "", "signal": str(world["signal"].pk)}),
        (
            "duty_room",
            f"/incidents/{i}/edit/",
            {
                k: new[k]
                for k in (
                    "title",
                    "location",
                    "summary",
                    "deaths",
                    "injuries",
                    "serious_injuries",
                    "missing",
                    "direct_loss_yuan",
                )
            },
        ),
        (
            "duty_room",
            f"/incidents/{i}/units/",
            {"unit": "chedun", "first_known_at": world["earlier"], "channel": "110"},
        ),
        ("duty_room", f"/obligations/{o}/not-required/", {"reason": "误派"}),
        ("duty_room", f"/obligations/{o}/first-known/", {"first_known_at": world["earlier"], "reason": "更正"}),
        ("duty_room", f"/obligations/{o}/city-report/", {"reported_at": world["earlier"]}),
        ("duty_room", f"/signals/{world['signal'].pk}/link/", {"incident": str(i)}),
        ("auditor", f"/audit/findings/{world['finding'].pk}/review/", {"decision": "dismissed", "reason": "核实"}),
        (
            "sijing_officer",
            "/roster/sijing/shifts/",
            {
                "contact": world["contact"],
                "role": "duty_officer",
                "starts_at": world["tomorrow"],
                "ends_at": world["after"],
                "days": "2",
                "every": "2",
            },
        ),
        ("sijing_officer", "/roster/sijing/people/", person),
        ("duty_room", f"/roster/people/{world['contact']}/", person),
        ("duty_room", "/roster/leaders/", leader),
        ("duty_room", f"/roster/leaders/{world['leader']}/", leader),
        (
            "duty_room",
            f"/obligations/{o}/file/",
            {
                "kind": "written",
                **{k: str(v) for k, v in WRITTEN.items()},
                "serious_injuries": "0",
                "occurred_at": world["occurred"],
            },
        ),
    ]


def written() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Incident, Obligation, Report, AuditEvent, Signal, Shift, Contact))


def test_no_value_in_any_field_of_any_form_is_a_500(client, request, world):
    seen = 0
    for persona, url, body in forms(world):
        client.force_login(request.getfixturevalue(persona))
        for field in body:
            for value in NASTY:
                before = written()
                response = client.post(url, {**body, field: value})
                seen += 1
                assert response.status_code < 500, (url, field, value, response.status_code)
                if response.status_code >= 400:
                    assert written() == before, (url, field, value)
    assert seen > 500


def test_control_characters_are_refused_on_their_field(client, sijing_officer, duty_room, auditor, world):
    client.force_login(duty_room)
    body = {"kind": "written", **{k: str(v) for k, v in WRITTEN.items()}, "occurred_at": world["occurred"]}
    response = client.post(f"/obligations/{world['obligation'].pk}/file/", {**body, "account": "起火\x07经过"})
    assert response.status_code == 400 and "account" in response.context["form"].errors
    assert "不能包含控制字符" in response.content.decode()
    client.force_login(auditor)
    response = client.post(
        f"/audit/findings/{world['finding'].pk}/review/", {"decision": "dismissed", "reason": "核实\x1b[31m"}
    )
    assert response.status_code == 400
    world["finding"].refresh_from_db()
    assert world["finding"].review == "open"


@pytest.mark.parametrize(
    "url",
    ["/incidents/?q=%00", "/incidents/?q=%07", "/signals/?show=%00", "/audit/?unit=%00", "/board/data.json?x=%00"],
)
def test_query_strings_never_break_a_page(client, duty_room, world, url):
    client.force_login(duty_room)
    assert client.get(url).status_code < 500
