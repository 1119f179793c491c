"""Bad input on every writable field: 400 (413 for an oversized body) naming the field, and nothing written.

Each case starts from a body that is valid (checked by ``test_base_bodies_are_valid``) and breaks one thing.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reporting import services
from reporting.models import AuditEvent, Contact, Incident, Obligation, RefusedReport, Report, Shift, Signal, Unit, User
from tests.api.conftest import V1

DROP = object()
LONG = "长" * 10_000
MODELS = (Unit, Contact, Shift, User, Token, Incident, Obligation, Report, RefusedReport, Signal, AuditEvent)


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def shanghai(dt) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def naive(dt) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")


def bodies(world, now):
    """Endpoint -> (persona, method, url, valid body)."""
    ob = world["obligation"]
    return {
        "incident": (
            "duty",
            "post",
            "/incidents/",
            {
                "title": "车墩镇某仓库火灾",
                "domain": "production_safety",
                "occurred_at": shanghai(now - timedelta(minutes=30)),
                "location": "车墩镇某路2号",
                "summary": "仓库起火",
                "deaths": 0,
                "injuries": 2,
                "serious_injuries": 1,
                "missing": 0,
                "direct_loss_yuan": 0,
                "grade": None,
                "exercise": False,
                "sensitive": False,
                "units": [
                    {"unit": "chedun", "first_known_at": shanghai(now - timedelta(minutes=20)), "channel": "119"}
                ],
            },
        ),
        "incident_staff": (
            "own",
            "post",
            "/incidents/",
            {
                "title": "泗泾镇某路口积水",
                "domain": "city_operation",
                "occurred_at": shanghai(now - timedelta(minutes=30)),
                "location": "泗泾镇某路口",
                "units": [{"unit": "sijing", "first_known_at": shanghai(now - timedelta(minutes=20))}],
            },
        ),
        "incident_patch": ("duty", "patch", f"/incidents/{world['incident'].pk}/", {"deaths": 1, "title": "更正标题"}),
        "add_unit": (
            "duty",
            "post",
            f"/incidents/{world['incident'].pk}/units/",
            {"unit": "police", "first_known_at": shanghai(now - timedelta(minutes=5)), "channel": "110"},
        ),
        "report": (
            "own",
            "post",
            "/reports/",
            {
                "incident": world["incident"].pk,
                "unit": "sijing",
                "kind": "follow_up",
                "occurred_at": shanghai(now - timedelta(minutes=20)),
                "location": "泗泾镇某路1号",
                "account": "明火已扑灭",
                "deaths": 0,
                "injuries": 2,
                "serious_injuries": 1,
                "missing": 0,
                "measures": "现场警戒",
                "contact_name": "王某",
                "contact_phone": "+8617000000001",
                "references": None,
                "draft": False,
            },
        ),
        "report_draft": (
            "own",
            "post",
            "/reports/",
            {
                "incident": world["incident"].pk,
                "unit": "sijing",
                "kind": "written",
                "injuries": 2,
                "serious_injuries": 1,
                "draft": True,
            },
        ),
        "verbal_logged": (
            "duty",
            "post",
            "/reports/",
            {
                "incident": world["incident"].pk,
                "unit": "sijing",
                "kind": "verbal",
                "call_received_at": shanghai(now - timedelta(minutes=5)),
                "occurred_at": shanghai(now - timedelta(minutes=20)),
                "location": "泗泾镇某路1号",
                "account": "厂房起火",
                "deaths": 0,
                "injuries": 2,
                "missing": 0,
            },
        ),
        "signal": (
            "feed",
            "post",
            "/signals/",
            {
                "source": "110",
                "external_id": "B-1",
                "received_at": shanghai(now - timedelta(minutes=3)),
                "delivered_to": "chedun",
                "delivered_at": shanghai(now - timedelta(minutes=2)),
                "domain": "social_security",
                "summary": "群众报警",
                "location": "车墩镇",
                "deaths": 0,
                "injuries": 0,
                "incident": None,
            },
        ),
        "unit": ("duty", "post", "/units/", {"code": "xinqiao", "name": "新桥镇", "kind": "town", "domains": []}),
        "contact": (
            "duty",
            "post",
            "/contacts/",
            {
                "unit": "sijing",
                "name": "赵某",
                "phone": "+8617000000005",
                "email": "z@example.org",
                "role": "shift_leader",
                "portfolio": [],
                "is_default": False,
            },
        ),
        "shift": (
            "duty",
            "post",
            "/shifts/",
            {
                "unit": "sijing",
                "contact": world["contact"].pk,
                "role": "duty_officer",
                # The next day's shift, from a minute after the world's one ends (the same person on the same post
                # at once is refused; this body's seconds are cut).
                "starts_at": shanghai(now + timedelta(days=1, minutes=1)),
                "ends_at": shanghai(now + timedelta(days=2)),
            },
        ),
        "user": ("admin", "post", "/users/", {"username": "chedun-2", "role": "unit_staff", "unit": "chedun"}),
        "not_required": ("duty", "post", f"/obligations/{world['pending'].pk}/not-required/", {"reason": "误派单位"}),
        "first_known": (
            "duty",
            "post",
            f"/obligations/{ob.pk}/first-known/",
            {"first_known_at": shanghai(now - timedelta(minutes=12)), "reason": "核实来电记录"},
        ),
    }


# (endpoint, field path, bad value, expected status, field the error must name)
CASES = [
    # incidents
    ("incident", ("occurred_at",), "NAIVE", 400, "occurred_at"),
    ("incident", ("occurred_at",), "FUTURE", 400, "occurred_at"),
    ("incident", ("occurred_at",), "yesterday", 400, "occurred_at"),
    ("incident", ("occurred_at",), 12345, 400, "occurred_at"),
    ("incident", ("occurred_at",), DROP, 400, "occurred_at"),
    ("incident", ("units", 0, "first_known_at"), "NAIVE", 400, "units"),
    ("incident", ("units", 0, "first_known_at"), "FUTURE", 400, "first_known_at"),
    ("incident", ("units", 0, "first_known_at"), "BEFORE_OCCURRED", 400, "first_known_at"),
    ("incident", ("units", 0, "unit"), "nowhere", 400, "units"),
    ("incident", ("units", 0, "unit"), "", 400, "units"),
    ("incident", ("units", 0, "channel"), "pigeon", 400, "units"),
    ("incident", ("units",), [], 400, "units"),
    ("incident", ("units",), "chedun", 400, "units"),
    ("incident", ("deaths",), -1, 400, "deaths"),
    ("incident", ("injuries",), "two", 400, "injuries"),
    ("incident", ("missing",), 1.5, 400, "missing"),
    ("incident", ("direct_loss_yuan",), 10**20, 400, "direct_loss_yuan"),
    ("incident", ("serious_injuries",), 3, 400, "serious_injuries"),  # more seriously injured than the 2 injured
    ("incident", ("injuries",), 0, 400, "serious_injuries"),  # fewer injured than the 1 seriously injured
    ("incident", ("serious_injuries",), -1, 400, "serious_injuries"),
    ("incident", ("serious_injuries",), "one", 400, "serious_injuries"),
    ("incident", ("serious_injuries",), 1.5, 400, "serious_injuries"),
    ("incident", ("serious_injuries",), None, 400, "serious_injuries"),
    ("incident", ("serious_injuries",), 10**12, 400, "serious_injuries"),
    ("incident", ("grade",), "below", 400, "grade"),  # 2 injuries compute IV
    ("incident", ("grade",), "V", 400, "grade"),
    ("incident", ("domain",), "weather", 400, "domain"),
    ("incident", ("domain",), "", 400, "domain"),
    ("incident", ("title",), "", 400, "title"),
    ("incident", ("title",), "   ", 400, "title"),
    ("incident", ("title",), LONG, 400, "title"),
    ("incident", ("title",), ["火灾"], 400, "title"),
    ("incident", ("title",), None, 400, "title"),
    ("incident", ("title",), "火\x00灾", 400, "title"),
    ("incident", ("location",), "", 400, "location"),
    ("incident", ("location",), "某路\x1b1号", 400, "location"),
    ("incident", ("location",), LONG, 400, "location"),
    ("incident", ("summary",), LONG, 400, "summary"),
    ("incident", ("exercise",), "maybe", 400, "exercise"),
    ("incident", ("sensitive",), [], 400, "sensitive"),
    ("incident_staff", ("units", 0, "unit"), "chedun", 400, "units"),
    # incident changes and added units
    ("incident_patch", ("deaths",), -5, 400, "deaths"),
    ("incident_patch", ("grade",), "below", 400, "grade"),  # 1 death computes IV
    ("incident_patch", ("serious_injuries",), 3, 400, "serious_injuries"),  # the incident has 2 injured
    ("incident_patch", ("serious_injuries",), -1, 400, "serious_injuries"),
    ("incident_patch", ("serious_injuries",), True, 400, "serious_injuries"),
    ("incident_patch", ("title",), "", 400, "title"),
    ("incident_patch", ("title",), LONG, 400, "title"),
    ("add_unit", ("unit",), "nowhere", 400, "unit"),
    ("add_unit", ("first_known_at",), "FUTURE", 400, "first_known_at"),
    ("add_unit", ("first_known_at",), "NAIVE", 400, "first_known_at"),
    ("add_unit", ("first_known_at",), "BEFORE_OCCURRED", 400, "first_known_at"),
    ("add_unit", ("channel",), "pigeon", 400, "channel"),
    # reports
    ("report", ("kind",), "oral", 400, "kind"),
    ("report", ("unit",), "chedun", 400, "unit"),
    ("report", ("unit",), "nowhere", 400, "unit"),
    ("report", ("incident",), 99_999_999, 400, "incident"),
    ("report", ("incident",), "twelve", 400, "incident"),
    ("report", ("contact_phone",), "12345", 400, "contact_phone"),
    ("report", ("contact_phone",), "+86 170 0000 0001", 400, "contact_phone"),
    ("report", ("deaths",), -1, 400, "deaths"),
    ("report", ("injuries",), 10**12, 400, "injuries"),
    ("report", ("serious_injuries",), 3, 400, "serious_injuries"),
    ("report", ("injuries",), 0, 400, "serious_injuries"),
    ("report", ("serious_injuries",), -1, 400, "serious_injuries"),
    ("report", ("serious_injuries",), "a few", 400, "serious_injuries"),
    ("report", ("serious_injuries",), [1], 400, "serious_injuries"),
    ("report_draft", ("serious_injuries",), 3, 400, "serious_injuries"),
    ("report_draft", ("injuries",), None, 400, "serious_injuries"),
    ("verbal_logged", ("serious_injuries",), 3, 400, "serious_injuries"),
    ("report", ("occurred_at",), "NAIVE", 400, "occurred_at"),
    ("report", ("occurred_at",), "FUTURE", 400, "occurred_at"),
    ("report", ("location",), "", 400, "location"),
    ("report", ("account",), LONG, 400, "account"),
    ("report", ("measures",), LONG, 400, "measures"),
    ("report", ("contact_name",), LONG, 400, "contact_name"),
    ("report", ("call_received_at",), "NOW", 400, "call_received_at"),  # unit staff may not back-date
    ("report", ("draft",), "perhaps", 400, "draft"),
    ("report", ("references",), 99_999_999, 400, "references"),
    ("report", ("obligation",), 99_999_999, 400, "obligation"),
    ("report", ("obligation",), 0, 400, "obligation"),
    ("report", ("obligation",), 2**40, 400, "obligation"),
    ("report", ("obligation",), "abc", 400, "obligation"),
    ("report", ("obligation",), [1], 400, "obligation"),
    ("report", ("obligation",), True, 400, "obligation"),
    ("verbal_logged", ("call_received_at",), "FUTURE", 400, "call_received_at"),
    ("verbal_logged", ("call_received_at",), "LONG_AGO", 400, "call_received_at"),
    ("verbal_logged", ("call_received_at",), "NAIVE", 400, "call_received_at"),
    # signals
    ("signal", ("source",), "999", 400, "source"),
    ("signal", ("external_id",), "", 400, "external_id"),
    ("signal", ("external_id",), LONG, 400, "external_id"),
    ("signal", ("received_at",), "NAIVE", 400, "received_at"),
    ("signal", ("received_at",), "FUTURE", 400, "received_at"),
    ("signal", ("delivered_to",), "nowhere", 400, "delivered_to"),
    ("signal", ("delivered_to",), None, 400, "delivered_to"),  # a delivery time needs a unit
    ("signal", ("delivered_at",), "FUTURE", 400, "delivered_at"),
    ("signal", ("delivered_at",), "LONG_AGO", 400, "delivered_at"),  # delivered before the feed received it
    ("signal", ("deaths",), -1, 400, "deaths"),
    ("signal", ("summary",), LONG, 400, "summary"),
    ("signal", ("domain",), "weather", 400, "domain"),
    ("signal", ("incident",), "INCIDENT", 400, "incident"),  # linking is the duty room's choice
    # organisation
    ("unit", ("code",), "has space", 400, "code"),
    ("unit", ("code",), "sijing", 400, "code"),
    ("unit", ("code",), LONG, 400, "code"),
    ("unit", ("kind",), "village", 400, "kind"),
    ("unit", ("name",), "", 400, "name"),
    ("unit", ("name",), "新桥\x0b镇", 400, "name"),
    ("unit", ("domains",), ["weather"], 400, "domains"),
    ("unit", ("vertical",), "sometimes", 400, "vertical"),
    ("contact", ("phone",), "017000000001", 400, "phone"),
    ("contact", ("phone",), "", 400, "phone"),
    ("contact", ("phone",), "+86-170-0000", 400, "phone"),
    ("contact", ("name",), "", 400, "name"),
    ("contact", ("name",), LONG, 400, "name"),
    ("contact", ("email",), "not-an-email", 400, "email"),
    ("contact", ("role",), "boss", 400, "role"),
    ("contact", ("unit",), "nowhere", 400, "unit"),
    ("contact", ("portfolio",), ["weather"], 400, "portfolio"),
    ("contact", ("portfolio",), "production_safety", 400, "portfolio"),
    ("shift", ("ends_at",), "BEFORE_START", 400, "ends_at"),
    ("shift", ("starts_at",), "NAIVE", 400, "starts_at"),
    ("shift", ("contact",), 99_999_999, 400, "contact"),
    ("shift", ("unit",), "chedun", 400, "contact"),  # the contact is 泗泾镇's
    ("shift", ("role",), "boss", 400, "role"),
    ("shift", ("starts_at",), "ON_POST_ALREADY", 400, "starts_at"),
    ("user", ("unit",), DROP, 400, "unit"),
    ("user", ("role",), "king", 400, "role"),
    ("user", ("username",), "", 400, "username"),
    ("user", ("username",), LONG, 400, "username"),
    ("user", ("username",), "sijing-officer", 400, "username"),
    ("user", ("password",), "short", 400, "password"),
    # obligations
    ("not_required", ("reason",), "", 400, "reason"),
    ("not_required", ("reason",), LONG, 400, "reason"),
    ("first_known", ("first_known_at",), "BEFORE_OCCURRED", 400, "first_known_at"),
    ("first_known", ("first_known_at",), "NAIVE", 400, "first_known_at"),
    ("first_known", ("reason",), "", 400, "reason"),
]


def resolve(value, world, now):
    incident = world["incident"]
    return (
        {
            "NAIVE": naive(now - timedelta(minutes=10)),
            "FUTURE": shanghai(now + timedelta(hours=1)),
            "NOW": shanghai(now),
            "LONG_AGO": shanghai(now - timedelta(minutes=45)),
            "BEFORE_OCCURRED": shanghai(incident.occurred_at - timedelta(minutes=30)),
            "BEFORE_START": shanghai(now + timedelta(hours=12)),
            "ON_POST_ALREADY": shanghai(now + timedelta(hours=23)),  # the world's shift runs to now + 24 h
            "INCIDENT": incident.pk,
        }.get(value, value)
        if isinstance(value, str)
        else value
    )


def set_path(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is DROP:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


@pytest.fixture
def world(world, units, duty_room):
    """The shared world, plus an obligation whose clocks are still pending (泗泾镇's are both filed)."""
    now = timezone.now()
    world["pending"] = services.incident_add_unit(
        incident=world["incident"],
        unit=units["emergency"],
        first_known_at=now - timedelta(minutes=8),
        channel="duty_room",
        actor=duty_room,
        now=now,
    )
    return world


@pytest.fixture
def clients(api, world, duty_room, feed, admin_user):
    return {"duty": api(duty_room), "own": api(world["user"]), "feed": api(feed), "admin": api(admin_user)}


@pytest.mark.parametrize(
    "endpoint",
    [
        "incident",
        "incident_staff",
        "add_unit",
        "report",
        "report_draft",
        "verbal_logged",
        "signal",
        "unit",
        "contact",
        "shift",
        "user",
        "not_required",
        "first_known",
        "incident_patch",
    ],
)
def test_base_bodies_are_valid(world, clients, endpoint):
    """The starting points are accepted, so every failure below is caused by the one thing each case breaks."""
    persona, method, url, body = bodies(world, timezone.now())[endpoint]
    response = getattr(clients[persona], method)(V1 + url, body, format="json")
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("endpoint", "path", "value", "expected", "field"),
    CASES,
    ids=[f"{c[0]}-{'.'.join(map(str, c[1]))}-{str(c[2])[:20]}" for c in CASES],
)
def test_bad_field_is_refused_and_nothing_written(world, clients, endpoint, path, value, expected, field):
    now = timezone.now()
    persona, method, url, body = bodies(world, now)[endpoint]
    body = copy.deepcopy(body)
    set_path(body, path, resolve(value, world, now))
    before = counts()
    response = getattr(clients[persona], method)(V1 + url, body, format="json")
    assert response.status_code == expected, response.content[:500]
    assert field in response.json(), response.json()
    assert counts() == before
    world["incident"].refresh_from_db()
    assert world["incident"].deaths == 0


