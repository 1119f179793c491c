"""What free text may hold, wherever it comes from (API, pages, admin): printable characters, tabs and line breaks.

Control characters break the exports (XLSX refuses them), SMS and the board, PostgreSQL refuses NUL outright, and no
duty officer types them."""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "不能包含控制字符 (control characters are not allowed)"


def has_control_characters(value: str | None) -> bool:
    return bool(CONTROL_CHARACTERS.search(value or ""))
