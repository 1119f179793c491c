"""Required elements of a report (SPEC rule 8; Regulation 493 Art. 12 and local practice), pure.

An incomplete report is refused: it would count as 漏报, so it is never accepted as filed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CASUALTIES = ("deaths", "injuries", "missing")

# Field -> what a duty officer calls it, for messages.
LABELS = {
    "occurred_at": "发生时间 (occurred_at)",
    "location": "地点 (location)",
    "account": "简要经过 (account)",
    "deaths": "死亡人数 (deaths)",
    "injuries": "受伤人数 (injuries)",
    "missing": "失踪人数 (missing)",
    "measures": "已采取措施 (measures)",
    "contact_name": "联系人 (contact_name)",
    "contact_phone": "联系电话 (contact_phone)",
}

# A verbal report: what, where, when, casualties known so far.
VERBAL = ("account", "location", "occurred_at", *CASUALTIES)
# A written report: time to the minute, place, account, casualties, measures, reporting unit, contact and phone.
WRITTEN = ("occurred_at", "location", "account", *CASUALTIES, "measures", "contact_name", "contact_phone")
FOLLOW_UP = ("account", *CASUALTIES)
#: The elements that are text (a blank one is a missing one).
TEXT = ("location", "account", "measures", "contact_name", "contact_phone")
FINAL = WRITTEN

REQUIRED = {"verbal": VERBAL, "written": WRITTEN, "follow_up": FOLLOW_UP, "final": FINAL}


def missing_elements(kind: str, values: Mapping[str, Any]) -> list[str]:
    """The required fields of ``kind`` that are absent, None or blank text. Casualty counts may be 0."""
    missing = []
    for field in REQUIRED[kind]:
        value = values.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(field)
    return missing


def missing_message(field: str) -> str:
    return f"缺少必报要素: {LABELS.get(field, field)} — this element is required"
