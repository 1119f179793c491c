"""Organisation and configuration writes: units, users and their API tokens, permission groups, reporting policies.

These records change how the rules judge (a unit's ``vertical`` flag changes its findings, SPEC rule 12; a policy
sets the minutes, rule 1) and who may act, so every change appends an audit event (SPEC "Integrity and access"),
from the API and from the Django admin alike:

- ``unit_added`` / ``unit_changed`` / ``unit_removed``
- ``user_added`` / ``user_changed`` / ``user_removed``
- ``token_created`` / ``token_replaced`` / ``token_removed``
- ``group_added`` / ``group_changed`` / ``group_removed`` (a group's permissions are what its members may do in the
  admin; its members are recorded on ``*_added``/``*_removed``, and a membership change is the user's
  ``user_changed`` ``groups``)
- ``reporting_policy_added`` / ``reporting_policy_changed`` / ``reporting_policy_removed``

An ``*_added`` or ``*_removed`` event carries the whole record; a ``*_changed`` event only the fields that changed,
each as ``[before, after]`` (a unit by its code, a contact by its id, groups and permissions as sorted names).
A save that changes nothing appends nothing. A secret never enters an event: a token event names whose token it
was, never its key (nor is the token its object: its primary key is the key), and a password change is recorded as
``"password": "changed"`` (or ``"disabled"``), never the hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import Group
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from rest_framework.authtoken.models import Token

from reporting.auditlog import audited, event_append
from reporting.models import ReportingPolicy, Unit, User
from reporting.services import actor_name

UNIT_FIELDS = ("code", "name", "name_en", "kind", "vertical", "domains", "active")
#: Everything the API or the admin edits on a user except the password, which is recorded only as changed.
USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "unit",
    "contact",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
    "last_login",
    "date_joined",
)
POLICY_FIELDS = ("grade", "verbal_minutes", "written_minutes", "relay_minutes")
GROUP_FIELDS = ("name", "permissions")


# --- what an event records ------------------------------------------------------------------------------------


def recorded(value: Any) -> Any:
    """A value as an event records it: a unit by its code, another record by its id, a time in UTC."""
    if isinstance(value, Unit):
        return value.code
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """``fields`` of ``obj`` as plain JSON values (many-to-many fields as sorted names)."""
    values = {}
    for name in fields:
        field = obj._meta.get_field(name)
        if field.many_to_many:
            related = getattr(obj, name).all() if obj.pk is not None else []
            values[name] = sorted(_m2m_name(r) for r in related)
        else:
            values[name] = recorded(getattr(obj, name))
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder, ensure_ascii=False))


def _m2m_name(obj: models.Model) -> str:
    if obj._meta.model_name == "permission":
        return f"{obj.content_type.app_label}.{obj.codename}"
    return str(obj)


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Each field whose value differs, as ``[before, after]``."""
    return {f: [before.get(f), after.get(f)] for f in after if before.get(f) != after.get(f)}


def _apply(obj: models.Model, changes: dict[str, Any], allowed: Iterable[str]) -> None:
    """Set ``changes`` on ``obj`` (a row locked by the caller) and save the fields that differ."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValueError(f"not {obj._meta.model_name} fields: {sorted(unknown)}")
    scalar = []
    for name, value in changes.items():
        if obj._meta.get_field(name).many_to_many:
            getattr(obj, name).set(value)
        elif getattr(obj, name) != value:
            setattr(obj, name, value)
            scalar.append(name)
    if scalar:
        obj.save(update_fields=scalar)


# --- units ------------------------------------------------------------------------------------------------------


@audited
def unit_create(*, unit: Unit, actor, now: datetime) -> Unit:
    """Save a new unit (an unsaved ``Unit``, validated by the caller) and record it whole."""
    unit.save(force_insert=True)
    event_append(
        at=now, kind="unit_added", actor=actor_name(actor), obj=unit, detail={"unit": unit.code, **_unit(unit)}
    )
    return unit


@audited
def unit_update(*, unit: Unit, changes: dict[str, Any], actor, now: datetime) -> Unit:
    """Change some of ``UNIT_FIELDS``; the event records each changed field as ``[before, after]``."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = _unit(unit)
    _apply(unit, changes, UNIT_FIELDS)
    changed = changed_fields(before, _unit(unit))
    if changed:
        event_append(
            at=now,
            kind="unit_changed",
            actor=actor_name(actor),
            obj=unit,
            detail={"unit": unit.code, "changed": changed},
        )
    return unit


