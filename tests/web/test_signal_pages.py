"""The duty room's signal inbox: unlinked signals first, linking one to an incident, and opening an incident from a
signal (prefilled; the signal linked in the same transaction)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reporting import signal_services
from reporting.errors import ConflictError
from reporting.models import AuditEvent, Incident, Signal
from reporting.web.display import local_input
from tests.web.conftest import open_incident

pytestmark = pytest.mark.django_db


def make_signal(units, *, source="110", external_id="A-778", minutes_ago=6, incident=None, **extra) -> Signal:
    now = timezone.now()
    fields = {
        "received_at": now - timedelta(minutes=minutes_ago + 1),
        "delivered_to": units["sijing"],
        "delivered_at": now - timedelta(minutes=minutes_ago),
        "domain": "production_safety",
        "summary": "泗泾镇某厂房冒烟\n群众报警",
        "location": "泗泾镇某路1号",
        "deaths": 0,
        "injuries": 1,
        "incident": incident,
    }
    fields.update(extra)
    signal, _ = signal_services.signal_ingest(actor=None, now=now, source=source, external_id=external_id, **fields)
    return signal


def test_the_inbox_shows_unlinked_signals_with_actions(client, units, duty_room, sijing_officer):
    linked_to = open_incident(sijing_officer, units["sijing"], known_minutes_ago=30, title="已有事件")
    waiting = make_signal(units)
    done = make_signal(units, external_id="B-1", incident=linked_to)
    client.force_login(duty_room)
    html = client.get("/signals/").content.decode()
    assert f'id="signal-{waiting.pk}"' in html and f'id="signal-{done.pk}"' not in html
    assert f"/incidents/new/?signal={waiting.pk}" in html and f'action="/signals/{waiting.pk}/link/"' in html
    assert "已有事件" in html  # offered in the link form's incident list
    everything = client.get("/signals/?show=all").content.decode()
    assert f'id="signal-{done.pk}"' in everything and linked_to.number in everything


def test_readers_see_the_inbox_without_actions_and_unit_staff_not_at_all(client, units, leader, sijing_officer, feed):
    signal = make_signal(units)
    client.force_login(leader)
    html = client.get("/signals/").content.decode()
    assert f'id="signal-{signal.pk}"' in html and "/link/" not in html and "?signal=" not in html
    for persona in (sijing_officer, feed):
        client.force_login(persona)
        assert client.get("/signals/").status_code == 404


def test_linking_a_signal_makes_its_delivery_evidence(client, units, duty_room, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="泗泾镇某厂房火灾")
    signal = make_signal(units, minutes_ago=5)
    client.force_login(duty_room)
    response = client.post(f"/signals/{signal.pk}/link/", {"incident": incident.pk})
    assert response.status_code == 302 and response["Location"] == "/signals/"
    signal.refresh_from_db()
    assert signal.incident == incident
    obligation = incident.obligations.get()
    assert obligation.first_known_at == signal.delivered_at  # earlier than the declared time: the clock moved
    assert obligation.verbal_due_at == signal.delivered_at + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("case", "data"),
    [("no incident", {}), ("unknown incident", {"incident": "999999"}), ("not a number", {"incident": "x"})],
)
def test_a_bad_link_is_refused(client, units, duty_room, case, data):
    signal = make_signal(units)
    client.force_login(duty_room)
    response = client.post(f"/signals/{signal.pk}/link/", data)
    assert response.status_code == 400, case
    assert response.context["rows"][0]["link_form"].errors
    signal.refresh_from_db()
    assert signal.incident is None


def test_a_signal_linked_elsewhere_is_a_conflict(client, units, duty_room, sijing_officer):
    first = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    second = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="乙")
    signal = make_signal(units, incident=first)
    client.force_login(duty_room)
    response = client.post(f"/signals/{signal.pk}/link/?show=all", {"incident": second.pk})
    assert response.status_code == 409
    assert "已关联其他事件" in response.content.decode()
    signal.refresh_from_db()
    assert signal.incident == first


def test_only_the_duty_room_links(client, units, leader, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    signal = make_signal(units)
    for persona in (leader, sijing_officer):
        client.force_login(persona)
        assert client.post(f"/signals/{signal.pk}/link/", {"incident": incident.pk}).status_code == 404
    signal.refresh_from_db()
    assert signal.incident is None


def test_opening_an_incident_from_a_signal(client, units, duty_room):
    signal = make_signal(units, minutes_ago=6)
    client.force_login(duty_room)
    response = client.get(f"/incidents/new/?signal={signal.pk}")
    form = response.context["form"]
    assert form.initial["title"] == "泗泾镇某厂房冒烟"
    assert form.initial["units"] == ["sijing"] and form.initial["channel"] == "110"
    assert form.initial["first_known_at"] == local_input(signal.delivered_at)
    assert 'name="signal"' in response.content.decode()
    data = {
        "signal": str(signal.pk),
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": local_input(signal.received_at),
        "location": "泗泾镇某路1号",
        "deaths": "0",
        "injuries": "1",
        "missing": "0",
        "units": ["sijing", "emergency"],
        "first_known_at": local_input(signal.delivered_at),
        "channel": "110",
    }
    response = client.post("/incidents/new/", data)
    assert response.status_code == 302
    incident = Incident.objects.get()
    signal.refresh_from_db()
    assert signal.incident == incident
    assert sorted(incident.obligations.values_list("unit__code", flat=True)) == ["emergency", "sijing"]
    assert incident.events.filter(kind="signal_linked").count() == 1
    # The signal is no longer waiting; opening it again leads to its incident.
    again = client.get(f"/incidents/new/?signal={signal.pk}")
    assert again.status_code == 302 and again["Location"] == f"/incidents/{incident.pk}/"


def test_a_bad_incident_from_a_signal_writes_nothing(client, units, duty_room):
    signal = make_signal(units)
    client.force_login(duty_room)
    response = client.post(
        "/incidents/new/", {"signal": str(signal.pk), "title": "", "units": ["sijing"], "channel": "110"}
    )
    assert response.status_code == 400
    assert 'name="signal"' in response.content.decode()  # still tied to the signal on the next try
    signal.refresh_from_db()
    assert (Incident.objects.count(), signal.incident) == (0, None)


def test_an_incident_from_a_signal_with_more_seriously_injured_than_injured_writes_nothing(client, units, duty_room):
    """The feed counts the injured only (its figures prefill 受伤); how many are seriously injured is the duty
    room's to say, never more than the injured."""
    signal = make_signal(units, injuries=3)
    client.force_login(duty_room)
    form = client.get(f"/incidents/new/?signal={signal.pk}").context["form"]
    assert form.initial["injuries"] == 3 and "serious_injuries" not in form.initial
    data = {
        "signal": str(signal.pk),
        "title": "泗泾镇某厂房火灾",
        "domain": "production_safety",
        "occurred_at": local_input(signal.received_at),
        "location": "泗泾镇某路1号",
        "injuries": "3",
        "serious_injuries": "4",
        "units": ["sijing"],
        "first_known_at": local_input(signal.delivered_at),
        "channel": "110",
    }
    before = AuditEvent.objects.count()
    response = client.post("/incidents/new/", data)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["serious_injuries"]
    assert 'name="signal"' in response.content.decode()
    signal.refresh_from_db()
    assert (Incident.objects.count(), signal.incident, AuditEvent.objects.count()) == (0, None, before)
    response = client.post("/incidents/new/", {**data, "serious_injuries": "3"})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (3, 3, "IV")


