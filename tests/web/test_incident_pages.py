"""Opening an incident from the web, and the duty room's actions on the incident page (add a unit, not required,
first-known correction), through Django's test client: who may, what is written, and bad input (400 naming the
field, what was typed kept, nothing written)."""

import functools
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from reporting import report_services, services
from reporting.models import AuditEvent, Channel, DeadlineState, Incident, Obligation
from reporting.web.display import local_input, local_short
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db


def fields(**overrides) -> dict:
    """A valid new-incident form as the browser posts it (Shanghai wall times, to the minute)."""
    now = timezone.now()
    data = {
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": local_input(now - timedelta(minutes=20)),
        "location": "泗泾镇某路1号",
        "summary": "厂房起火",
        "deaths": "0",
        "injuries": "2",
        "missing": "0",
        "direct_loss_yuan": "",
        "first_known_at": local_input(now - timedelta(minutes=10)),
        "channel": "self",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def written_counts() -> tuple[int, int, int]:
    return Incident.objects.count(), Obligation.objects.count(), AuditEvent.objects.count()


# --- opening an incident ---------------------------------------------------------------------------------------


def test_unit_staff_open_an_incident_for_their_own_unit(client, sijing_officer):
    client.force_login(sijing_officer)
    page = client.get("/incidents/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "泗泾镇" in html and 'name="units"' not in html and 'name="grade"' not in html
    data = fields()
    response = client.post("/incidents/new/", data)
    incident = Incident.objects.get()
    obligation = incident.obligations.get()
    # Straight on to the report (快报), the incident's facts filled in.
    assert response.status_code == 302 and response["Location"] == f"/obligations/{obligation.pk}/file/"
    assert obligation.unit.code == "sijing"
    assert local_input(obligation.first_known_at) == data["first_known_at"]
    assert obligation.verbal_due_at == obligation.first_known_at + timedelta(minutes=30)
    assert obligation.written_due_at == obligation.first_known_at + timedelta(minutes=60)
    assert obligation.first_known_channel == Channel.SELF
    assert (incident.injuries, incident.grade, incident.created_by) == (2, "IV", sijing_officer)
    assert list(AuditEvent.objects.filter(incident=incident).values_list("kind", flat=True)[:2]) == [
        "incident_created",
        "obligation_created",
    ]
    followed = client.get(response["Location"])
    assert "事件已建立" in followed.content.decode()
    initial = followed.context["form"].initial
    assert (initial["location"], initial["injuries"], initial["deaths"]) == ("泗泾镇某路1号", 2, 0)
    assert initial["occurred_at"] == data["occurred_at"]


def test_unit_staff_cannot_name_another_unit(client, sijing_officer, units):
    """The form has no unit field for them: a forged ``units`` value is ignored, the incident is their unit's."""
    client.force_login(sijing_officer)
    response = client.post("/incidents/new/", fields(units=["chedun", "police"]))
    assert response.status_code == 302
    assert list(Obligation.objects.values_list("unit__code", flat=True)) == ["sijing"]


def test_duty_room_opens_an_incident_for_several_units_with_a_grade(client, duty_room, units):
    client.force_login(duty_room)
    page = client.get("/incidents/new/").content.decode()
    assert 'value="sijing"' in page and 'value="police"' in page and 'name="grade"' in page
    response = client.post(
        "/incidents/new/", fields(units=["sijing", "emergency"], channel="duty_room", grade="III", exercise="on")
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.grade, incident.grade_computed, incident.exercise) == ("III", "IV", True)
    obligations = incident.obligations.order_by("unit__code")
    assert [(o.unit.code, o.first_known_channel) for o in obligations] == [
        ("emergency", "duty_room"),
        ("sijing", "duty_room"),
    ]


@pytest.mark.parametrize("persona", ["leader", "auditor", "feed"])
def test_read_only_roles_cannot_open_incidents(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    page = client.get("/incidents/new/")
    assert page.status_code == 403 and "无权操作" in page.content.decode()
    assert client.post("/incidents/new/", fields(units=["sijing"])).status_code == 403
    assert Incident.objects.count() == 0


def test_anonymous_is_sent_to_login(client, units):
    response = client.post("/incidents/new/", fields())
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Incident.objects.count() == 0


def _later(minutes: int) -> str:
    return local_input(timezone.now() + timedelta(minutes=minutes))


def _earlier(minutes: int) -> str:
    return local_input(timezone.now() - timedelta(minutes=minutes))


# Parametrize tables are built when the tests are collected, which is many minutes before a test runs in a full
# suite: a time "10 minutes from now" would be in the past by then. The tables hold these instead; ``resolved``
# turns them into times when the test runs.
def later(minutes: int) -> Callable[[], str]:
    return functools.partial(_later, minutes)


def earlier(minutes: int) -> Callable[[], str]:
    return functools.partial(_earlier, minutes)


def resolved(data: dict) -> dict:
    return {key: value() if callable(value) else value for key, value in data.items()}


BAD_NEW_INCIDENT = [
    ("empty title", {"title": ""}, "title"),
    ("blank title", {"title": "   "}, "title"),
    ("10,000-character title", {"title": "火" * 10_000}, "title"),
    ("unknown domain", {"domain": "aliens"}, "domain"),
    ("no occurred time", {"occurred_at": ""}, "occurred_at"),
    ("not a time", {"occurred_at": "yesterday noon"}, "occurred_at"),
    ("impossible date", {"occurred_at": "2026-02-30T10:00"}, "occurred_at"),
    ("occurred in the future", {"occurred_at": later(30), "first_known_at": later(31)}, "occurred_at"),
    ("first known in the future", {"first_known_at": later(30)}, "first_known_at"),
    ("first known before it occurred", {"first_known_at": earlier(60)}, "first_known_at"),
    ("no first-known time", {"first_known_at": ""}, "first_known_at"),
    ("empty location", {"location": ""}, "location"),
    ("negative deaths", {"deaths": "-1"}, "deaths"),
    ("fractional injuries", {"injuries": "1.5"}, "injuries"),
    ("more seriously injured than injured", {"serious_injuries": "3"}, "serious_injuries"),
    ("seriously injured but no injured", {"injuries": "", "serious_injuries": "1"}, "serious_injuries"),
    ("negative serious injuries", {"serious_injuries": "-1"}, "serious_injuries"),
    ("words for serious injuries", {"serious_injuries": "three"}, "serious_injuries"),
    ("words for missing", {"missing": "two"}, "missing"),
    ("negative loss", {"direct_loss_yuan": "-100"}, "direct_loss_yuan"),
    ("loss beyond the database", {"direct_loss_yuan": str(10**20)}, "direct_loss_yuan"),
    ("deaths beyond any count", {"deaths": str(10**12)}, "deaths"),
    ("NUL in the place", {"location": "某路\x001号"}, "location"),
    ("year 99999", {"occurred_at": "99999-01-01T00:00"}, "occurred_at"),
    ("unknown channel", {"channel": "telepathy"}, "channel"),
    ("summary over 5,000 characters", {"summary": "x" * 5001}, "summary"),
]


@pytest.mark.parametrize(("case", "overrides", "field"), BAD_NEW_INCIDENT, ids=[c[0] for c in BAD_NEW_INCIDENT])
def test_bad_input_is_refused_on_its_field_and_nothing_is_written(client, sijing_officer, case, overrides, field):
    client.force_login(sijing_officer)
    before = written_counts()
    response = client.post("/incidents/new/", fields(**resolved(overrides)))
    assert response.status_code == 400, case
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert f'href="#id_{field}"' in response.content.decode()
    assert written_counts() == before
    # What the user typed is kept (the title, whatever else was wrong).
    if field != "title":
        assert 'value="泗泾镇某厂房火灾"' in response.content.decode()


BAD_DUTY_ROOM = [
    ("no unit", {"units": None}, "units"),
    ("unknown unit", {"units": ["sijing", "atlantis"]}, "units"),
    ("unknown grade", {"units": ["sijing"], "grade": "V"}, "grade"),
    ("grade below the computed one", {"units": ["sijing"], "deaths": "3", "grade": "IV"}, "grade"),
]


@pytest.mark.parametrize(("case", "overrides", "field"), BAD_DUTY_ROOM, ids=[c[0] for c in BAD_DUTY_ROOM])
def test_duty_room_bad_input(client, duty_room, case, overrides, field):
    client.force_login(duty_room)
    before = written_counts()
    response = client.post("/incidents/new/", fields(**overrides))
    assert response.status_code == 400, case
    assert field in response.context["form"].errors
    assert written_counts() == before


def test_a_unit_officer_is_not_offered_the_duty_rooms_decisions_and_cannot_post_them(client, sijing_officer):
    client.force_login(sijing_officer)
    page = client.get("/incidents/new/").content.decode()
    assert 'name="exercise"' not in page and 'name="grade"' not in page and 'name="sensitive"' not in page
    response = client.post("/incidents/new/", fields(exercise="on", grade="I", sensitive="on"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.exercise, incident.sensitive, incident.grade) == (False, False, incident.grade_computed)


def test_every_refusal_shows_at_once_not_in_two_rounds(client, sijing_officer):
    client.force_login(sijing_officer)
    bad = {
        "direct_loss_yuan": "-100",  # a field error
        "occurred_at": _later(60),  # refused by the rule-6 time check
        "first_known_at": _later(61),
        "injuries": "2",
        "serious_injuries": "3",  # more seriously injured than injured
    }
    response = client.post("/incidents/new/", fields(**bad))
    assert response.status_code == 400
    assert {"direct_loss_yuan", "occurred_at", "serious_injuries"} <= set(response.context["form"].errors)
    assert written_counts() == (0, 0, 0)
    # First known before it occurred, with the rest right: named on its own field.
    early = {"occurred_at": _earlier(20), "first_known_at": _earlier(30), "serious_injuries": "1"}
    response = client.post("/incidents/new/", fields(**early))
    assert response.status_code == 400 and list(response.context["form"].errors) == ["first_known_at"]


def test_the_refusal_is_in_english_when_asked(client, sijing_officer):
    client.force_login(sijing_officer)
    client.cookies["django_language"] = "en"
    response = client.post("/incidents/new/", fields(title=""), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "The incident was not opened" in response.content.decode()


# --- the duty room's actions on the incident page --------------------------------------------------------------


@pytest.fixture
def incident(units, sijing_officer):
    return open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")


def test_the_incident_page_offers_actions_to_the_duty_room_only(client, incident, duty_room, sijing_officer, leader):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'action="/incidents/{incident.pk}/units/"' in html
    assert f'action="/obligations/{obligation.pk}/not-required/"' in html
    assert f'action="/obligations/{obligation.pk}/first-known/"' in html
    for persona in (sijing_officer, leader):
        client.force_login(persona)
        html = client.get(f"/incidents/{incident.pk}/").content.decode()
        assert "/units/" not in html and "not-required" not in html and "first-known" not in html


def test_duty_room_adds_a_unit(client, incident, duty_room):
    client.force_login(duty_room)
    known = _earlier(5)
    response = client.post(
        f"/incidents/{incident.pk}/units/", {"unit": "police", "first_known_at": known, "channel": "110"}
    )
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    added = incident.obligations.get(unit__code="police")
    assert (local_input(added.first_known_at), added.first_known_channel) == (known, "110")
    assert added.verbal_due_at == added.first_known_at + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("case", "data", "status", "field"),
    [
        ("already responsible", {"unit": "sijing", "first_known_at": earlier(5), "channel": "110"}, 409, "unit"),
        ("unknown unit", {"unit": "atlantis", "first_known_at": earlier(5), "channel": "110"}, 400, "unit"),
        ("future time", {"unit": "police", "first_known_at": later(10), "channel": "110"}, 400, "first_known_at"),
        ("no time", {"unit": "police", "first_known_at": "", "channel": "110"}, 400, "first_known_at"),
        ("unknown channel", {"unit": "police", "first_known_at": earlier(5), "channel": "x"}, 400, "channel"),
    ],
)
def test_adding_a_unit_refuses_bad_input(client, incident, duty_room, case, data, status, field):
    client.force_login(duty_room)
    before = written_counts()
    response = client.post(f"/incidents/{incident.pk}/units/", resolved(data))
    assert response.status_code == status, case
    assert field in response.context["add_unit_form"].errors
    assert written_counts() == before


def test_unit_staff_and_readers_cannot_act(client, incident, sijing_officer, leader, outsider):
    obligation = incident.obligations.get()
    for persona in (sijing_officer, leader, outsider):
        client.force_login(persona)
        before = written_counts()
        add = {"unit": "police", "first_known_at": _earlier(5), "channel": "110"}
        assert client.post(f"/incidents/{incident.pk}/units/", add).status_code == 404
        assert client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "x"}).status_code == 404
        assert client.post(f"/obligations/{obligation.pk}/restore/", {"reason": "x"}).status_code == 404
        correction = {"first_known_at": _earlier(8), "reason": "x"}
        assert client.post(f"/obligations/{obligation.pk}/first-known/", correction).status_code == 404
        assert written_counts() == before
    assert client.get(f"/obligations/{obligation.pk}/not-required/").status_code == 405


def test_duty_room_marks_an_obligation_not_required(client, incident, duty_room):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    assert client.get(f"/incidents/{incident.pk}/").context["rows"][0]["may_file"] is True
    response = client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "误派单位"})
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == (DeadlineState.NOT_REQUIRED,) * 2
    assert obligation.not_required_reason == "误派单位" and obligation.not_required_by == duty_room
    page = client.get(response["Location"])
    assert "误派单位" in page.content.decode()
    assert page.context["rows"][0]["may_file"] is False  # nothing left to file: no 填报 button
    assert f'href="/obligations/{obligation.pk}/file/"' not in page.content.decode()