@audited
def unit_delete(*, unit: Unit, actor, now: datetime) -> None:
    """Remove a unit entered by mistake (one with people, shifts, users or incidents is protected)."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    event_append(
        at=now, kind="unit_removed", actor=actor_name(actor), obj=unit, detail={"unit": unit.code, **_unit(unit)}
    )
    unit.delete()


def _unit(unit: Unit) -> dict[str, Any]:
    return snapshot(unit, UNIT_FIELDS)


# --- users and their tokens -------------------------------------------------------------------------------------


@audited
def user_create(*, user: User, actor, now: datetime) -> User:
    """Save a new user (an unsaved ``User`` whose password, if any, is already set) and record it whole, with
    whether it can log in with a password (never the password or its hash)."""
    user.save(force_insert=True)
    _user_added(user, actor=actor, now=now)
    return user


@audited
def user_created_elsewhere(*, user: User, actor, now: datetime) -> None:
    """Record a user another tool already saved (``manage.py createsuperuser``) as ``user_create`` would have."""
    _user_added(user, actor=actor, now=now)


def _user_added(user: User, *, actor, now: datetime) -> None:
    detail = {"user": user.username, **snapshot(user, USER_FIELDS), "usable_password": user.has_usable_password()}
    event_append(at=now, kind="user_added", actor=actor_name(actor), obj=user, detail=detail)


@audited
def user_update(*, user: User, changes: dict[str, Any], password: str | None = None, actor, now: datetime) -> User:
    """Change some of ``USER_FIELDS`` (role, unit, deactivation…) and, given one, the password. The event records
    each changed field as ``[before, after]``, and ``"password": "changed"`` for a new password."""
    user = User.objects.select_for_update().get(pk=user.pk)
    before = snapshot(user, USER_FIELDS)
    _apply(user, changes, USER_FIELDS)
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    _record_user_change(user, before, actor=actor, now=now, password="changed" if password else None)
    return user


@audited
def user_password_changed(*, user: User, actor, now: datetime) -> None:
    """Record a password set elsewhere (the admin's own password form): ``changed``, or ``disabled`` when the
    admin turned password login off."""
    user = User.objects.get(pk=user.pk)
    state = "changed" if user.has_usable_password() else "disabled"
    _record_user_change(user, snapshot(user, USER_FIELDS), actor=actor, now=now, password=state)


def _record_user_change(user: User, before: dict, *, actor, now: datetime, password: str | None) -> None:
    changed = changed_fields(before, snapshot(user, USER_FIELDS))
    if not changed and not password:
        return
    detail: dict[str, Any] = {"user": user.username, "changed": changed}
    if password:
        detail["password"] = password
    event_append(at=now, kind="user_changed", actor=actor_name(actor), obj=user, detail=detail)


@audited
def user_delete(*, user: User, actor, now: datetime) -> None:
    """Remove a user (their token goes with them); the event keeps what the account was."""
    user = User.objects.select_for_update().get(pk=user.pk)
    detail = {
        "user": user.username,
        **snapshot(user, USER_FIELDS),
        "had_token": Token.objects.filter(user=user).exists(),
    }
    event_append(at=now, kind="user_removed", actor=actor_name(actor), obj=user, detail=detail)
    user.delete()


@audited
def token_replace(*, user: User, actor, now: datetime, token: Token | None = None) -> Token:
    """Give ``user`` a new API token, dropping any they had: ``token_created`` for a first one, ``token_replaced``
    for a replacement. ``token`` is an unsaved token to save (the admin's), else a new one is made. The event's
    object is the user: a token's primary key is its key."""
    replaced, _ = Token.objects.filter(user=user).delete()
    token = token or Token(user=user)
    token.save(force_insert=True)
    event_append(
        at=now,
        kind="token_replaced" if replaced else "token_created",
        actor=actor_name(actor),
        obj=user,
        detail={"user": user.username},
    )
    return token


@audited
def token_delete(*, token: Token, actor, now: datetime) -> None:
    """Revoke a token (the admin); the user can no longer use the API until given a new one."""
    user = token.user
    event_append(at=now, kind="token_removed", actor=actor_name(actor), obj=user, detail={"user": user.username})
    Token.objects.filter(key=token.key).delete()


# --- permission groups ----------------------------------------------------------------------------------------


@audited
def group_create(*, group: Group, permissions: Iterable = (), actor, now: datetime) -> Group:
    """Save a new group (an unsaved ``Group``) with its ``permissions`` and record it whole."""
    group.save(force_insert=True)
    group.permissions.set(permissions)
    detail = {"group": group.name, **_group(group, members=True)}
    event_append(at=now, kind="group_added", actor=actor_name(actor), obj=group, detail=detail)
    return group


@audited
def group_update(*, group: Group, changes: dict[str, Any], actor, now: datetime) -> Group:
    """Change a group's name or permissions; the event records each changed field as ``[before, after]``
    (permissions as sorted ``app_label.codename``)."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    before = _group(group)
    _apply(group, changes, GROUP_FIELDS)
    changed = changed_fields(before, _group(group))
    if changed:
        detail = {"group": group.name, "changed": changed}
        event_append(at=now, kind="group_changed", actor=actor_name(actor), obj=group, detail=detail)
    return group


@audited
def group_delete(*, group: Group, actor, now: datetime) -> None:
    """Remove a group: its members lose what it allowed, so the event keeps them with its permissions."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    detail = {"group": group.name, **_group(group, members=True)}
    event_append(at=now, kind="group_removed", actor=actor_name(actor), obj=group, detail=detail)
    group.delete()


def _group(group: Group, *, members: bool = False) -> dict[str, Any]:
    values = snapshot(group, GROUP_FIELDS)
    if members:
        values["members"] = sorted(group.user_set.values_list("username", flat=True))
    return values


# --- reporting policies (SPEC rule 1) ---------------------------------------------------------------------------


@audited
def reporting_policy_create(*, policy: ReportingPolicy, actor, now: datetime) -> ReportingPolicy:
    policy.save(force_insert=True)
    event_append(at=now, kind="reporting_policy_added", actor=actor_name(actor), obj=policy, detail=_policy(policy))
    return policy


@audited
def reporting_policy_update(
    *, policy: ReportingPolicy, changes: dict[str, Any], actor, now: datetime
) -> ReportingPolicy:
    """Change a policy's minutes (or grade); running clocks keep the minutes they were given (the obligation holds
    a copy), the change applies to obligations created from now on."""
    policy = ReportingPolicy.objects.select_for_update().get(pk=policy.pk)
    before = _policy(policy)
    _apply(policy, changes, POLICY_FIELDS)
    changed = changed_fields(before, _policy(policy))
    if changed:
        event_append(
            at=now,
            kind="reporting_policy_changed",
            actor=actor_name(actor),
            obj=policy,
            detail={"grade": policy.grade, "changed": changed},
        )
    return policy


@audited
def reporting_policy_delete(*, policy: ReportingPolicy, actor, now: datetime) -> None:
    policy = ReportingPolicy.objects.select_for_update().get(pk=policy.pk)
    event_append(at=now, kind="reporting_policy_removed", actor=actor_name(actor), obj=policy, detail=_policy(policy))
    policy.delete()


def _policy(policy: ReportingPolicy) -> dict[str, Any]:
    return snapshot(policy, POLICY_FIELDS)
