"""``/incidents/``: who sees which incidents, the filters, the running/overdue counts, paging, bad filters."""

import pytest
from django.utils import timezone

from reporting import report_services
from reporting.models import Incident
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(units, sijing_officer, outsider, duty_room):
    return {
        "late": open_incident(outsider, units["chedun"], known_minutes_ago=70, title="车墩镇某仓库火灾", injuries=2),
        "fresh": open_incident(sijing_officer, units["sijing"], known_minutes_ago=5, title="泗泾镇道路塌陷"),
        "drill": open_incident(duty_room, units["sijing"], known_minutes_ago=3, title="防汛演练", exercise=True),
    }


def listed(response) -> list[str]:
    return [row["incident"].title for row in response.context["rows"]]


def test_the_duty_room_sees_every_incident_with_its_clocks(client, duty_room, incidents):
    client.force_login(duty_room)
    response = client.get("/incidents/")
    assert response.status_code == 200
    assert sorted(listed(response)) == sorted(i.title for i in incidents.values())
    by_title = {row["incident"].title: row["incident"] for row in response.context["rows"]}
    assert (by_title["车墩镇某仓库火灾"].running, by_title["车墩镇某仓库火灾"].overdue) == (1, 1)
    assert (by_title["泗泾镇道路塌陷"].running, by_title["泗泾镇道路塌陷"].overdue) == (1, 0)
    assert "1 个超时" in response.content.decode()


def test_unit_staff_see_only_their_units_incidents(client, sijing_officer, incidents):
    client.force_login(sijing_officer)
    assert sorted(listed(client.get("/incidents/"))) == sorted(["防汛演练", "泗泾镇道路塌陷"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=仓库", ["车墩镇某仓库火灾"]),
        ("state=open&exercise=no", ["泗泾镇道路塌陷", "车墩镇某仓库火灾"]),
        ("exercise=only", ["防汛演练"]),
        ("domain=public_health", []),
        ("grade=graded", ["车墩镇某仓库火灾"]),
        ("grade=IV", ["车墩镇某仓库火灾"]),
        ("grade=below", ["泗泾镇道路塌陷", "防汛演练"]),
        ("state=done", ["泗泾镇道路塌陷"]),
    ],
)
def test_filters(client, duty_room, sijing_officer, incidents, query, expected):
    if query == "state=done":
        obligation = incidents["fresh"].obligations.get()
        now = timezone.now()
        report_services.report_create(
            obligation=obligation,
            kind="written",
            actor=sijing_officer,
            now=now,
            occurred_at=incidents["fresh"].occurred_at,
            **WRITTEN,
        )
    client.force_login(duty_room)
    assert sorted(listed(client.get(f"/incidents/?{query}"))) == sorted(expected)


def test_a_search_by_number(client, duty_room, incidents):
    client.force_login(duty_room)
    assert listed(client.get(f"/incidents/?q={incidents['fresh'].number}")) == ["泗泾镇道路塌陷"]


@pytest.mark.parametrize("query", ["domain=aliens", "state=maybe", "exercise=2", "grade=V", "q=" + "x" * 101])
def test_a_bad_filter_is_a_400_naming_it(client, duty_room, incidents, query):
    client.force_login(duty_room)
    response = client.get(f"/incidents/?{query}")
    assert response.status_code == 400
    assert response.context["filter"].form.errors and listed(response) == []


def test_paging(client, units, duty_room, sijing_officer):
    for n in range(51):
        open_incident(sijing_officer, units["sijing"], known_minutes_ago=5, title=f"事件{n}")
    client.force_login(duty_room)
    first = client.get("/incidents/")
    assert len(listed(first)) == 50 and "page=2" in first.content.decode()
    assert len(listed(client.get("/incidents/?page=2"))) == 1
    assert len(listed(client.get("/incidents/?page=abc"))) == 50
    assert Incident.objects.count() == 51


def test_feed_has_no_list(client, feed, incidents):
    client.force_login(feed)
    assert client.get("/incidents/").status_code == 404


def test_the_list_in_english(client, duty_room, incidents):
    client.force_login(duty_room)
    client.cookies["django_language"] = "en"
    html = client.get("/incidents/").content.decode()
    for text in ("1 overdue", "1 running", "Number or title", "Without exercises"):
        assert text in html


def test_unit_names_follow_the_language(client, units, duty_room, incidents):
    units["chedun"].name_en = "Chedun Town"
    units["chedun"].save()
    client.force_login(duty_room)
    assert "车墩镇" in "".join(row["units"] for row in client.get("/incidents/").context["rows"])
    client.cookies["django_language"] = "en"
    english = client.get("/incidents/")
    assert "Chedun Town" in "".join(row["units"] for row in english.context["rows"])
    assert "Chedun Town" in client.get("/board/").content.decode()
    # A unit without an English name keeps its Chinese one.
    assert "泗泾镇" in "".join(row["units"] for row in english.context["rows"])