def test_not_required_needs_a_reason_and_a_pending_clock(client, incident, duty_room, sijing_officer):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    response = client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "  "})
    assert response.status_code == 400
    assert "reason" in response.context["rows"][0]["not_required_form"].errors
    assert response.context["rows"][0]["actions_open"] is True
    obligation.refresh_from_db()
    assert obligation.verbal_state == DeadlineState.PENDING
    now = timezone.now()
    report_services.report_create(
        obligation=obligation,
        kind="written",
        actor=sijing_officer,
        now=now,
        occurred_at=now - timedelta(minutes=15),
        **WRITTEN,
    )
    response = client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "误派单位"})
    assert response.status_code == 409
    obligation.refresh_from_db()
    assert obligation.written_state == DeadlineState.ON_TIME


def test_duty_room_restores_an_obligation_marked_by_mistake(client, incident, duty_room, sijing_officer):
    """撤销无需报送 where the mark shows: the clocks run again on their original due times, the timeline says who
    undid which mark and why, and the 填报 button is back."""
    obligation = incident.obligations.get()
    due = (obligation.verbal_due_at, obligation.written_due_at)
    client.force_login(duty_room)
    assert (
        'action="/obligations/' + str(obligation.pk) + '/restore/"'
        not in client.get(f"/incidents/{incident.pk}/").content.decode()
    )  # nothing to undo yet
    client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "误派单位"})
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'action="/obligations/{obligation.pk}/restore/"' in page
    response = client.post(f"/obligations/{obligation.pk}/restore/", {"reason": "单位派对了"})
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert (obligation.verbal_state, obligation.written_state) == (DeadlineState.PENDING,) * 2
    assert (obligation.verbal_due_at, obligation.written_due_at) == due
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.context["rows"][0]["may_file"] is True
    assert f'action="/obligations/{obligation.pk}/restore/"' not in html
    [restored] = [e for e in page.context["timeline"] if e["kind"] == "obligation_restored"]
    assert "撤销无需报送" in restored["label"]
    assert "单位派对了" in restored["summary"] and "误派单位" in restored["summary"]
    assert restored["actor"] == duty_room.username
    client.force_login(sijing_officer)  # the unit sees its own obligation's restore
    assert "单位派对了" in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_restore_needs_a_reason_and_a_mark(client, incident, duty_room):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    response = client.post(f"/obligations/{obligation.pk}/restore/", {"reason": "单位派对了"})
    assert response.status_code == 409  # not marked: nothing to undo
    client.post(f"/obligations/{obligation.pk}/not-required/", {"reason": "误派单位"})
    for reason in ("", "  ", "长" * 2001):
        response = client.post(f"/obligations/{obligation.pk}/restore/", {"reason": reason})
        assert response.status_code == 400
        assert "reason" in response.context["rows"][0]["restore_form"].errors
        assert response.context["rows"][0]["actions_open"] is True
    obligation.refresh_from_db()
    assert obligation.is_not_required
    assert not AuditEvent.objects.filter(kind="obligation_restored").exists()


