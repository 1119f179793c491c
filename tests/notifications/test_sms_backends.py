"""SMS backends chosen by SMS_BACKEND, like Django's EMAIL_BACKEND; the Twilio one through the real SDK and Prism."""

import io
import json

import pytest
from twilio.base.exceptions import TwilioRestException

from notifications.sms import SmsError, get_backend
from notifications.sms.backends import file as file_backend
from notifications.sms.backends import locmem
from notifications.sms.backends.console import SmsBackend as ConsoleBackend
from notifications.sms.backends.twilio import RedirectingHttpClient, classify, message_params, twilio_client
from tests.fixtures import processes
from tests.fixtures.delivery import ACCOUNT_SID, FROM_NUMBER


def test_get_backend_follows_the_setting(settings):
    settings.SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
    assert isinstance(get_backend(), locmem.SmsBackend)
    settings.SMS_BACKEND = "notifications.sms.backends.file.SmsBackend"
    assert isinstance(get_backend(), file_backend.SmsBackend)


def test_locmem_keeps_an_outbox():
    locmem.outbox.clear()
    result = locmem.SmsBackend().send(to="+8617000000001", body="测试")
    assert [(m.to, m.body, m.provider_id) for m in locmem.outbox] == [("+8617000000001", "测试", result.provider_id)]
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34


def test_console_writes_the_message():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).send(to="+8617000000001", body="口头报已超时")
    assert f"SMS {result.provider_id} to +8617000000001\n口头报已超时\n" in stream.getvalue()


def test_file_backend_is_one_json_line_per_message_across_processes(tmp_path):
    ctx = processes.spawned()
    procs = [ctx.Process(target=processes.send_many, args=(str(tmp_path), w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    lines = (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    records = [json.loads(line) for line in lines]  # every line whole: no interleaving
    assert len({r["sid"] for r in records}) == 800
    assert len({r["pid"] for r in records}) == 4
    assert file_backend.read_messages(tmp_path)[0]["body"] == "并发写入" * 20


def test_message_params_use_from_number_or_messaging_service(settings):
    settings.PUBLIC_BASE_URL = "https://tracker.example.org"
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    assert message_params(to="+8617000000001", body="x") == {
        "to": "+8617000000001",
        "body": "x",
        "status_callback": "https://tracker.example.org/webhooks/twilio/status/",
        "validity_period": 600,
        "from_": FROM_NUMBER,
    }
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    params = message_params(to="+8617000000001", body="x")
    assert params["messaging_service_sid"] == "MG" + "1" * 32 and "from_" not in params


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),
        (400, 21614, True),
        (422, 422, True),
        (401, 20003, True),
        (429, 20429, False),
        (500, 20500, False),
        (503, 20503, False),
    ],
)
def test_twilio_errors_are_classified(status, code, permanent):
    error = classify(TwilioRestException(status, "https://api.twilio.com/x", msg="err", code=code))
    assert error.permanent is permanent and error.code == code


def test_connection_errors_are_transient():
    import requests

    assert classify(requests.exceptions.ConnectTimeout("t")).permanent is False
    assert classify(requests.exceptions.ConnectionError("refused")).permanent is False


def test_client_is_built_once_from_settings(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, "tok"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:1"
    client = twilio_client()
    assert isinstance(client.http_client, RedirectingHttpClient)
    assert client.username == ACCOUNT_SID


@pytest.mark.integration
def test_twilio_backend_sends_through_prism(twilio_settings, twilio_recorder):
    result = get_backend().send(to="+8617000000001", body="SJ-2026-000001 泗泾镇：口头报已超时5分钟")
    assert result.provider_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # Prism's example: the spec's response
    [request] = twilio_recorder.messages()
    assert request.status == 201
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form["To"] == "+8617000000001"
    assert request.form["From"] == FROM_NUMBER
    assert request.form["Body"] == "SJ-2026-000001 泗泾镇：口头报已超时5分钟"
    assert request.form["ValidityPeriod"] == "600"


@pytest.mark.integration
def test_unreachable_twilio_is_a_transient_error(settings):
    settings.SMS_BACKEND = "notifications.sms.backends.twilio.SmsBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, "tok"
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    with pytest.raises(SmsError) as info:
        get_backend().send(to="+8617000000001", body="x")
    assert info.value.permanent is False
