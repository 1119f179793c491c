"""Phone numbers as duty officers type them (138 1234 5678, 021-5767 1234, +86 170 0000 0001) to E.164, which
is what the product stores and sends SMS to. Parsing and the numbering plan are Google's libphonenumber
(``phonenumbers``), with mainland China as the region of a number typed without a country code."""

from __future__ import annotations

import phonenumbers

REGION = "CN"
_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class PhoneError(ValueError):
    """Not a number anyone could call (``reason="invalid"``), or not a mobile where an SMS must go
    (``reason="not_mobile"``)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def phone_e164(value: str, *, mobile: bool) -> str:
    """``value`` in E.164 (``+8613812345678``). Raises ``PhoneError`` when it is no valid number, or, with
    ``mobile``, not a mobile number (SMS cannot reach a landline)."""
    try:
        number = phonenumbers.parse(value, REGION)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid")
    if mobile and phonenumbers.number_type(number) not in _MOBILE:
        raise PhoneError("not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