def test_duty_room_corrects_a_first_known_time(client, incident, duty_room):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    corrected = _earlier(13)
    response = client.post(
        f"/obligations/{obligation.pk}/first-known/", {"first_known_at": corrected, "reason": "值班记录显示更早"}
    )
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert local_input(obligation.first_known_at) == corrected
    assert obligation.verbal_due_at == obligation.first_known_at + timedelta(minutes=30)
    event = AuditEvent.objects.filter(kind="first_known_corrected").get()
    assert event.detail["reason"] == "值班记录显示更早" and event.actor == "duty"


@pytest.mark.parametrize(
    ("case", "data", "field"),
    [
        ("future", {"first_known_at": later(10), "reason": "x"}, "first_known_at"),
        ("before it occurred", {"first_known_at": earlier(120), "reason": "x"}, "first_known_at"),
        ("no reason", {"first_known_at": earlier(12), "reason": ""}, "reason"),
        ("not a time", {"first_known_at": "soon", "reason": "x"}, "first_known_at"),
    ],
)
def test_a_bad_correction_is_refused(client, incident, duty_room, case, data, field):
    obligation = incident.obligations.get()
    before = (obligation.first_known_at, written_counts())
    client.force_login(duty_room)
    response = client.post(f"/obligations/{obligation.pk}/first-known/", resolved(data))
    assert response.status_code == 400, case
    assert field in response.context["rows"][0]["first_known_form"].errors
    obligation.refresh_from_db()
    assert (obligation.first_known_at, written_counts()) == before


