"""Writes of audit findings (SPEC "Audit findings")."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def finding_roster_gap_record(*, unit, at: datetime, incident=None, obligation=None, detail: dict[str, Any]):
    """Record a roster gap (双人在岗 not kept) when a notification needed the unit's duty staff.

    Idempotent per (unit, obligation or incident, step, moment); returns the Finding.
    """
    raise NotImplementedError
