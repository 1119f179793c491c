"""The permission matrix: every endpoint and method × every persona, from ONE table.

Columns: anonymous, unit staff of the object's unit (泗泾镇), unit staff of another unit (车墩镇), duty room,
district leader, auditor, feed, admin. For a write a role may do, the body is ``{}`` (so the answer is 400 from
validation: the request got past the permission gate and wrote nothing) unless the row gives a body.

``test_every_api_route_has_a_row`` walks the URL resolver: a new endpoint or method without a row fails.
"""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver

from tests.api.conftest import V1

PERSONAS = ("anon", "own", "other", "duty", "leader", "auditor", "feed", "admin")

# (method, path template, body or None, expected statuses in PERSONAS order)
# Placeholders: {incident} {obligation} {report} {draft} {contact} {spare_contact} {shift} {signal}
# {notification} {user}.
MATRIX = [
    ("get", "/", None, "401 200 200 200 200 200 200 200"),
    # units: everyone authenticated reads; duty room and admin write
    ("get", "/units/", None, "401 200 200 200 200 200 200 200"),
    ("post", "/units/", {}, "401 403 403 400 403 403 403 400"),
    ("get", "/units/sijing/", None, "401 200 200 200 200 200 200 200"),
    ("patch", "/units/sijing/", {}, "401 403 403 200 403 403 403 200"),
    # contacts and shifts: unit staff read their own unit's; duty room and admin write (API.md; units keep their
    # own roster on the pages)
    ("get", "/contacts/", None, "401 200 200 200 200 200 403 200"),
    ("post", "/contacts/", {}, "401 403 403 400 403 403 403 400"),
    ("get", "/contacts/{contact}/", None, "401 200 404 200 200 200 403 200"),
    ("patch", "/contacts/{contact}/", {}, "401 403 403 200 403 403 403 200"),
    ("delete", "/contacts/{spare_contact}/", None, "401 403 403 204 403 403 403 204"),
    ("get", "/shifts/", None, "401 200 200 200 200 200 403 200"),
    ("post", "/shifts/", {}, "401 403 403 400 403 403 403 400"),
    ("get", "/shifts/{shift}/", None, "401 200 404 200 200 200 403 200"),
    ("delete", "/shifts/{shift}/", None, "401 403 403 204 403 403 403 204"),
    # users: admin only
    ("get", "/users/", None, "401 403 403 403 403 403 403 200"),
    ("post", "/users/", {}, "401 403 403 403 403 403 403 400"),
    ("get", "/users/{user}/", None, "401 403 403 403 403 403 403 200"),
    ("patch", "/users/{user}/", {}, "401 403 403 403 403 403 403 200"),
    ("post", "/users/{user}/token/", None, "401 403 403 403 403 403 403 201"),
    # incidents: unit staff for their own unit's; another unit's is 404
    ("get", "/incidents/", None, "401 200 200 200 200 200 403 200"),
    ("post", "/incidents/", {}, "401 400 400 400 403 403 403 400"),
    ("get", "/incidents/{incident}/", None, "401 200 404 200 200 200 403 200"),
    ("patch", "/incidents/{incident}/", {}, "401 403 403 200 403 403 403 200"),
    ("post", "/incidents/{incident}/units/", {}, "401 403 403 400 403 403 403 400"),
    ("get", "/incidents/{incident}/timeline/", None, "401 200 404 200 200 200 403 200"),
    # obligations
    ("get", "/obligations/", None, "401 200 200 200 200 200 403 200"),
    ("get", "/obligations/{obligation}/", None, "401 200 404 200 200 200 403 200"),
    ("post", "/obligations/{obligation}/not-required/", {}, "401 403 403 400 403 403 403 400"),
    ("post", "/obligations/{obligation}/restore/", {}, "401 403 403 400 403 403 403 400"),
    ("post", "/obligations/{obligation}/city-report/", {}, "401 400 404 400 403 403 403 400"),
    ("post", "/obligations/{obligation}/first-known/", {}, "401 403 403 400 403 403 403 400"),
    # reports: append-only, so PUT/PATCH/DELETE are 405 for everyone who is authenticated
    ("get", "/reports/", None, "401 200 200 200 200 200 403 200"),
    ("post", "/reports/", {}, "401 400 400 400 403 403 403 400"),
    ("get", "/reports/{report}/", None, "401 200 404 200 200 200 403 200"),
    ("put", "/reports/{report}/", {}, "401 405 405 405 405 405 405 405"),
    ("patch", "/reports/{report}/", {}, "401 405 405 405 405 405 405 405"),
    ("delete", "/reports/{report}/", None, "401 405 405 405 405 405 405 405"),
    ("post", "/reports/{draft}/file/", None, "401 200 404 200 403 403 403 200"),
    # signals: the feed posts; readers read (unit staff: signals delivered to their unit)
    ("get", "/signals/", None, "401 200 200 200 200 200 403 200"),
    ("post", "/signals/", {}, "401 403 403 400 403 403 400 400"),
    ("get", "/signals/{signal}/", None, "401 200 404 200 200 200 403 200"),
    ("post", "/signals/{signal}/link/", {}, "401 403 403 400 403 403 403 400"),
    ("post", "/signals/{signal}/unlink/", {}, "401 403 403 400 403 403 403 400"),
    ("post", "/signals/{signal}/incident/", {}, "401 403 403 400 403 403 403 400"),
    # notifications: duty room and auditors
    ("get", "/notifications/", None, "401 403 403 200 403 200 403 200"),
    ("get", "/notifications/{notification}/", None, "401 403 403 200 403 200 403 200"),
    # audit (reporting/api/audit.py): auditors review; duty room and district leaders read
    ("get", "/findings/", None, "401 403 403 200 200 200 403 200"),
    ("post", "/findings/{finding}/review/", {}, "401 403 403 403 403 400 403 400"),
    ("get", "/stats/timeliness/", None, "401 403 403 200 200 200 403 200"),
]

