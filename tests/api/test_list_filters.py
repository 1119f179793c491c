"""What the list filters of API.md RETURN (tests/api/test_bad_input.py covers the 400s).

Every test builds rows on both sides of the filter and asserts the exact set of ids returned, so a filter that
were ignored (or inverted) would fail. Times are fixed; ``?state=overdue`` reads the request's clock, frozen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from notifications.models import Notification, NotificationStatus
from reporting import obligation_services, report_services, services
from reporting.models import Contact, ContactRole, Obligation
from tests.api.conftest import V1, client_for, written_body

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
#: 2026-11-28 09:00 Asia/Shanghai, the moment every incident below is opened at (unless a test says otherwise).
T = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def incident_at(actor, unit_list, *, occurred=None, known=None, now=None, domain="production_safety", **fields):
    """Open an incident with one obligation per unit in ``unit_list``; no figures, so no relay and no event rule."""
    occurred = occurred or T - timedelta(minutes=20)
    known = known or occurred
    return services.incident_create(
        actor=actor,
        now=now or max(T, known),
        title=fields.pop("title", "泗泾镇某厂房火灾"),
        domain=domain,
        occurred_at=occurred,
        location="泗泾镇某路1号",
        summary="",
        units=[{"unit": unit, "first_known_at": known, "channel": "self"} for unit in unit_list],
        **fields,
    )


def file_written(obligation: Obligation, actor, *, now=None) -> None:
    """A written report discharges both clocks of the obligation (SPEC rule 3)."""
    report_services.report_create(
        obligation=obligation,
        kind="written",
        actor=actor,
        now=now or T,
        **written_body(occurred_at=obligation.incident.occurred_at),
    )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]), "a page_size=500 page holds the whole answer"
    return {row["id"] for row in body["results"]}


def get_ids(user, path, **params) -> set[int]:
    return ids(client_for(user).get(f"{V1}{path}", {"page_size": 500, **params}))


# --- /incidents/ ---------------------------------------------------------------------------------------------------


def test_incidents_domain_filter_returns_only_that_domain(units, duty_room):
    fire = incident_at(duty_room, [units["sijing"]], domain="production_safety")
    flu = incident_at(duty_room, [units["sijing"]], domain="public_health", title="泗泾镇某校流感聚集")

    assert get_ids(duty_room, "/incidents/", domain="public_health") == {flu.pk}
    assert get_ids(duty_room, "/incidents/", domain="production_safety") == {fire.pk}
    assert get_ids(duty_room, "/incidents/", domain="natural_disaster") == set()
    assert get_ids(duty_room, "/incidents/") == {fire.pk, flu.pk}


def test_incidents_exercise_filter_splits_drills_from_real_incidents(units, duty_room):
    real = incident_at(duty_room, [units["sijing"]])
    drill = incident_at(duty_room, [units["sijing"]], exercise=True, title="应急演练")

    assert get_ids(duty_room, "/incidents/", exercise="true") == {drill.pk}
    assert get_ids(duty_room, "/incidents/", exercise="false") == {real.pk}


def test_incidents_since_and_until_are_both_inclusive_on_occurred_at(units, duty_room):
    """``since`` is ``occurred_at >= since`` and ``until`` is ``occurred_at <= until`` (reporting/api/filters.py)."""
    boundary = T - timedelta(hours=1)
    before = incident_at(duty_room, [units["sijing"]], occurred=boundary - SECOND)
    exactly = incident_at(duty_room, [units["sijing"]], occurred=boundary)
    after = incident_at(duty_room, [units["sijing"]], occurred=boundary + SECOND)
    at = boundary.isoformat()  # 2026-11-28T00:00:00+00:00

    assert get_ids(duty_room, "/incidents/", since=at) == {exactly.pk, after.pk}
    assert get_ids(duty_room, "/incidents/", until=at) == {before.pk, exactly.pk}
    assert get_ids(duty_room, "/incidents/", since=at, until=at) == {exactly.pk}
    # The same instant written with Shanghai's offset (08:00+08:00) is the same boundary.
    local = boundary.astimezone(SH).isoformat()
    assert local.endswith("+08:00")
    assert get_ids(duty_room, "/incidents/", since=local) == {exactly.pk, after.pk}
    assert get_ids(duty_room, "/incidents/", until=local) == {before.pk, exactly.pk}
    # ``Z`` is accepted as UTC too.
    zulu = boundary.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get_ids(duty_room, "/incidents/", since=zulu, until=zulu) == {exactly.pk}


def test_incidents_since_and_until_filter_on_occurred_at_not_on_creation(units, duty_room):
    """An incident entered late (created at T, occurred a day before) is found by when it occurred."""
    late_entry = incident_at(duty_room, [units["sijing"]], occurred=T - timedelta(days=1), now=T)
    recent = incident_at(duty_room, [units["sijing"]], occurred=T - timedelta(minutes=5), now=T)

    since = (T - timedelta(hours=1)).isoformat()
    assert get_ids(duty_room, "/incidents/", since=since) == {recent.pk}
    assert get_ids(duty_room, "/incidents/", until=since) == {late_entry.pk}


def test_incidents_open_filter_follows_the_obligations(units, duty_room, sijing_officer):
    """Open: some obligation still has a pending clock. Done (filed) and not-required obligations close it; an
    incident with one unit done and another still pending is open."""
    pending = incident_at(duty_room, [units["sijing"]])
    filed = incident_at(duty_room, [units["sijing"]])
    file_written(filed.obligations.get(), sijing_officer)
    waived = incident_at(duty_room, [units["sijing"]])
    obligation_services.obligation_mark_not_required(
        obligation=waived.obligations.get(), reason="误报", actor=duty_room, now=T
    )
    half = incident_at(duty_room, [units["sijing"], units["chedun"]])
    file_written(half.obligations.get(unit=units["sijing"]), sijing_officer)

    assert get_ids(duty_room, "/incidents/", open="true") == {pending.pk, half.pk}
    assert get_ids(duty_room, "/incidents/", open="false") == {filed.pk, waived.pk}


def test_incidents_unit_filter_returns_incidents_the_unit_is_responsible_for(units, duty_room):
    sijing_only = incident_at(duty_room, [units["sijing"]])
    chedun_only = incident_at(duty_room, [units["chedun"]])
    both = incident_at(duty_room, [units["sijing"], units["chedun"]])

    assert get_ids(duty_room, "/incidents/", unit="chedun") == {chedun_only.pk, both.pk}
    assert get_ids(duty_room, "/incidents/", unit="sijing") == {sijing_only.pk, both.pk}
    assert get_ids(duty_room, "/incidents/", unit="police") == set()


def test_incidents_filters_combine(units, duty_room):
    keep = incident_at(duty_room, [units["sijing"]], domain="public_health", exercise=True)
    incident_at(duty_room, [units["sijing"]], domain="public_health")  # not an exercise
    incident_at(duty_room, [units["sijing"]], domain="production_safety", exercise=True)  # other domain
    incident_at(duty_room, [units["chedun"]], domain="public_health", exercise=True)  # other unit

    assert get_ids(duty_room, "/incidents/", domain="public_health", exercise="true", unit="sijing") == {keep.pk}


# --- /obligations/ -------------------------------------------------------------------------------------------------


@pytest.fixture
def obligations_by_state(units, duty_room, sijing_officer):
    """Obligations of 泗泾镇 around the request time T (verbal 30 min, written 60 min after first known):

    - ``fresh``: both clocks pending, verbal due in 10 minutes;
    - ``due_now``: pending, verbal due exactly at T (deadlines are inclusive: not overdue yet);
    - ``late_verbal``: pending, verbal due one second before T;
    - ``late_written``: verbal filed on time, written still pending and due one second before T;
    - ``filed``: a written report filed (both clocks discharged);
    - ``waived``: marked not required.
    """

    def opened(known):
        obligation = incident_at(duty_room, [units["sijing"]], known=known, occurred=known, now=T).obligations.get()
        assert (obligation.verbal_minutes, obligation.written_minutes) == (30, 60)
        return obligation

    rows = {
        "fresh": opened(T - timedelta(minutes=20)),
        "due_now": opened(T - timedelta(minutes=30)),
        "late_verbal": opened(T - timedelta(minutes=30) - SECOND),
        "late_written": opened(T - timedelta(minutes=60) - SECOND),
        "filed": opened(T - timedelta(minutes=45)),
        "waived": opened(T - timedelta(minutes=5)),
    }
    late_written = rows["late_written"]
    report_services.report_create(
        obligation=late_written,
        kind="verbal",
        actor=sijing_officer,
        now=late_written.first_known_at + timedelta(minutes=10),
        occurred_at=late_written.incident.occurred_at,
        location="泗泾镇某路1号",
        account="厂房起火",
        deaths=0,
        injuries=0,
        missing=0,
    )
    file_written(rows["filed"], sijing_officer, now=T - timedelta(minutes=1))
    obligation_services.obligation_mark_not_required(obligation=rows["waived"], reason="误报", actor=duty_room, now=T)
    for row in rows.values():
        row.refresh_from_db()
    assert rows["due_now"].verbal_due_at == T
    assert rows["late_verbal"].verbal_due_at == T - SECOND
    assert (rows["late_written"].verbal_state, rows["late_written"].written_state) == ("on_time", "pending")
    assert rows["late_written"].written_due_at == T - SECOND
    assert (rows["filed"].verbal_state, rows["filed"].written_state) == ("late", "on_time")
    assert (rows["waived"].verbal_state, rows["waived"].written_state) == ("not_required", "not_required")
    return {name: row.pk for name, row in rows.items()}


def test_obligations_state_filter_around_the_deadline(obligations_by_state, duty_room):
    o = obligations_by_state
    with freeze_time(T):
        open_ = get_ids(duty_room, "/obligations/", state="open")
        overdue = client_for(duty_room).get(f"{V1}/obligations/", {"state": "overdue", "page_size": 500})
        done = get_ids(duty_room, "/obligations/", state="done")

    # Open: some clock still running, overdue or not.
    assert open_ == {o["fresh"], o["due_now"], o["late_verbal"], o["late_written"]}
    # Overdue: a pending clock strictly past its due time; due exactly now is not overdue.
    assert ids(overdue) == {o["late_verbal"], o["late_written"]}
    assert all(row["overdue"] for row in overdue.json()["results"])
    # Done: both clocks discharged, by a report or by "not required".
    assert done == {o["filed"], o["waived"]}


def test_obligations_overdue_moves_with_the_clock(obligations_by_state, duty_room):
    """One second later the obligation due exactly at T becomes overdue; earlier, neither late one is."""
    o = obligations_by_state
    with freeze_time(T + SECOND):
        assert get_ids(duty_room, "/obligations/", state="overdue") == {
            o["due_now"],
            o["late_verbal"],
            o["late_written"],
        }
    with freeze_time(T - 2 * SECOND):
        assert get_ids(duty_room, "/obligations/", state="overdue") == set()


def test_obligations_unit_and_incident_filters(units, duty_room):
    both = incident_at(duty_room, [units["sijing"], units["chedun"]])
    other = incident_at(duty_room, [units["sijing"]])
    sijing_both = both.obligations.get(unit=units["sijing"]).pk
    chedun_both = both.obligations.get(unit=units["chedun"]).pk
    sijing_other = other.obligations.get().pk

    assert get_ids(duty_room, "/obligations/", unit="sijing") == {sijing_both, sijing_other}
    assert get_ids(duty_room, "/obligations/", unit="chedun") == {chedun_both}
    assert get_ids(duty_room, "/obligations/", incident=both.pk) == {sijing_both, chedun_both}
    assert get_ids(duty_room, "/obligations/", unit="sijing", incident=both.pk) == {sijing_both}


def test_obligations_state_and_unit_combine(units, duty_room, sijing_officer):
    incident = incident_at(duty_room, [units["sijing"], units["chedun"]])
    file_written(incident.obligations.get(unit=units["sijing"]), sijing_officer)
    chedun = incident.obligations.get(unit=units["chedun"]).pk
    sijing = incident.obligations.get(unit=units["sijing"]).pk

    with freeze_time(T):
        assert get_ids(duty_room, "/obligations/", state="open", unit="chedun") == {chedun}
        assert get_ids(duty_room, "/obligations/", state="open", unit="sijing") == set()
        assert get_ids(duty_room, "/obligations/", state="done", unit="sijing") == {sijing}


# --- /reports/ -----------------------------------------------------------------------------------------------------


@pytest.fixture
def reports(units, duty_room, sijing_officer):
    """``shared`` (泗泾镇 and 车墩镇) and ``own`` (泗泾镇 only); a verbal and a written report of 泗泾镇 on ``shared``,
    a written report of 车墩镇 on ``shared``, a written report of 泗泾镇 on ``own``."""
    shared = incident_at(duty_room, [units["sijing"], units["chedun"]])
    own = incident_at(duty_room, [units["sijing"]])

    def report(incident, unit, kind, actor):
        obligation = incident.obligations.get(unit=units[unit])
        fields = written_body(occurred_at=incident.occurred_at)
        return report_services.report_create(obligation=obligation, kind=kind, actor=actor, now=T, **fields).pk

    return {
        "shared": shared.pk,
        "own": own.pk,
        "sijing_verbal": report(shared, "sijing", "verbal", sijing_officer),
        "sijing_written": report(shared, "sijing", "written", sijing_officer),
        "chedun_written": report(shared, "chedun", "written", duty_room),
        "own_written": report(own, "sijing", "written", sijing_officer),
    }


def test_reports_unit_filter(reports, duty_room):
    r = reports
    assert get_ids(duty_room, "/reports/", unit="sijing") == {r["sijing_verbal"], r["sijing_written"], r["own_written"]}
    assert get_ids(duty_room, "/reports/", unit="chedun") == {r["chedun_written"]}
    assert get_ids(duty_room, "/reports/", unit="police") == set()


def test_reports_incident_and_kind_filters(reports, duty_room):
    r = reports
    assert get_ids(duty_room, "/reports/", incident=r["shared"]) == {
        r["sijing_verbal"],
        r["sijing_written"],
        r["chedun_written"],
    }
    assert get_ids(duty_room, "/reports/", incident=r["own"]) == {r["own_written"]}
    assert get_ids(duty_room, "/reports/", kind="verbal") == {r["sijing_verbal"]}
    assert get_ids(duty_room, "/reports/", kind="written") == {
        r["sijing_written"],
        r["chedun_written"],
        r["own_written"],
    }
    assert get_ids(duty_room, "/reports/", kind="final") == set()
    assert get_ids(duty_room, "/reports/", unit="sijing", kind="written", incident=r["shared"]) == {r["sijing_written"]}


# --- /notifications/ -----------------------------------------------------------------------------------------------


@pytest.fixture
def notifications(units, duty_room):
    """Two incidents of 泗泾镇, two contacts; notifications spread over incident, obligation, recipient and status,
    one of them incident-level (no obligation)."""
    first = incident_at(duty_room, [units["sijing"]])
    second = incident_at(duty_room, [units["sijing"]])
    first_obligation, second_obligation = first.obligations.get(), second.obligations.get()
    alice = Contact.objects.create(
        unit=units["sijing"], name="王某", phone="+8617000000001", role=ContactRole.DUTY_OFFICER
    )
    bob = Contact.objects.create(unit=units["sijing"], name="李某", phone="+8617000000002", role=ContactRole.UNIT_HEAD)
    assert not Notification.objects.exists()

    def notify(incident, obligation, recipient, status, step="verbal_reminder"):
        return Notification.objects.create(
            incident=incident,
            obligation=obligation,
            step=step,
            channel="sms",
            recipient=recipient,
            to=recipient.phone,
            status=status,
            scheduled_for=T,
            created_at=T,
        ).pk

    return {
        "first": first.pk,
        "second": second.pk,
        "first_obligation": first_obligation.pk,
        "second_obligation": second_obligation.pk,
        "alice": alice.pk,
        "bob": bob.pk,
        "first_alice": notify(first, first_obligation, alice, NotificationStatus.PENDING),
        "first_bob": notify(first, first_obligation, bob, NotificationStatus.SENT),
        "first_event_alice": notify(first, None, alice, NotificationStatus.FAILED, step="major_event"),
        "second_alice": notify(second, second_obligation, alice, NotificationStatus.DELIVERED),
    }


def test_notifications_incident_filter(notifications, duty_room):
    n = notifications
    assert get_ids(duty_room, "/notifications/", incident=n["first"]) == {
        n["first_alice"],
        n["first_bob"],
        n["first_event_alice"],
    }
    assert get_ids(duty_room, "/notifications/", incident=n["second"]) == {n["second_alice"]}


def test_notifications_obligation_filter_leaves_out_incident_level_rows(notifications, duty_room):
    n = notifications
    assert get_ids(duty_room, "/notifications/", obligation=n["first_obligation"]) == {n["first_alice"], n["first_bob"]}
    assert get_ids(duty_room, "/notifications/", obligation=n["second_obligation"]) == {n["second_alice"]}


def test_notifications_recipient_filter(notifications, auditor):
    n = notifications
    assert get_ids(auditor, "/notifications/", recipient=n["alice"]) == {
        n["first_alice"],
        n["first_event_alice"],
        n["second_alice"],
    }
    assert get_ids(auditor, "/notifications/", recipient=n["bob"]) == {n["first_bob"]}


def test_notifications_status_filter(notifications, duty_room):
    n = notifications
    assert get_ids(duty_room, "/notifications/", status="pending") == {n["first_alice"]}
    assert get_ids(duty_room, "/notifications/", status="sent") == {n["first_bob"]}
    assert get_ids(duty_room, "/notifications/", status="delivered") == {n["second_alice"]}
    assert get_ids(duty_room, "/notifications/", status="failed") == {n["first_event_alice"]}
    assert get_ids(duty_room, "/notifications/", status="acknowledged") == set()


def test_notifications_filters_combine(notifications, duty_room):
    n = notifications
    assert get_ids(duty_room, "/notifications/", incident=n["first"], recipient=n["alice"]) == {
        n["first_alice"],
        n["first_event_alice"],
    }
    assert get_ids(duty_room, "/notifications/", obligation=n["first_obligation"], status="sent") == {n["first_bob"]}
    assert get_ids(duty_room, "/notifications/", incident=n["second"], status="pending") == set()


# --- unit staff: the scope is applied before the filter ------------------------------------------------------------


@pytest.fixture
def two_units(units, duty_room, sijing_officer, outsider):
    """One incident of each town and one of both, each obligation with a filed written report."""
    sijing_only = incident_at(duty_room, [units["sijing"]])
    chedun_only = incident_at(duty_room, [units["chedun"]])
    both = incident_at(duty_room, [units["sijing"], units["chedun"]])
    for incident in (sijing_only, chedun_only, both):
        for obligation in incident.obligations.all():
            file_written(obligation, duty_room)
    return {"sijing_only": sijing_only, "chedun_only": chedun_only, "both": both}


def test_unit_staff_filtering_by_another_unit_sees_no_rows_of_that_unit(two_units, units, sijing_officer, duty_room):
    both, chedun_only = two_units["both"], two_units["chedun_only"]
    # The same filters give the duty room 车墩镇's rows: the empty answers below are the scope, not the filter.
    assert get_ids(duty_room, "/incidents/", unit="chedun") == {chedun_only.pk, both.pk}
    assert len(get_ids(duty_room, "/obligations/", unit="chedun")) == 2
    assert len(get_ids(duty_room, "/reports/", unit="chedun")) == 2

    # Incidents: only the one 泗泾镇 shares with 车墩镇, never 车墩镇's own.
    assert get_ids(sijing_officer, "/incidents/", unit="chedun") == {both.pk}
    # Obligations and reports belong to one unit: none of 车墩镇's, even on the shared incident.
    assert get_ids(sijing_officer, "/obligations/", unit="chedun") == set()
    assert get_ids(sijing_officer, "/reports/", unit="chedun") == set()
    # Naming 车墩镇's incident directly gives nothing either, and the shared one gives only 泗泾镇's rows.
    assert get_ids(sijing_officer, "/obligations/", incident=chedun_only.pk) == set()
    assert get_ids(sijing_officer, "/reports/", incident=chedun_only.pk) == set()
    assert get_ids(sijing_officer, "/obligations/", incident=both.pk) == {both.obligations.get(unit=units["sijing"]).pk}
    shared = client_for(sijing_officer).get(f"{V1}/reports/", {"incident": both.pk}).json()["results"]
    assert [row["unit"] for row in shared] == ["sijing"]
    # Other filters do not widen the scope either.
    assert get_ids(sijing_officer, "/obligations/", state="done") == {
        o.pk for o in Obligation.objects.filter(unit=units["sijing"])
    }
    assert get_ids(sijing_officer, "/incidents/", open="false") == {two_units["sijing_only"].pk, both.pk}


def test_the_other_unit_is_scoped_the_same_way(two_units, units, outsider):
    """The mirror image, for 车墩镇's officer."""
    assert get_ids(outsider, "/incidents/", unit="sijing") == {two_units["both"].pk}
    assert get_ids(outsider, "/obligations/", unit="sijing") == set()
    assert get_ids(outsider, "/reports/", unit="sijing") == set()
    assert get_ids(outsider, "/incidents/", domain="production_safety") == {
        two_units["chedun_only"].pk,
        two_units["both"].pk,
    }


def test_unit_staff_may_not_list_notifications_whatever_the_filter(notifications, sijing_officer):
    """API.md: notifications are for the duty room and auditors; a filter does not open them to unit staff."""
    response = client_for(sijing_officer).get(f"{V1}/notifications/", {"incident": notifications["first"]})
    assert response.status_code == 403
    assert "results" not in response.json()
