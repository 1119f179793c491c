"""Role permissions (SPEC "Integrity and access"), one table per viewset.

Each viewset declares ``roles = {action: frozenset of roles}`` (``"*"`` is the default for actions not listed).
A role missing from an action's set gets 403; no credentials get 401 (TokenAuthentication is the first
authenticator, so DRF answers with ``WWW-Authenticate: Token``). Object scope (another unit's data is 404) is
not decided here but in the querysets (``reporting.selectors``).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from reporting.models import Role

UNIT_STAFF, DUTY_ROOM, LEADER, AUDITOR, FEED, ADMIN = (
    Role.UNIT_STAFF,
    Role.DUTY_ROOM,
    Role.DISTRICT_LEADER,
    Role.AUDITOR,
    Role.FEED,
    Role.ADMIN,
)

EVERYONE = frozenset(Role.values)
#: Everyone who reads operational data: the feed only posts signals.
READERS = frozenset({UNIT_STAFF, DUTY_ROOM, LEADER, AUDITOR, ADMIN})
#: Those who open incidents and file reports (unit staff only for their own unit).
OPERATORS = frozenset({UNIT_STAFF, DUTY_ROOM, ADMIN})
DUTY = frozenset({DUTY_ROOM, ADMIN})
ADMINS = frozenset({ADMIN})


def role_of(user) -> str | None:
    if not user or not user.is_authenticated:
        return None
    return user.effective_role


class RolePermission(BasePermission):
    """Allows an action when the caller's role is in the viewset's table for it.

    An action DRF does not route (``PUT`` on a report: ``view.action`` is None) is let through for every
    authenticated caller, so they get 405, not a 403 that would suggest the method exists for someone.
    """

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if role is None or not request.user.is_active:
            return False
        table = getattr(view, "roles", {})
        action = getattr(view, "action", None)
        if action is None:
            return True
        allowed = table.get(action, table.get("*", frozenset()))
        return role in allowed
