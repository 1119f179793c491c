"""``manage.py check --deploy`` warns of settings with which the chasing reaches nobody (``notifications.checks``)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from notifications.checks import chasing_reaches_people

TWILIO = "notifications.sms.backends.twilio.SmsBackend"


def ids(settings, **over):
    for name, value in over.items():
        setattr(settings, name, value)
    return [w.id for w in chasing_reaches_people(None)]


@pytest.fixture
def deployed(settings):
    settings.SMS_BACKEND = TWILIO
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.PUBLIC_BASE_URL = "https://tracker.example.org"
    return settings


def test_a_deployment_with_twilio_and_a_public_address_is_clean(deployed):
    assert ids(deployed) == []
    assert ids(deployed, TWILIO_MESSAGING_SERVICE_SID="MG" + "0" * 32) == []  # SMS by the service, calls by the number
    assert ids(deployed, SMS_BACKEND="notifications.sms.backends.file.SmsBackend") == []  # chosen on purpose


@pytest.mark.parametrize("backend", ["console", "locmem"])
def test_sms_that_reach_nobody_are_a_warning(deployed, backend):
    assert ids(deployed, SMS_BACKEND=f"notifications.sms.backends.{backend}.SmsBackend") == ["notifications.W001"]


def test_twilio_without_a_sender_is_a_warning(deployed):
    assert ids(deployed, TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID="") == ["notifications.W002"]


def test_a_messaging_service_without_a_caller_number_is_a_warning_of_its_own(deployed):
    """SMS go out through the service; voice calls cannot (a Messaging Service places no calls): they become SMS."""
    deployed.TWILIO_FROM_NUMBER, deployed.TWILIO_MESSAGING_SERVICE_SID = "", "MG" + "0" * 32
    [warning] = chasing_reaches_people(None)
    assert warning.id == "notifications.W004"
    assert "voice" in warning.msg and "TWILIO_FROM_NUMBER" in warning.hint


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "https://[::1]", "http://tracker.localhost"]
)
def test_links_to_this_machine_are_a_warning(deployed, url):
    assert ids(deployed, PUBLIC_BASE_URL=url) == ["notifications.W003"]


def test_check_deploy_reports_them(deployed):
    deployed.SMS_BACKEND = "notifications.sms.backends.console.SmsBackend"
    with pytest.raises(SystemCheckError, match="notifications.W001"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")