def test_actions_on_an_unknown_obligation_are_404(client, duty_room, units):
    client.force_login(duty_room)
    assert client.post("/obligations/999999/not-required/", {"reason": "x"}).status_code == 404
    assert client.post("/incidents/999999/units/", {"unit": "police"}).status_code == 404


# --- editing an incident, and a vertical unit's city-level report ----------------------------------------------


def edit_fields(incident, **overrides) -> dict:
    data = {
        "title": incident.title,
        "location": incident.location,
        "summary": incident.summary,
        "deaths": str(incident.deaths),
        "injuries": str(incident.injuries),
        "serious_injuries": str(incident.serious_injuries),
        "missing": str(incident.missing),
        "direct_loss_yuan": str(incident.direct_loss_yuan),
        "grade": "",
    }
    data.update(overrides)
    return data


def test_duty_room_edits_the_figures_and_the_grade_follows(client, incident, duty_room):
    client.force_login(duty_room)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'action="/incidents/{incident.pk}/edit/"' in page
    response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, deaths="3", title="厂房火灾(更新)"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.deaths, incident.grade, incident.grade_computed, incident.title) == (
        3,
        "III",
        "III",
        "厂房火灾(更新)",
    )
    event = AuditEvent.objects.filter(kind="incident_changed").get()
    assert event.detail["changes"]["deaths"] == [0, 3] and event.actor == "duty"


