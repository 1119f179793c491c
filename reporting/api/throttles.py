"""Throttling for the endpoints that can make SMS go out (incidents, added units, reports)."""

import time

from rest_framework.throttling import UserRateThrottle


class SmsThrottle(UserRateThrottle):
    """Per user, at the ``sms`` rate of DEFAULT_THROTTLE_RATES (THROTTLE_SMS_RATE)."""

    scope = "sms"

    def timer(self) -> float:
        # Looked up at call time: DRF's ``timer = time.time`` class attribute binds whatever function was there at
        # import, which breaks under a patched clock.
        return time.time()