@pytest.mark.parametrize("raw", ["abc", "999999", "1" * 30])
def test_an_unknown_signal_is_404(client, units, duty_room, raw):
    client.force_login(duty_room)
    assert client.get(f"/incidents/new/?signal={raw}").status_code == 404


def test_incident_and_link_are_one_transaction(units, duty_room, sijing_officer):
    """A signal linked meanwhile: the service refuses and the incident is not created either."""
    other = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    signal = make_signal(units, incident=other)
    now = timezone.now()
    with pytest.raises(ConflictError):
        signal_services.incident_create_from_signal(
            signal=signal,
            actor=duty_room,
            now=now,
            units=[{"unit": units["police"], "first_known_at": now - timedelta(minutes=1), "channel": "110"}],
            title="乙",
            domain="social_security",
            occurred_at=now - timedelta(minutes=5),
            location="某路",
        )
    assert Incident.objects.count() == 1


def test_unit_staff_cannot_use_a_signal(client, units, sijing_officer):
    signal = make_signal(units)
    client.force_login(sijing_officer)
    page = client.get(f"/incidents/new/?signal={signal.pk}")
    assert page.status_code == 200 and 'name="signal"' not in page.content.decode()


def test_the_board_counts_the_signals_waiting(client, units, duty_room, sijing_officer):
    client.force_login(duty_room)
    assert client.get("/board/data.json").json()["signals_waiting"] == 0
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    make_signal(units, external_id="A-1")
    make_signal(units, external_id="A-2", incident=incident)
    assert client.get("/board/data.json").json()["signals_waiting"] == 1
    assert '<a id="count-signals" href="/signals/">1</a>' in client.get("/board/").content.decode()