def test_the_grade_follows_corrected_figures_down_unless_raised_and_a_raise_can_be_undone(client, incident, duty_room):
    client.force_login(duty_room)

    def edit(**overrides):
        response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, **overrides))
        assert response.status_code == 302
        incident.refresh_from_db()
        return incident.grade, incident.grade_computed

    assert edit(deaths="3") == ("III", "III")
    assert edit(deaths="0") == ("below", "below")  # figures corrected: nobody raised it, so it follows them down
    assert edit(grade="II") == ("II", "below")
    assert edit(deaths="1") == ("II", "IV")  # the duty room's raise stays
    assert edit(grade="computed") == ("IV", "IV")  # 按伤亡损失计算 undoes it


@pytest.mark.parametrize(
    ("case", "overrides", "field"),
    [
        ("grade below computed", {"deaths": "3", "grade": "IV"}, "grade"),
        ("unknown grade", {"grade": "V"}, "grade"),
        ("negative injuries", {"injuries": "-2"}, "injuries"),
        ("more seriously injured than injured", {"injuries": "4", "serious_injuries": "5"}, "serious_injuries"),
        ("empty serious injuries", {"serious_injuries": ""}, "serious_injuries"),
        ("fractional serious injuries", {"serious_injuries": "0.5"}, "serious_injuries"),
        ("empty deaths", {"deaths": ""}, "deaths"),
        ("empty title", {"title": " "}, "title"),
        ("title too long", {"title": "x" * 201}, "title"),
        ("loss beyond the database", {"direct_loss_yuan": str(10**20)}, "direct_loss_yuan"),
    ],
)
def test_a_bad_edit_is_refused_and_changes_nothing(client, incident, duty_room, case, overrides, field):
    client.force_login(duty_room)
    before = (incident.title, incident.deaths, incident.injuries, incident.grade, written_counts())
    response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, **overrides))
    assert response.status_code == 400, case
    assert field in response.context["edit_form"].errors
    assert 'id="edit-incident" open' in response.content.decode()
    incident.refresh_from_db()
    assert (incident.title, incident.deaths, incident.injuries, incident.grade, written_counts()) == before


def test_duty_room_records_serious_injuries_and_the_grade_follows_them(client, incident, duty_room):
    """Grading counts the seriously injured (SPEC rule 9): 50 injured, none seriously, stay 一般 (IV); 10 of them
    seriously injured make it 较大 (III)."""
    client.force_login(duty_room)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'name="serious_injuries"' in page and "其中重伤" in page
    response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, injuries="50"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (50, 0, "IV")
    assert not incident.obligations.filter(kind="relay").exists()
    response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, serious_injuries="10"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade, incident.grade_computed) == (
        50,
        10,
        "III",
        "III",
    )
    event = AuditEvent.objects.filter(kind="incident_changed").last()
    assert event.detail["changes"] == {"serious_injuries": [0, 10], "grade": ["IV", "III"]}
    page = client.get(f"/incidents/{incident.pk}/")
    facts = page.content.decode().split('id="incident-casualties">', 1)[1].split("</dd>", 1)[0]
    assert facts == "0 / 50 (其中重伤 10) / 0"
    # Fewer injured than seriously injured is refused on the serious-injury field, nothing changed.
    before = written_counts()
    response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, injuries="9"))
    assert response.status_code == 400
    assert "不能多于受伤人数" in response.context["edit_form"].errors["serious_injuries"][0]
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, written_counts()) == (50, 10, before)


def test_fifty_light_injuries_open_a_grade_iv_incident_and_serious_ones_grade_it(client, duty_room, units):
    client.force_login(duty_room)
    page = client.get("/incidents/new/").content.decode()
    assert 'name="serious_injuries"' in page
    response = client.post("/incidents/new/", fields(units=["sijing"], channel="duty_room", injuries="50"))
    assert response.status_code == 302
    light = Incident.objects.get()
    assert (light.injuries, light.serious_injuries, light.grade) == (50, 0, "IV")
    assert [o.kind for o in light.obligations.all()] == ["report"]  # no relay: II would owe one
    response = client.post(
        "/incidents/new/",
        fields(units=["sijing"], channel="duty_room", title="重伤", injuries="50", serious_injuries="50"),
    )
    assert response.status_code == 302
    serious = Incident.objects.get(title="重伤")
    assert (serious.serious_injuries, serious.grade) == (50, "II")
    assert serious.obligations.filter(kind="relay").count() == 1


def test_only_the_duty_room_edits(client, incident, sijing_officer, leader):
    for persona in (sijing_officer, leader):
        client.force_login(persona)
        response = client.post(f"/incidents/{incident.pk}/edit/", edit_fields(incident, deaths="5"))
        assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.deaths == 0


@pytest.fixture
def police_officer(units):
    from tests.conftest import make_user

    return make_user("police-officer", "unit_staff", units["police"])


