"""Blank and null report elements (SPEC rule 8): a blank required element is a missing one, named with every other
missing element, and the attempt is kept for the 漏报 rule; a draft may leave text unstated (null) without a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reporting import elements, services
from reporting.models import RefusedReport, Report
from tests.api.conftest import V1, written_body

TEXT = ("location", "account", "measures", "contact_name", "contact_phone")


@pytest.fixture
def incident(units, duty_room):
    now = timezone.now()
    return services.incident_create(
        actor=duty_room,
        now=now,
        title="泗泾镇某仓库火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路2号",
        summary="",
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )


def post(client, incident, **body):
    return client.post(f"{V1}/reports/", {"incident": incident.pk, "unit": "sijing", **body}, format="json")


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_required_element_is_named_with_every_missing_one_and_the_attempt_is_kept(
    api, incident, sijing_officer, blank
):
    before = Report.objects.count()
    response = post(api(sijing_officer), incident, kind="written", account=blank)
    assert response.status_code == 400
    assert set(response.json()) == set(elements.WRITTEN)  # account and the eight elements not sent at all
    assert "element is required" in response.json()["account"][0]
    assert Report.objects.count() == before
    refused = RefusedReport.objects.get(obligation__incident=incident)
    assert refused.kind == "written"
    assert "account" in refused.missing_elements
    assert refused.payload["account"] == ""  # kept as the API read it (DRF trims whitespace)


@pytest.mark.parametrize("field", TEXT)
def test_each_blank_required_element_of_a_complete_written_report_is_named(api, incident, sijing_officer, field):
    body = written_body(occurred_at=(timezone.now() - timedelta(minutes=20)).isoformat(), **{field: ""})
    response = post(api(sijing_officer), incident, kind="written", **body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert RefusedReport.objects.filter(obligation__incident=incident).count() == 1
    assert not Report.objects.filter(incident=incident).exists()


def test_blank_text_in_an_element_the_kind_does_not_require_is_refused_as_blank(api, incident, sijing_officer):
    # A follow-up needs the account and casualties; a blank place says nothing: omit it.
    body = {"account": "火已扑灭", "deaths": 0, "injuries": 1, "missing": 0, "location": ""}
    response = post(api(sijing_officer), incident, kind="follow_up", **body)
    assert response.status_code == 400
    assert list(response.json()) == ["location"]
    assert "may not be blank" in response.json()["location"][0]
    assert not Report.objects.filter(incident=incident).exists()
    assert not RefusedReport.objects.exists()  # not an incomplete report: nothing required is missing
    del body["location"]
    assert post(api(sijing_officer), incident, kind="follow_up", **body).status_code == 201


@pytest.mark.parametrize("field", TEXT)
def test_a_draft_may_leave_text_unstated_with_null_or_blank(api, incident, sijing_officer, field):
    for value in (None, ""):
        response = post(api(sijing_officer), incident, kind="written", draft=True, **{field: value})
        assert response.status_code == 201, response.content
        draft = Report.objects.get(pk=response.json()["id"])
        assert draft.filed_at is None
        assert getattr(draft, field) == ""  # stored as empty text: the column holds no NULL
    filing = api(sijing_officer).post(f"{V1}/reports/{draft.pk}/file/", {}, format="json")
    assert filing.status_code == 400  # the unstated element is still missing when the draft is filed
    assert field in filing.json()
