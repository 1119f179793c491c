"""Throttling for the endpoints that can make SMS go out (incidents, added units, reports)."""

from rest_framework.throttling import UserRateThrottle


class SmsThrottle(UserRateThrottle):
    """Per user, at the ``sms`` rate of DEFAULT_THROTTLE_RATES (THROTTLE_SMS_RATE)."""

    scope = "sms"