def test_a_vertical_unit_records_its_city_report(client, units, police_officer, sijing_officer):
    incident = open_incident(police_officer, units["police"], known_minutes_ago=10, title="某路口交通事故")
    obligation = incident.obligations.get()
    client.force_login(police_officer)
    assert (
        f'action="/obligations/{obligation.pk}/city-report/"'
        in client.get(f"/incidents/{incident.pk}/").content.decode()
    )
    reported = _earlier(8)
    response = client.post(f"/obligations/{obligation.pk}/city-report/", {"reported_at": reported})
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert local_input(obligation.city_reported_at) == reported
    assert AuditEvent.objects.filter(kind="city_report_recorded", actor="police-officer").count() == 1
    # A future time is refused on its field; another unit's officer does not even see the obligation.
    response = client.post(f"/obligations/{obligation.pk}/city-report/", {"reported_at": _later(10)})
    assert response.status_code == 400
    assert "reported_at" in response.context["rows"][0]["city_report_form"].errors
    client.force_login(sijing_officer)
    assert client.post(f"/obligations/{obligation.pk}/city-report/", {"reported_at": reported}).status_code == 404


def test_no_city_report_form_for_a_unit_that_is_not_vertical(client, incident, duty_room):
    obligation = incident.obligations.get()
    client.force_login(duty_room)
    assert "city-report" not in client.get(f"/incidents/{incident.pk}/").content.decode()
    response = client.post(f"/obligations/{obligation.pk}/city-report/", {"reported_at": _earlier(5)})
    assert response.status_code == 400
    obligation.refresh_from_db()
    assert obligation.city_reported_at is None


def test_the_pages_speak_english_when_asked(client, incident, duty_room):
    client.force_login(duty_room)
    client.cookies["django_language"] = "en"
    new = client.get("/incidents/new/").content.decode()
    for text in ("New incident", "Open the incident and start the clocks", "Responsible units", "First known"):
        assert text in new
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    for text in ("Edit the incident", "Add a responsible unit", "Mark as not required", "Correct the first-known time"):
        assert text in page


# --- the timeline shows the chasing ----------------------------------------------------------------------------


def test_the_timeline_shows_each_chase_and_unit_staff_see_their_own(client, units, sijing_officer, duty_room):
    from notifications.delivery import notification_audit
    from notifications.models import Notification
    from reporting.auditlog import audited

    mine = open_incident(sijing_officer, units["sijing"], known_minutes_ago=40, title="泗泾镇某厂房火灾")
    obligation = mine.obligations.get()
    theirs = services.incident_add_unit(
        incident=mine,
        unit=units["chedun"],
        first_known_at=timezone.now() - timedelta(minutes=35),
        channel="duty_room",
        actor=duty_room,
        now=timezone.now(),
    )
    now = timezone.now()

    @audited
    def chase(ob, to, step, repeat=0):
        n = Notification.objects.create(
            incident=mine,
            obligation=ob,
            step=step,
            repeat=repeat,
            channel="sms",
            to=to,
            scheduled_for=now,
            created_at=now,
        )
        notification_audit(n, kind="notification_sent", now=now, provider_id="SM1")

    chase(obligation, "+8617000000001", "verbal_overdue", repeat=1)
    chase(theirs, "+8617000000002", "verbal_escalate")
    client.force_login(duty_room)
    timeline = client.get(f"/incidents/{mine.pk}/").context["timeline"]
    chases = [e["summary"] for e in timeline if e["kind"] == "notification_sent"]
    assert chases == ["口头报超时催报 #1 · 短信 → +8617000000001", "口头报超时升级 · 短信 → +8617000000002"]
    client.force_login(sijing_officer)
    timeline = client.get(f"/incidents/{mine.pk}/").context["timeline"]
    assert [e["summary"] for e in timeline if e["kind"] == "notification_sent"] == [
        "口头报超时催报 #1 · 短信 → +8617000000001"
    ]


# --- the duty room's relay (SPEC rule 13): one clock, done by phone -------------------------------------------


def test_a_relay_phoned_in_from_its_filing_form_is_done_on_the_board_and_the_incident_page(
    client, units, sijing_officer, duty_room
):
    start = timezone.now()
    with freeze_time(start):
        incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=5, title="重大", deaths=10)
    relay = incident.obligations.get(kind="relay")
    assert relay.verbal_due_at == relay.written_due_at == start + timedelta(minutes=15)
    client.force_login(duty_room)
    verbal = {
        "kind": "verbal",
        "occurred_at": local_input(incident.occurred_at),
        "location": "泗泾镇某路1号",
        "account": "厂房爆炸",
        "deaths": "10",
        "injuries": "0",
        "missing": "0",
    }
    with freeze_time(start + timedelta(minutes=20)):
        # The relay's own form (its id in the URL) offers the verbal report: a phone call to 区委办 and 区府办.
        assert 'value="verbal"' in client.get(f"/obligations/{relay.pk}/file/").content.decode()
        assert client.post(f"/obligations/{relay.pk}/file/", verbal).status_code == 302
    relay.refresh_from_db()
    assert (relay.verbal_state, relay.written_state) == (DeadlineState.LATE, DeadlineState.LATE)
    with freeze_time(start + timedelta(hours=2)):
        board = client.get("/board/data.json").json()
        assert f'id="ob-{relay.pk}"' not in board["html"]
        html = client.get(f"/incidents/{incident.pk}/").content.decode()
    row = html[html.index(f'id="ob-{relay.pk}"') :]
    row = row[: row.index("</tr>")]
    assert row.count("state state-late") == 2 and "state-pending" not in row
    assert f'<tr class="overdue" id="ob-{relay.pk}"' not in html


