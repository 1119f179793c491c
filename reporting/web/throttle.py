"""The API's SMS throttle on the pages too (``reporting.api.throttles.SmsThrottle``, the same per-user allowance):
a form whose POST can make SMS go out (opening an incident, adding a unit, raising figures, filing, opening from
or linking a signal) is refused with a 429 page once a user goes over ``THROTTLE_SMS_RATE``. GETs are free."""

from __future__ import annotations

import math
from functools import wraps

from django.shortcuts import render

from reporting.api.throttles import SmsThrottle


def sms_throttled(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and request.user.is_authenticated:
            throttle = SmsThrottle()
            if not throttle.allow_request(request, None):
                wait = math.ceil(throttle.wait() or 1)
                response = render(request, "web/throttled.html", {"wait": wait}, status=429)
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return wrapper
