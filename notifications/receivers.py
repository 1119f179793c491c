"""Connects the chasing machinery to the domain's hooks (reporting never imports notifications)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from notifications import escalation, events, policies, wakeups
from notifications.models import Notification, NotificationStatus
from notifications.sweep import clock_of, fired_steps
from reporting import hooks
from reporting.models import Obligation


@receiver(hooks.obligation_created, dispatch_uid="notifications.freeze_plan")
def freeze_plan(sender, *, obligation: Obligation, now, **kwargs) -> None:
    """Freeze the active escalation plan onto the new obligation and arm the sweep at its first moment."""
    obligation.escalation_plan = policies.plan_for_obligation(kind=obligation.kind)
    obligation.next_action_at = escalation.next_action_at(
        obligation.escalation_plan, clock_of(obligation), now=now, fired=()
    )
    Obligation.objects.filter(pk=obligation.pk).update(
        escalation_plan=obligation.escalation_plan, next_action_at=obligation.next_action_at
    )
    _wake_on_commit(obligation.next_action_at, now=now)


@receiver(hooks.obligation_changed, dispatch_uid="notifications.rearm")
def rearm(sender, *, obligation: Obligation, now, **kwargs) -> None:
    """A clock changed (filed, not required, first-known corrected): move ``next_action_at`` and cancel the rows
    of a discharged deadline that no provider has been handed yet (SPEC: filing stops every pending step)."""
    clock = clock_of(obligation)
    obligation.next_action_at = escalation.next_action_at(
        obligation.escalation_plan or [], clock, now=now, fired=fired_steps(obligation)
    )
    Obligation.objects.filter(pk=obligation.pk).update(next_action_at=obligation.next_action_at)
    _wake_on_commit(obligation.next_action_at, now=now)
    discharged = [s["key"] for s in obligation.escalation_plan or [] if not clock.pending(s["anchor"])]
    if discharged:
        Notification.objects.filter(
            obligation=obligation, step__in=discharged, status=NotificationStatus.PENDING, claimed_at__isnull=True
        ).update(status=NotificationStatus.CANCELLED, error="报告已报送, 催报取消 (deadline discharged)")


def _wake_on_commit(moment, *, now) -> None:
    """The accelerator: a moment due now or very soon gets an ETA sweep instead of waiting for beat."""
    if moment is not None:
        transaction.on_commit(lambda: wakeups.wakeup_for(moment=moment, now=now))


@receiver(hooks.incident_changed, dispatch_uid="notifications.event_rules")
def event_rules(sender, *, incident, now, **kwargs) -> None:
    events.incident_event_rules(incident=incident, now=now)
