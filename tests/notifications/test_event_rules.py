"""Event rules: a death brings the leader in charge of the domain; grade IV and above the leaders on the list.
Each fires once per incident and threshold, also when the figures rise later."""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from notifications.messages import email_body, facts_for, sms_text
from notifications.models import Notification
from reporting import report_services, services
from reporting.links import incident_link
from reporting.models import ContactRole
from tests.notifications.conftest import T0, open_incident, person, report_fields


@pytest.fixture
def leaders(units):
    office = units["qfb"]
    return {
        "safety": person(office, "区领导甲", ContactRole.DISTRICT_LEADER, 40, portfolio=["production_safety"]),
        "health": person(office, "区领导乙", ContactRole.DISTRICT_LEADER, 41, portfolio=["public_health"]),
        "listed": person(office, "区领导丙", ContactRole.DISTRICT_LEADER, 42, notify_on_grade=True),
    }


def events(incident):
    rows = Notification.objects.filter(incident=incident, obligation__isnull=True).select_related("recipient")
    return sorted((n.step, n.recipient.name, n.channel, n.to) for n in rows)


def test_no_casualties_no_events(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units)
    assert incident.grade == "below"
    assert events(incident) == []


def test_death_notifies_domain_leader_and_grade_iv_the_list(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    assert incident.grade == "IV"
    assert events(incident) == [
        ("event_deaths", "区领导甲", "email", "p40@example.org"),
        ("event_deaths", "区领导甲", "sms", "+8617000000040"),
        ("event_grade_IV", "区领导丙", "email", "p42@example.org"),
        ("event_grade_IV", "区领导丙", "sms", "+8617000000042"),
    ]
    rows = Notification.objects.filter(incident=incident, obligation__isnull=True)
    assert {(n.status, n.repeat, n.scheduled_for) for n in rows} == {("pending", 0, T0)}


def test_each_rule_fires_once_per_incident_even_when_figures_rise(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    before = events(incident)
    later = T0 + timedelta(minutes=20)
    with freeze_time(later):
        services.incident_update(incident=incident, actor=None, now=later, deaths=2, injuries=5)
    assert events(incident) == before


def test_rule_fires_when_figures_rise_later(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units)
    later = T0 + timedelta(minutes=20)
    with freeze_time(later):
        services.incident_update(incident=incident, actor=None, now=later, deaths=1)
    assert [e[:3] for e in events(incident)] == [
        ("event_deaths", "区领导甲", "email"),
        ("event_deaths", "区领导甲", "sms"),
        ("event_grade_IV", "区领导丙", "email"),
        ("event_grade_IV", "区领导丙", "sms"),
    ]
    assert set(Notification.objects.filter(obligation__isnull=True).values_list("scheduled_for", flat=True)) == {later}


def test_injury_only_grade_iv_notifies_the_list_not_the_domain_leader(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, injuries=1, domain="public_health")
    assert [e[:2] for e in events(incident)] == [("event_grade_IV", "区领导丙")] * 2


def test_death_in_another_domain_goes_to_that_domains_leader(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="public_health")
    assert {e[1] for e in events(incident) if e[0] == "event_deaths"} == {"区领导乙"}


def test_a_death_in_a_domain_no_leader_covers_goes_to_the_leaders_on_the_list(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="social_security")
    told = [e[:2] for e in events(incident)]
    assert told == [("event_deaths", "区领导丙")] * 2 + [("event_grade_IV", "区领导丙")] * 2


def test_a_report_raising_serious_injuries_past_ten_grades_iii_and_the_list_hears_of_it(units, leaders):
    """SPEC rule 9 grades by serious injuries (重伤): 12 injured, none seriously, is IV; a later report saying 10 of
    them are seriously injured raises the grade to III (no relay: that is II). The list hears of III once more."""

    with freeze_time(T0):
        incident = open_incident(units, injuries=12)
    assert (incident.grade, events(incident)[0][:2]) == ("IV", ("event_grade_IV", "区领导丙"))
    before = events(incident)
    later = T0 + timedelta(minutes=20)
    with freeze_time(later):
        report_services.report_create(
            obligation=incident.obligations.get(),
            kind="written",
            actor=None,
            now=later,
            **report_fields(injuries=12, serious_injuries=10),
        )
    incident.refresh_from_db()
    assert (incident.serious_injuries, incident.grade, incident.grade_computed) == (10, "III", "III")
    assert not incident.obligations.filter(kind="relay").exists()
    assert events(incident) == sorted([*before, *(("event_grade_III", *e[1:]) for e in before)])


def test_an_incident_first_graded_by_serious_injuries_tells_the_list_how_many(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units)
    assert events(incident) == []
    later = T0 + timedelta(minutes=20)
    with freeze_time(later):
        incident = services.incident_update(incident=incident, actor=None, now=later, injuries=60, serious_injuries=50)
    assert incident.grade == "II"
    sms = Notification.objects.get(incident=incident, obligation__isnull=True, step="event_grade_II", channel="sms")
    assert f"：重大(II)事件，死亡0人受伤60人(重伤50人) {incident_link(incident.pk)}" in sms_text(
        facts_for(sms), now=later
    )
    # Light injuries alone (no one seriously injured) stay IV: the text says nothing of serious injuries.
    with freeze_time(T0):
        light = open_incident(units, title="轻伤", injuries=60)
    light_sms = Notification.objects.get(incident=light, obligation__isnull=True, step="event_grade_IV", channel="sms")
    assert "：一般(IV)事件，死亡0人受伤60人 " in sms_text(facts_for(light_sms), now=T0)


def test_the_list_hears_of_each_higher_grade_once(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="public_health")
    steps = lambda: sorted({e[0] for e in events(incident)})  # noqa: E731
    assert steps() == ["event_deaths", "event_grade_IV"]
    for minutes, deaths, grade, expected in [
        (10, 2, "IV", ["event_deaths", "event_grade_IV"]),  # no new threshold
        (20, 3, "III", ["event_deaths", "event_grade_III", "event_grade_IV"]),
        (30, 4, "III", ["event_deaths", "event_grade_III", "event_grade_IV"]),
        (40, 10, "II", ["event_deaths", "event_grade_II", "event_grade_III", "event_grade_IV"]),
    ]:
        at = T0 + timedelta(minutes=minutes)
        with freeze_time(at):
            incident = services.incident_update(incident=incident, actor=None, now=at, deaths=deaths)
        assert incident.grade == grade and steps() == expected
    # Each threshold told the listed leader once, by SMS and email; the domain leader heard of the death once.
    assert len(events(incident)) == 2 + 3 * 2


def test_an_incident_opened_at_grade_ii_tells_the_list_once(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=10)
    assert incident.grade == "II"
    assert [e[:2] for e in events(incident) if e[0].startswith("event_grade")] == [("event_grade_II", "区领导丙")] * 2


def test_a_leaders_sms_and_email_say_where_when_and_which_units_report(units, leaders):
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
        services.incident_add_unit(
            incident=incident, unit=units["chedun"], first_known_at=T0, channel="self", actor=None, now=T0
        )
    sms = Notification.objects.get(incident=incident, step="event_deaths", channel="sms")
    text = sms_text(facts_for(sms), now=T0)
    assert text.startswith(f"{incident.number} 泗泾镇某厂房火灾（08:55，泗泾镇某路1号，泗泾镇、车墩镇报）：死亡1人")
    email = Notification.objects.get(incident=incident, step="event_deaths", channel="email")
    assert "报送单位: 泗泾镇、车墩镇" in email_body(facts_for(email), now=T0)


def test_a_leaders_sms_and_email_link_to_the_incident_page(units, leaders, settings):
    """The link a leader is given opens the incident (a leader reads it); never the filing form, which is a unit's."""
    settings.PUBLIC_BASE_URL = "https://tracker.example.org"
    with freeze_time(T0):
        incident = open_incident(units, deaths=1)
    link = f"https://tracker.example.org/incidents/{incident.pk}/"
    for step in ("event_deaths", "event_grade_IV"):
        sms = Notification.objects.get(incident=incident, step=step, channel="sms")
        assert sms_text(facts_for(sms), now=T0).endswith(f" {link}")
        email = Notification.objects.get(incident=incident, step=step, channel="email")
        assert f"\n{link}\n" in email_body(facts_for(email), now=T0)


def test_a_death_whose_domain_is_corrected_brings_the_leader_in_charge_of_the_new_domain_once(units, leaders):
    """The duty room corrects the domain of an incident with a death (first filed as public health, in fact
    production safety): the leader in charge of production safety must go to the scene, and is told once; nobody
    already told is told again, also when the figures change later."""
    with freeze_time(T0):
        incident = open_incident(units, deaths=1, domain="public_health")
    deaths = lambda: sorted(e[1:3] for e in events(incident) if e[0] == "event_deaths")  # noqa: E731
    assert deaths() == [("区领导乙", "email"), ("区领导乙", "sms")]
    for minutes, change in ((10, {"domain": "production_safety"}), (20, {"deaths": 2}), (30, {"injuries": 4})):
        at = T0 + timedelta(minutes=minutes)
        with freeze_time(at):
            incident = services.incident_update(incident=incident, actor=None, now=at, **change)
        assert deaths() == [("区领导乙", "email"), ("区领导乙", "sms"), ("区领导甲", "email"), ("区领导甲", "sms")]
    first_told = Notification.objects.filter(incident=incident, step="event_deaths", recipient=leaders["safety"])
    assert set(first_told.values_list("scheduled_for", flat=True)) == {T0 + timedelta(minutes=10)}
