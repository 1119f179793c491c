"""Every kind of audit event is classified for unit staff's timeline (``reporting.selectors.STAFF_TIMELINE``), and a
kind nobody classified is hidden from them: a new kind of event cannot leak another unit's data by default."""

import ast
from pathlib import Path

import pytest
from django.utils import timezone

from reporting import selectors
from reporting.auditlog import event_append
from reporting.web.display import EVENT_LABELS

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
#: The functions that append an audit event with a ``kind``.
APPENDERS = {"event_append", "notification_audit"}


def appended_kinds() -> dict[str, list[str]]:
    """Each kind passed to an appender in the product's code, with where; a kind that is not a literal is named as
    ``<where>: not a literal`` so the test below fails on it."""
    found: dict[str, list[str]] = {}
    for path in [*(REPO / "reporting").rglob("*.py"), *(REPO / "notifications").rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # An appender that hands its own ``kind`` on (notification_audit) is checked at its callers.
        relays = {
            id(call)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name in APPENDERS
            for call in ast.walk(fn)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in relays:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in APPENDERS:
                continue
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            for keyword in node.keywords:
                if keyword.arg != "kind":
                    continue
                values = [n for n in ast.walk(keyword.value) if isinstance(n, ast.Constant)]
                kinds = [n.value for n in values if isinstance(n.value, str)]
                if not kinds or not isinstance(keyword.value, ast.Constant | ast.IfExp):
                    kinds = [f"{where}: not a literal"]
                for kind in kinds:
                    found.setdefault(kind, []).append(where)
    return found


def test_every_appended_kind_is_classified_for_unit_staff():
    found = appended_kinds()
    assert len(found) >= 30  # the scan really finds the appenders
    assert sorted(set(found) - set(selectors.STAFF_TIMELINE)) == []


def test_every_labelled_kind_is_classified_and_nothing_else():
    assert set(selectors.STAFF_TIMELINE) == set(EVENT_LABELS)


def test_an_unclassified_kind_is_hidden_from_unit_staff_only(shared_incident, sijing_officer, duty_room):
    incident = shared_incident.incident
    own = incident.obligations.get(unit__code="sijing")
    # It even names the officer's unit and obligation: unclassified is hidden all the same.
    event = event_append(
        at=timezone.now(),
        kind="some_future_kind",
        incident=incident,
        obj=own,
        detail={"unit": "sijing", "obligation": own.pk},
    )
    assert event.pk not in selectors.incident_timeline(incident=incident, user=sijing_officer).values_list(
        "pk", flat=True
    )
    assert event.pk in selectors.incident_timeline(incident=incident, user=duty_room).values_list("pk", flat=True)