def test_an_incident_id_beyond_the_database_is_a_400(client, units, duty_room):
    signal = make_signal(units)
    client.force_login(duty_room)
    response = client.post(f"/signals/{signal.pk}/link/", {"incident": str(10**20)})
    assert response.status_code == 400


def test_the_inbox_takes_the_same_queries_however_many_signals_wait(client, units, duty_room, sijing_officer):
    """A busy shift's inbox: each row's link form lists the same incidents, read once for the page, not once per
    signal (100 signals were 100 more queries)."""
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=30, title="已有事件")
    make_signal(units, external_id="N-0")
    client.force_login(duty_room)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/signals/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for n in range(1, 12):
        make_signal(units, external_id=f"N-{n}")
    html = client.get("/signals/").content.decode()
    assert html.count('list="linkable-incidents"') == 12  # every row offers the incident
    assert queries() == few


def test_the_inbox_lists_the_incidents_once_however_many_signals_wait(client, units, duty_room, sijing_officer):
    """Each waiting signal's row carried its own <select> of every incident of the last 7 days: the page grew as
    rows × incidents (30 signals × 50 incidents, 1,500 options). The incidents are listed once, in one <datalist>
    each row's labelled field refers to; the page grows as rows + incidents."""
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=30, title="事件0")
    make_signal(units, external_id="N-0")
    client.force_login(duty_room)

    def page() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/signals/")
        assert response.status_code == 200
        return response.content.decode(), len(ctx.captured_queries)

    small, few = page()
    incidents = [
        open_incident(sijing_officer, units["sijing"], known_minutes_ago=30, title=f"事件{n}") for n in range(1, 50)
    ]
    signals = [make_signal(units, external_id=f"N-{n}") for n in range(1, 30)]
    html, many = page()
    assert many == few
    assert html.count("<datalist") == 1
    datalist = html[html.index("<datalist") : html.index("</datalist>")]
    assert datalist.count("<option") == 50 and html.count("<select") == html.count("<select", 0, html.index("<main"))
    assert all(html.count(f">{i.title}<") == 1 and html.count(i.number) == 1 for i in incidents)
    for signal in [*signals, signals[0]]:
        field = f'id="link{signal.pk}_incident"'
        assert f'<label for="link{signal.pk}_incident">' in html and html.count(field) == 1
    # Per signal row the page is the same ~1 KB however many incidents are offered.
    assert len(html) - len(small) < 29 * 1200 + 49 * 100  # measured: 30 KB; as 30 selects of 50 options, 100 KB


def test_a_signal_is_linked_by_the_incident_number_the_list_offers(client, units, duty_room, sijing_officer):
    """The shared list offers each incident by its number (its title beside it): the number typed or picked is the
    incident linked, still checked on the server (an unknown number, or one older than 7 days, is refused)."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="泗泾镇某厂房火灾")
    signal = make_signal(units, minutes_ago=5)
    client.force_login(duty_room)
    html = client.get("/signals/").content.decode()
    assert f'<option value="{incident.number}">泗泾镇某厂房火灾</option>' in html
    for wrong in ("SJ-1999-000001", f"{incident.number}9"):
        response = client.post(f"/signals/{signal.pk}/link/", {"incident": wrong})
        assert response.status_code == 400
        assert "未知事件" in response.content.decode() and f'value="{wrong}"' in response.content.decode()
    Incident.objects.filter(pk=incident.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert client.post(f"/signals/{signal.pk}/link/", {"incident": incident.number}).status_code == 400
    Incident.objects.filter(pk=incident.pk).update(created_at=timezone.now())
    response = client.post(f"/signals/{signal.pk}/link/", {"incident": f" {incident.number} 泗泾镇某厂房火灾"})
    assert response.status_code == 302
    signal.refresh_from_db()
    assert signal.incident == incident


# --- undoing a wrong link ------------------------------------------------------------------------------------------


@pytest.fixture
def wrongly_linked(units, sijing_officer):
    """A signal delivered to 泗泾镇 5 minutes ago, linked to an incident sijing declared it knew of 3 minutes ago: the
    link moved sijing's clock 2 minutes earlier."""
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=3, title="甲")
    return make_signal(units, minutes_ago=5, incident=incident)