def test_the_relays_filing_form_and_report_say_it_is_the_relay(client, units, duty_room):
    """A major incident gives the duty room two obligations that both read 区政府总值班室: its own report when it
    is a responsible unit, and the relay to 区委办 and 区府办 (SPEC rule 13). Their filing forms and reports must
    tell them apart, as the board and the incident page do."""
    incident = open_incident(duty_room, units["duty-room"], known_minutes_ago=5, title="某化工厂爆炸", deaths=10)
    own = incident.obligations.get(kind="report")
    relay = incident.obligations.get(kind="relay")
    client.force_login(duty_room)
    relay_form = client.get(f"/obligations/{relay.pk}/file/").content.decode()
    own_form = client.get(f"/obligations/{own.pk}/file/").content.decode()
    head = relay_form[relay_form.index('class="ob-head"') :]
    assert "转报区委办、区府办" in head[: head.index("</header>")]
    assert "转报区委办、区府办" not in own_form
    response = client.post(
        f"/obligations/{relay.pk}/file/",
        {
            "kind": "verbal",
            "occurred_at": local_input(incident.occurred_at),
            "location": "某工业区",
            "account": "爆炸",
            "deaths": "10",
            "injuries": "0",
            "missing": "0",
        },
    )
    assert response.status_code == 302
    assert "转报区委办、区府办" in client.get(response["Location"]).content.decode()


def test_the_timeline_shows_when_a_phoned_in_report_was_called_in(client, units, sijing_officer, duty_room):
    """A verbal report phoned in and logged by the duty room counts from the call (SPEC rule 2): logged at 09:40 for
    a call at 09:28, "on time" against a 09:30 deadline reads wrong unless the timeline says when the call came."""
    start = timezone.now().replace(second=0, microsecond=0)
    with freeze_time(start):
        incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=28, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    call = start + timedelta(minutes=1)
    client.force_login(duty_room)
    with freeze_time(start + timedelta(minutes=12)):
        response = client.post(
            f"/obligations/{obligation.pk}/file/",
            {
                "kind": "verbal",
                "occurred_at": local_input(incident.occurred_at),
                "location": "泗泾镇某路1号",
                "account": "厂房起火",
                "deaths": "0",
                "injuries": "0",
                "missing": "0",
                "call_received_at": local_input(call),
            },
        )
        assert response.status_code == 302
        html = client.get(f"/incidents/{incident.pk}/").content.decode()
        client.cookies["django_language"] = "en"
        english = client.get(f"/incidents/{incident.pk}/").content.decode()
    filed = html[html.index("ev-report_filed") :]
    filed = filed[: filed.index("</li>")]
    assert "按时" in filed and f"电话报告, 来电时间 {local_short(call)}" in filed
    assert f"phoned in, call received {local_short(call)}" in english


