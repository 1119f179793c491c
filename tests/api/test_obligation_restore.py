"""撤销无需报送 through the API (``POST /obligations/{id}/restore/``): one test per answer. The permission matrix
(tests/api/test_permissions.py) covers who may call it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reporting import obligation_services
from reporting.models import AuditEvent
from tests.api.conftest import V1


@pytest.fixture
def marked(chedun_incident, duty_room):
    """A 车墩镇 obligation added by mistake and marked not required."""
    return obligation_services.obligation_mark_not_required(
        obligation=chedun_incident.obligations.get(), reason="误派单位", actor=duty_room, now=timezone.now()
    )


def url(obligation):
    return f"{V1}/obligations/{obligation.pk}/restore/"


def test_restore_answers_200_with_the_obligation_pending_again(api, marked, duty_room):
    response = api(duty_room).post(url(marked), {"reason": "单位派对了"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["verbal_state"], body["written_state"]) == ("pending", "pending")
    assert body["not_required_reason"] == "" and body["not_required_at"] is None
    event = AuditEvent.objects.get(kind="obligation_restored")
    assert (event.detail["reason"], event.detail["mark_reason"]) == ("单位派对了", "误派单位")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "长" * 2001}])
def test_restore_without_a_usable_reason_is_a_400_naming_it(api, marked, duty_room, body):
    response = api(duty_room).post(url(marked), body, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    marked.refresh_from_db()
    assert marked.is_not_required
    assert not AuditEvent.objects.filter(kind="obligation_restored").exists()


def test_restoring_an_obligation_not_marked_is_a_409(api, world, duty_room):
    response = api(duty_room).post(url(world["obligation"]), {"reason": "单位派对了"}, format="json")
    assert response.status_code == 409 and "non_field_errors" in response.json()
    assert not AuditEvent.objects.filter(kind="obligation_restored").exists()


def test_restoring_twice_is_a_409(api, marked, duty_room):
    assert api(duty_room).post(url(marked), {"reason": "单位派对了"}, format="json").status_code == 200
    assert api(duty_room).post(url(marked), {"reason": "单位派对了"}, format="json").status_code == 409
    assert AuditEvent.objects.filter(kind="obligation_restored").count() == 1


def test_restore_by_a_unit_is_a_403_and_changes_nothing(api, marked, units):
    from tests.conftest import make_user

    chedun_officer = make_user("chedun-officer-r", "unit_staff", units["chedun"])
    response = api(chedun_officer).post(url(marked), {"reason": "单位派对了"}, format="json")
    assert response.status_code == 403
    marked.refresh_from_db()
    assert marked.is_not_required


def test_restore_of_an_unknown_obligation_is_a_404(api, duty_room):
    assert api(duty_room).post(f"{V1}/obligations/99999999/restore/", {"reason": "x"}, format="json").status_code == 404