@pytest.mark.parametrize("endpoint", ["incident", "report", "signal", "contact", "unit", "user", "add_unit"])
def test_malformed_json_is_a_400_under_non_field_errors(world, clients, endpoint):
    persona, method, url, _ = bodies(world, timezone.now())[endpoint]
    before = counts()
    response = getattr(clients[persona], method)(V1 + url, '{"title": "火灾", ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["non_field_errors"][0]
    assert counts() == before


@pytest.mark.parametrize("endpoint", ["incident", "report", "signal"])
def test_a_body_that_is_not_an_object_is_a_400(world, clients, endpoint):
    persona, method, url, _ = bodies(world, timezone.now())[endpoint]
    before = counts()
    response = getattr(clients[persona], method)(V1 + url, [1, 2, 3], format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    assert counts() == before


@pytest.mark.parametrize("endpoint", ["incident", "report", "signal", "contact"])
def test_a_body_over_one_mebibyte_is_a_413(world, clients, endpoint):
    persona, method, url, body = bodies(world, timezone.now())[endpoint]
    body = {**body, "padding": "x" * (1024 * 1024 + 1)}
    before = counts()
    response = getattr(clients[persona], method)(V1 + url, json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert counts() == before


def test_a_report_missing_required_elements_names_each_and_keeps_only_the_refusal(world, clients):
    """SPEC rule 8: refused, each missing element named; the attempt is kept (a RefusedReport), no Report."""
    _, _, _, body = bodies(world, timezone.now())["report"]
    body = {**body, "kind": "written"}
    for field in ("measures", "contact_name"):
        body.pop(field)
    before = counts()
    response = clients["own"].post(f"{V1}/reports/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"measures", "contact_name"}
    assert response.json()["measures"][0].startswith("缺少必报要素")
    after = counts()
    assert after["Report"] == before["Report"]
    assert after["RefusedReport"] == before["RefusedReport"] + 1


def test_signal_repeat_with_bad_time_is_still_a_400(world, clients):
    """Validation runs before the idempotency lookup: a broken repeat is refused, not answered with 200."""
    _, _, _, body = bodies(world, timezone.now())["signal"]
    assert clients["feed"].post(f"{V1}/signals/", body, format="json").status_code == 201
    response = clients["feed"].post(f"{V1}/signals/", {**body, "received_at": "2026-11-28T09:00:00"}, format="json")
    assert response.status_code == 400 and "received_at" in response.json()


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/incidents/?since=2026-11-28T09:00:00", "since"),
        ("/incidents/?until=tomorrow", "until"),
        ("/incidents/?domain=weather", "domain"),
        ("/incidents/?open=perhaps", "open"),
        ("/obligations/?state=sleeping", "state"),
        ("/obligations/?incident=abc", "incident"),
        ("/reports/?kind=oral", "kind"),
        ("/notifications/?status=lost", "status"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(world, clients, url, param):
    response = clients["duty"].get(V1 + url)
    assert response.status_code == 400
    assert param in response.json()


def test_messages_follow_accept_language(world, clients):
    zh = clients["duty"].post(f"{V1}/units/", {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = clients["duty"].post(f"{V1}/units/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert zh.json()["code"] == ["该字段是必填项。"]
    assert en.json()["code"] == ["This field is required."]