def test_a_linked_signal_offers_the_duty_room_an_unlink_form(client, wrongly_linked, duty_room, leader):
    client.force_login(duty_room)
    html = client.get("/signals/?show=all").content.decode()
    assert f'action="/signals/{wrongly_linked.pk}/unlink/?show=all"' in html
    assert f'id="unlink{wrongly_linked.pk}_reason"' in html
    client.cookies["django_language"] = "en"
    english = client.get("/signals/?show=all").content.decode()
    assert "Wrong link?" in english and "Reason for unlinking" in english and "取消关联" not in english
    client.force_login(leader)
    assert "/unlink/" not in client.get("/signals/?show=all").content.decode()


def test_the_duty_room_unlinks_a_signal_with_a_reason(client, wrongly_linked, duty_room):
    obligation = wrongly_linked.incident.obligations.get()
    client.force_login(duty_room)
    response = client.post(f"/signals/{wrongly_linked.pk}/unlink/?show=all", {"reason": "不是这起事件"}, follow=True)
    assert response.redirect_chain == [("/signals/", 302)]
    wrongly_linked.refresh_from_db()
    obligation.refresh_from_db()
    assert wrongly_linked.incident is None
    assert obligation.first_known_at == obligation.declared_first_known_at
    html = response.content.decode()
    assert "已取消关联" in html and "首次知悉时间已改为" in html
    # Waiting again, with its link form.
    assert f'action="/signals/{wrongly_linked.pk}/link/"' in html
    assert AuditEvent.objects.get(kind="signal_unlinked").detail["reason"] == "不是这起事件"


def test_the_duty_room_moves_a_signal_in_one_step(client, units, wrongly_linked, duty_room, sijing_officer):
    right = open_incident(sijing_officer, units["chedun"], known_minutes_ago=1, title="乙")
    client.force_login(duty_room)
    response = client.post(
        f"/signals/{wrongly_linked.pk}/unlink/?show=all", {"reason": "应为乙", "incident": right.pk}, follow=True
    )
    assert response.redirect_chain == [("/signals/", 302)]
    wrongly_linked.refresh_from_db()
    assert wrongly_linked.incident == right
    assert right.number in response.content.decode()
    kinds = list(AuditEvent.objects.filter(object_type="signal").order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["signal_unlinked", "signal_linked"]


@pytest.mark.parametrize(
    ("case", "data", "field"),
    [
        ("no reason", {}, "reason"),
        ("blank reason", {"reason": "   "}, "reason"),
        ("overlong reason", {"reason": "x" * 2001}, "reason"),
        ("unknown incident", {"reason": "错了", "incident": "999999"}, "incident"),
        ("not a number", {"reason": "错了", "incident": "x"}, "incident"),
    ],
)
def test_a_bad_unlink_is_refused_on_its_row(client, wrongly_linked, duty_room, case, data, field):
    client.force_login(duty_room)
    response = client.post(f"/signals/{wrongly_linked.pk}/unlink/?show=all", data)
    assert response.status_code == 400, case
    [row] = [r for r in response.context["rows"] if r["signal"].pk == wrongly_linked.pk]
    assert field in row["unlink_form"].errors
    assert f'id="unlink-{wrongly_linked.pk}" open' in response.content.decode()
    wrongly_linked.refresh_from_db()
    assert wrongly_linked.incident is not None
    assert not AuditEvent.objects.filter(kind="signal_unlinked").exists()


def test_unlinking_a_signal_that_is_not_linked_is_a_conflict(client, units, duty_room):
    signal = make_signal(units)
    client.force_login(duty_room)
    response = client.post(f"/signals/{signal.pk}/unlink/", {"reason": "错了"})
    assert response.status_code == 409
    assert "未关联事件" in response.content.decode()


def test_only_the_duty_room_unlinks(client, wrongly_linked, leader, sijing_officer, auditor, duty_room):
    for persona in (leader, sijing_officer, auditor):
        client.force_login(persona)
        assert client.post(f"/signals/{wrongly_linked.pk}/unlink/", {"reason": "错了"}).status_code == 404
    wrongly_linked.refresh_from_db()
    assert wrongly_linked.incident is not None
    client.force_login(duty_room)
    assert client.post("/signals/999999/unlink/", {"reason": "错了"}).status_code == 404
