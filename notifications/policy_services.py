"""Escalation policy (催报规则) changes on the audit chain: the ladder decides whom the chasing calls and when, so
an edit is recorded like any other change of how units are judged (SPEC "Integrity and access").

The admin edits a policy together with its steps (an inline formset), so the change is recorded as a whole once
both are saved: ``ladder`` before the save, ``escalation_policy_saved`` after it.

- ``escalation_policy_added``: the policy and its steps.
- ``escalation_policy_changed``: each changed policy field as ``[before, after]``; under ``steps``, the steps
  ``added`` and ``removed`` (whole) and ``changed`` (by id and key, each changed field as ``[before, after]``).
- ``escalation_policy_removed``: the policy and its steps as they were.

A save that changes nothing appends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from notifications.models import EscalationPolicy, EscalationStep
from reporting.auditlog import audited, event_append
from reporting.config_services import changed_fields, snapshot
from reporting.services import actor_name

POLICY_FIELDS = ("name", "active", "repeat_every_minutes", "repeat_max")
STEP_FIELDS = (
    "order",
    "key",
    "anchor",
    "offset_minutes",
    "audience",
    "channels",
    "board_alarm",
    "repeats",
    "repeat_channels",
)


def ladder(policy: EscalationPolicy | None) -> dict[str, Any] | None:
    """The policy's fields and its steps (by id) as stored now; None for a policy not saved yet."""
    if policy is None or policy.pk is None:
        return None
    stored = EscalationPolicy.objects.filter(pk=policy.pk).first()
    if stored is None:
        return None
    steps = EscalationStep.objects.filter(policy=stored).order_by("order", "id")
    return {
        "policy": snapshot(stored, POLICY_FIELDS),
        "steps": {str(step.pk): snapshot(step, STEP_FIELDS) for step in steps},
    }


@audited
def escalation_policy_saved(*, policy: EscalationPolicy, before: dict[str, Any] | None, actor, now: datetime) -> None:
    """Record what a save did to ``policy`` and its steps, ``before`` being ``ladder(policy)`` taken before it."""
    after = ladder(policy)
    if before is None:
        detail = {"policy": policy.name, **after["policy"], "steps": list(after["steps"].values())}
        event_append(at=now, kind="escalation_policy_added", actor=actor_name(actor), obj=policy, detail=detail)
        return
    detail: dict[str, Any] = {"policy": policy.name}
    changed = changed_fields(before["policy"], after["policy"])
    if changed:
        detail["changed"] = changed
    steps = _step_changes(before["steps"], after["steps"])
    if steps:
        detail["steps"] = steps
    if changed or steps:
        event_append(at=now, kind="escalation_policy_changed", actor=actor_name(actor), obj=policy, detail=detail)


@audited
def escalation_policy_delete(*, policy: EscalationPolicy, actor, now: datetime) -> None:
    """Remove a policy and its steps; the event keeps the ladder it was. Obligations keep their frozen plans."""
    before = ladder(policy)
    detail = {"policy": policy.name, **before["policy"], "steps": list(before["steps"].values())}
    event_append(at=now, kind="escalation_policy_removed", actor=actor_name(actor), obj=policy, detail=detail)
    EscalationPolicy.objects.filter(pk=policy.pk).delete()


def _step_changes(before: dict[str, dict], after: dict[str, dict]) -> dict[str, list]:
    added = [{"id": int(pk), **after[pk]} for pk in after if pk not in before]
    removed = [{"id": int(pk), **before[pk]} for pk in before if pk not in after]
    changed = []
    for pk in after:
        if pk in before:
            fields = changed_fields(before[pk], after[pk])
            if fields:
                changed.append({"id": int(pk), "key": after[pk]["key"], "changed": fields})
    return {name: rows for name, rows in (("added", added), ("removed", removed), ("changed", changed)) if rows}