def test_the_incident_page_reads_its_reports_in_the_same_queries_however_many(client, units, duty_room):
    """Each listed report names its unit: read with the reports, never one query per report."""
    incident = open_incident(duty_room, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    obligation = incident.obligations.get()
    filed = {**WRITTEN, "occurred_at": incident.occurred_at}
    client.force_login(duty_room)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/incidents/{incident.pk}/").status_code == 200
        return len(ctx.captured_queries)

    report_services.report_create(obligation=obligation, kind="written", actor=duty_room, now=timezone.now(), **filed)
    one = queries()
    for _ in range(4):
        report_services.report_create(
            obligation=obligation, kind="follow_up", actor=duty_room, now=timezone.now(), **filed
        )
    assert queries() == one


def test_a_leader_reads_the_filed_reports_on_the_incident_page(client, units, duty_room, sijing_officer, leader):
    """A district leader has no filing form (404): the incident page is where the reports are read, what each says
    (account, casualties, measures, contact), by whom and whether on time; drafts are not shown."""
    incident = open_incident(duty_room, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾", deaths=1)
    obligation = incident.obligations.get()
    filed = {**WRITTEN, "occurred_at": incident.occurred_at, "account": "三号厂房起火, 明火已扑灭", "deaths": 1}
    written = report_services.report_create(
        obligation=obligation, kind="written", actor=sijing_officer, now=timezone.now(), **filed
    )
    report_services.report_create(
        obligation=obligation,
        kind="follow_up",
        actor=sijing_officer,
        now=timezone.now(),
        draft=True,
        **{**filed, "account": "草稿未报送"},
    )
    client.force_login(leader)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    section = html[html.index('id="incident-reports"') :]
    said = ("书面报", "泗泾镇", "按时", "三号厂房起火, 明火已扑灭", "消防到场处置", "死亡 1", "王某", "+8617000000001")
    assert [s for s in said if s not in section] == []
    assert "草稿未报送" not in html and "/file/" not in html
    # The report's own page reads the same for a leader, without the filing buttons (they would lead to a 404).
    page = client.get(f"/reports/{written.pk}/").content.decode()
    assert "泗泾镇" in page and "/file/" not in page and 'id="correct-this"' not in page
    client.force_login(sijing_officer)
    assert f"/obligations/{obligation.pk}/file/" in client.get(f"/reports/{written.pk}/").content.decode()
    client.force_login(leader)
    client.cookies["django_language"] = "en"
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Reports already filed" in html and "Measures taken" in html


@pytest.fixture
def signalled(units, duty_room):
    """An incident of 泗泾镇 and 车墩镇 with three linked signals: a 110 call delivered to 泗泾镇, a 12345 call
    delivered to 车墩镇 and a city notice delivered to nobody; and a 119 call linked to another incident."""
    from tests.web.test_signal_pages import make_signal

    incident = open_incident(
        duty_room, [units["sijing"], units["chedun"]], known_minutes_ago=30, title="泗泾镇某厂房火灾"
    )
    other = open_incident(duty_room, units["sijing"], known_minutes_ago=30, title="别的事件")
    signals = {
        "p110": make_signal(units, source="110", external_id="J-110-1", minutes_ago=40, incident=incident),
        "hotline": make_signal(
            units,
            source="12345",
            external_id="R-12345-9",
            minutes_ago=35,
            incident=incident,
            delivered_to=units["chedun"],
        ),
        "city": make_signal(
            units,
            source="city",
            external_id="SJ-TB-3",
            minutes_ago=20,
            incident=incident,
            delivered_to=None,
            delivered_at=None,
        ),
        "elsewhere": make_signal(units, source="119", external_id="F-119-7", minutes_ago=25, incident=other),
    }
    return incident, signals


def signal_rows(html: str) -> dict[str, str]:
    """The incident page's linked signals, by external id: the row's HTML."""
    import re

    section = html[html.index('id="incident-signals"') :]
    section = section[: section.index("</section>")]
    return {
        external_id: row
        for row in re.findall(r"<tr[^>]*>.*?</tr>", section, re.S)
        for external_id in re.findall(r'data-external-id="([^"]+)"', row)
    }


def test_the_incident_page_lists_its_linked_signals_to_the_readers(client, signalled, duty_room, leader, auditor):
    """The first-known evidence on the incident page: source, external id, received and delivered times (Asia/
    Shanghai) and the unit it went to; the duty room gets a link to the signal's row on the signals page."""
    incident, signals = signalled
    for persona in (duty_room, leader, auditor):
        client.force_login(persona)
        rows = signal_rows(client.get(f"/incidents/{incident.pk}/").content.decode())
        assert list(rows) == ["J-110-1", "R-12345-9", "SJ-TB-3"]  # received first, first; never another incident's
        p110 = signals["p110"]
        assert "110" in rows["J-110-1"] and "泗泾镇" in rows["J-110-1"]
        assert local_short(p110.received_at) in rows["J-110-1"] and local_short(p110.delivered_at) in rows["J-110-1"]
        assert "12345热线" in rows["R-12345-9"] and "车墩镇" in rows["R-12345-9"]
        assert "市级通报" in rows["SJ-TB-3"]
        link = f'href="/signals/?show=all#signal-{p110.pk}"'
        assert (link in rows["J-110-1"]) is (persona == duty_room)


def test_unit_staff_see_only_the_signals_delivered_to_their_unit(client, signalled, sijing_officer, outsider):
    incident, _ = signalled
    client.force_login(sijing_officer)
    rows = signal_rows(client.get(f"/incidents/{incident.pk}/").content.decode())
    assert list(rows) == ["J-110-1"] and "/signals/" not in rows["J-110-1"]
    client.force_login(outsider)  # 车墩镇's officer
    assert list(signal_rows(client.get(f"/incidents/{incident.pk}/").content.decode())) == ["R-12345-9"]


def test_an_incident_without_signals_says_so(client, incident, duty_room):
    client.force_login(duty_room)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert signal_rows(html) == {} and "没有关联的信息线索" in html


def test_the_incident_page_reads_its_signals_in_the_same_queries_however_many(client, units, duty_room):
    from tests.web.test_signal_pages import make_signal

    incident = open_incident(duty_room, units["sijing"], known_minutes_ago=30, title="泗泾镇某厂房火灾")
    client.force_login(duty_room)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/incidents/{incident.pk}/").status_code == 200
        return len(ctx.captured_queries)

    make_signal(units, external_id="Q-0", incident=incident)
    one = queries()
    for n in range(1, 5):
        make_signal(units, external_id=f"Q-{n}", incident=incident, delivered_to=units["chedun" if n % 2 else "sijing"])
    assert queries() == one


def test_the_linked_signals_in_english(client, signalled, duty_room):
    incident, _ = signalled
    client.force_login(duty_room)
    client.cookies["django_language"] = "en"
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Linked signals" in html and "unlinked on its row of the signals page" in html
