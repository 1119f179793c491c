"""Escalation policies as data: the active policy turned into the plain plan frozen onto each obligation."""

from __future__ import annotations

from notifications import escalation
from notifications.models import EscalationPolicy


def plan_from_policy(policy: EscalationPolicy) -> list[dict]:
    """The policy's steps as plain dicts (the shape ``notifications.escalation`` works on)."""
    plan = []
    for step in policy.steps.order_by("order", "id"):
        plan.append(
            {
                "key": step.key,
                "anchor": step.anchor,
                "offset_minutes": step.offset_minutes,
                "audience": list(step.audience or []),
                "channels": list(step.channels or []),
                "board_alarm": step.board_alarm,
                "repeat_every_minutes": policy.repeat_every_minutes if step.repeats else 0,
                "repeat_max": policy.repeat_max if step.repeats else 0,
                "repeat_channels": list(step.repeat_channels or ["sms"]) if step.repeats else [],
            }
        )
    return plan


def active_plan() -> list[dict]:
    """The plan of the active policy; the built-in default ladder when no policy is active (never no chasing)."""
    policy = EscalationPolicy.objects.filter(active=True).first()
    if policy is None:
        return [dict(step) for step in escalation.DEFAULT_LADDER]
    return plan_from_policy(policy)


def plan_for_obligation(*, kind: str) -> list[dict]:
    """The plan to freeze onto a new obligation: relay obligations (one clock) keep only the verbal steps."""
    plan = active_plan()
    return escalation.relay_plan(plan) if kind == "relay" else plan
