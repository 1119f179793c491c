"""API test helpers: token-authenticated clients per persona and one small world of objects to point at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifications.models import Notification
from reporting import report_services, services, signal_services
from reporting.models import Contact, ContactRole, Report, Shift, Signal

V1 = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Throttle counters live in the cache, which outlives a test's database transaction."""
    cache.clear()
    yield
    cache.clear()


def client_for(user) -> APIClient:
    """A client that authenticates as ``user`` with a real DRF token (None: anonymous)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api():
    return client_for


def written_body(**over):
    """A complete written report body as API.md shows it (times relative to the caller's ``now``)."""
    body = {
        "location": "泗泾镇某路1号",
        "account": "厂房起火, 消防到场处置",
        "deaths": 0,
        "injuries": 2,
        "missing": 0,
        "measures": "消防、120到场",
        "contact_name": "王某",
        "contact_phone": "+8617000000001",
    }
    body.update(over)
    return body


@pytest.fixture
def chedun_incident(units, duty_room):
    """An incident of 车墩镇 alone, opened by the duty room, first known 10 minutes ago."""
    from django.utils import timezone

    now = timezone.now()
    return services.incident_create(
        actor=duty_room,
        now=now,
        title="车墩镇某仓库火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="车墩镇某路2号",
        summary="",
        units=[{"unit": units["chedun"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )


@pytest.fixture
def world(units, sijing_officer, duty_room):
    """An incident of 泗泾镇 with a filed written report, a complete draft, a contact, a spare contact, a shift,
    a signal delivered to 泗泾镇 and a notification: one of each kind of object the API exposes."""
    from django.utils import timezone

    now = timezone.now()
    incident = services.incident_create(
        actor=duty_room,
        now=now,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        summary="",
        injuries=2,
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )
    obligation = incident.obligations.get()
    fields = written_body(occurred_at=now - timedelta(minutes=20))
    report = report_services.report_create(
        obligation=obligation, kind="written", actor=sijing_officer, now=now, **fields
    )
    draft = report_services.report_create(
        obligation=obligation, kind="follow_up", actor=sijing_officer, now=now, draft=True, **fields
    )
    contact = sijing_officer.contact
    spare = Contact.objects.create(
        unit=units["sijing"], name="李某", phone="+8617000000009", role=ContactRole.UNIT_HEAD
    )
    shift = Shift.objects.create(
        unit=units["sijing"], contact=contact, role=ContactRole.DUTY_OFFICER, starts_at=now, ends_at=now + timedelta(1)
    )
    signal, _ = signal_services.signal_ingest(
        actor=duty_room,
        now=now,
        source="119",
        external_id="F-1",
        received_at=now - timedelta(minutes=15),
        delivered_to=units["sijing"],
        delivered_at=now - timedelta(minutes=14),
    )
    notification = Notification.objects.create(
        incident=incident,
        obligation=obligation,
        step="verbal_reminder",
        channel="sms",
        recipient=contact,
        to=contact.phone,
        scheduled_for=now,
        created_at=now,
    )
    assert Report.objects.count() == 2 and Signal.objects.count() == 1
    return {
        "incident": incident,
        "obligation": obligation,
        "report": report,
        "draft": draft,
        "contact": contact,
        "spare_contact": spare,
        "shift": shift,
        "signal": signal,
        "notification": notification,
        "user": sijing_officer,
    }
