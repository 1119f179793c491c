"""The pages share the API's SMS allowance (THROTTLE_SMS_RATE): a POST that can make SMS go out is a 429 page once
a user is over it; GETs and other users are not held back."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from reporting.api.throttles import SmsThrottle
from reporting.models import Incident
from tests.web.test_incident_pages import fields


@pytest.fixture
def two_a_minute():
    from rest_framework.settings import api_settings

    original = SmsThrottle.THROTTLE_RATES
    SmsThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "sms": "2/min"}
    cache.clear()
    yield
    SmsThrottle.THROTTLE_RATES = original
    cache.clear()


def test_opening_incidents_beyond_the_allowance_is_a_429_page(client, units, sijing_officer, outsider, two_a_minute):
    client.force_login(sijing_officer)
    codes = [client.post("/incidents/new/", fields(title=f"事件{i}")).status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert Incident.objects.count() == 2
    page = client.post("/incidents/new/", fields(title="再试"))
    assert page.status_code == 429 and int(page["Retry-After"]) >= 1
    assert "操作过于频繁" in page.content.decode()
    assert client.get("/incidents/new/").status_code == 200  # reading the form is free
    client.force_login(outsider)
    assert client.post("/incidents/new/", fields(units=None, title="车墩")).status_code in (302, 400)
