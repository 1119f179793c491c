"""The signed filing link of every SMS (``reporting.links``): short, signed, expiring after a week; links sent in the
older, longer form still open."""

from datetime import timedelta

import pytest
from django.core import signing

from notifications.messages import SEGMENT_CHARS, TO_DUTY_ROOM, Facts, sms_text
from reporting import links
from tests.conftest import NOW

AT = NOW.timestamp()


def older_form(obligation_id: int, at: float) -> str:
    """A token as links sent before the compact form were made: <b62 id>.<b62 unix seconds>.<signature>."""
    value = f"{signing.b62_encode(obligation_id)}.{signing.b62_encode(int(at))}"
    return f"{value}.{links._signature(value)}"


@pytest.mark.parametrize("obligation_id", [1, 61, 48213, 238327])
def test_a_token_is_at_most_sixteen_characters_and_names_its_obligation(obligation_id):
    token = links.filing_token(obligation_id, at=AT)
    assert len(token) <= 16 and "/" not in token
    assert links.obligation_from_token(token, now=AT) == obligation_id
    assert links.obligation_from_token(token, now=AT + 7 * 24 * 3600 - 3600) == obligation_id
    assert links.obligation_from_token(token, now=AT + 7 * 24 * 3600 + 1) is None  # a week after the hour it was made


def test_a_link_sent_in_the_older_form_still_opens_until_it_expires():
    old = older_form(48213, AT)
    assert len(old) == 19
    assert links.obligation_from_token(old, now=AT + 3600) == 48213
    assert links.obligation_from_token(old, now=AT + 7 * 24 * 3600 + 1) is None


def test_a_changed_token_names_nothing():
    token = links.filing_token(48213, at=AT)
    head, rest = token.split(".")
    other_id = signing.b62_encode(48214)
    later = signing.b62_encode(signing.b62_decode(rest[:3]) + 1).rjust(3, "0")
    for forged in (f"{other_id}.{rest}", f"{head}.{later}{rest[3:]}", token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert links.obligation_from_token(forged, now=AT) is None
    # Neither form's signature is accepted for the other's text.
    old = older_form(48213, AT)
    assert links.obligation_from_token(f"{head}.{rest[:3]}{old.split('.')[2]}", now=AT) is None
    assert links.obligation_from_token(f"{old.rsplit('.', 1)[0]}.{rest[3:]}", now=AT) is None
    for bad in ("", ".", "..", "x.y", f"{token}.x", f"{head}.{rest[:2]}", "0.000AAAAAAAA"):
        assert links.obligation_from_token(bad, now=AT) is None


def test_an_escalation_sms_with_a_real_link_fits_one_segment(settings):
    """Measured (docs in the commit): with a 21-character public address the escalation SMS of every unit took two
    segments; the compact token brings it back to one for a short unit name."""
    settings.PUBLIC_BASE_URL = "https://sj.example.cn"
    facts = Facts(
        incident_number="SJ-2026-000123",
        incident_title="泗泾镇某厂房火灾",
        unit_name="泗泾镇",
        exercise=False,
        step="verbal_escalate",
        deadline="verbal",
        due_at=NOW,
        escalated_to=TO_DUTY_ROOM,
        link=links.filing_link(48213),
    )
    text = sms_text(facts, now=NOW + timedelta(minutes=5))
    assert len(text) <= SEGMENT_CHARS, text
    assert "升级督办" in text and "口头报" in text and facts.link in text
