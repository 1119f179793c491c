"""The ``Idempotency-Key`` header's rules (pure): which keys are well formed, what tells two requests apart."""

import pytest

from reporting.idempotency import fingerprint, parse_key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("a", "a"),
        ("k" * 255, "k" * 255),
        ('"quoted"', '"quoted"'),  # the draft's structured-field form is a key of its own, quotes and all
        ("with space", "with space"),
        ("~!@#$%^&*()_+`-={}[]|\\:;'<>?,./", "~!@#$%^&*()_+`-={}[]|\\:;'<>?,./"),
        ("", None),
        ("k" * 256, None),
        ("键", None),
        ("é", None),
        ("a\x00b", None),
        ("a\tb", None),
        ("a\x7fb", None),
        ("line\n", None),
    ],
)
def test_keys_are_1_to_255_printable_ascii_characters(value, key):
    assert parse_key(value) == key


def test_the_fingerprint_tells_method_path_and_body_apart():
    base = fingerprint(method="POST", path="/api/v1/incidents/", body=b'{"a":1}')
    assert base == fingerprint(method="post", path="/api/v1/incidents/", body=b'{"a":1}')
    assert len(base) == 64
    others = {
        fingerprint(method="PUT", path="/api/v1/incidents/", body=b'{"a":1}'),
        fingerprint(method="POST", path="/api/v1/incidents/?x=1", body=b'{"a":1}'),
        fingerprint(method="POST", path="/api/v1/incidents/", body=b'{"a":2}'),
        fingerprint(method="POST", path="/api/v1/incidents/", body=b""),
        # The parts cannot run into each other: moving bytes from the path to the body changes the fingerprint.
        fingerprint(method="POST", path="/api/v1/incidents", body=b'/{"a":1}'),
    }
    assert base not in others and len(others) == 5
