"""The operator's own account commands, audited: ``createsuperuser``, ``changepassword`` and DRF's
``drf_create_token`` change who may sign in or call the API, so each appends its audit event like the admin and the
API do (SPEC "Integrity and access"). The event's actor names the command and the system user who ran it."""

from __future__ import annotations

import getpass
from types import SimpleNamespace


def operator(command: str) -> SimpleNamespace:
    """The actor of a command's audit event: ``manage.py <command> (<system user>)``."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary user)
        who = "unknown"
    return SimpleNamespace(username=f"manage.py {command} ({who})")