CELLS = [
    pytest.param(method, path, body, persona, int(expected), id=f"{method.upper()} {path} {persona}")
    for method, path, body, statuses in MATRIX
    for persona, expected in zip(PERSONAS, statuses.split(), strict=True)
]


@pytest.fixture
def finding(world):
    from django.utils import timezone

    from reporting.models import Finding

    return Finding.objects.create(
        kind="late",
        key="matrix-late",
        unit=world["obligation"].unit,
        incident=world["incident"],
        obligation=world["obligation"],
        found_at=timezone.now(),
        detail={"deadline": "verbal", "delay_seconds": 60},
    )


@pytest.fixture
def personas(world, sijing_officer, outsider, duty_room, leader, auditor, feed, admin_user):
    return {
        "anon": None,
        "own": sijing_officer,
        "other": outsider,
        "duty": duty_room,
        "leader": leader,
        "auditor": auditor,
        "feed": feed,
        "admin": admin_user,
    }


@pytest.mark.parametrize(("method", "path", "body", "persona", "expected"), CELLS)
def test_permission_matrix(api, world, finding, personas, method, path, body, persona, expected):
    ids = {name: obj.pk for name, obj in world.items()} | {"finding": finding.pk}
    url = V1 + path.format(**ids)
    client = api(personas[persona])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == expected, (url, persona, response.content[:300])
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Token")


def _api_routes():
    """(path regex, method) for every route under /api/v1/, from the resolver (format-suffix variants skipped)."""
    routes = []
    for top in get_resolver().url_patterns:
        if not str(top.pattern).startswith("api/v1/"):
            continue
        for pattern in top.url_patterns:
            regex = str(pattern.pattern.regex.pattern)
            if "format" in pattern.pattern.regex.groupindex:
                continue
            actions = getattr(pattern.callback, "actions", None)
            methods = sorted(m for m in actions if m != "head") if actions else ["get"]
            routes.extend((regex, m) for m in methods)
    return routes


def test_every_api_route_has_a_row():
    """A new endpoint (or a new method on one) without a row in MATRIX fails here."""
    sample = {"code": "sijing"}
    rows = {(method, path) for method, path, _, _ in MATRIX}
    missing = []
    for regex, method in _api_routes():
        covered = False
        for row_method, row_path in rows:
            concrete = re.sub(r"\{(\w+)\}", "1", row_path).lstrip("/")
            if row_method == method and re.fullmatch(regex.lstrip("^"), concrete.format(**sample)):
                covered = True
                break
        if not covered:
            missing.append((method.upper(), regex))
    assert not missing, f"routes with no row in MATRIX: {missing}"
    assert len(_api_routes()) >= 40
