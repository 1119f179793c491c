"""Throttling for the endpoints that can make SMS go out (incidents, added units, reports).

DRF's ``UserRateThrottle`` keeps each user's request times as one list in the cache: read, append, write back.
Two web processes racing lose each other's entries, and the list grows with the rate. ``SmsThrottle`` counts
instead (a sliding-window counter): one atomic ``incr`` on the current window's counter, weighed with the previous
window's count by how much of it still overlaps the last ``duration`` seconds. Every web process shares the counts
through the cache (Redis in production, ``config.settings.base.CACHES``).

The throttle fails open: with the cache unreachable (Redis down) a request is let through and the failure logged.
Redis is also the broker, and a unit must still be able to file its report while it is down (the sweep chases
from the database once it is back); a limit on how often SMS can be triggered is not worth a 500 on a filing.
"""

import logging
import math
import time

from redis.exceptions import RedisError
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class SmsThrottle(UserRateThrottle):
    """Per user, at the ``sms`` rate of DEFAULT_THROTTLE_RATES (THROTTLE_SMS_RATE)."""

    scope = "sms"

    def timer(self) -> float:
        # Looked up at call time: DRF's ``timer = time.time`` class attribute binds whatever function was there at
        # import, which breaks under a patched clock.
        return time.time()

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            return self._allow()
        except RedisError:
            logger.exception("SMS throttle: the cache is unreachable, request of %s let through unthrottled", self.key)
            return True

    def _allow(self) -> bool:
        self.now = self.timer()
        window = math.floor(self.now / self.duration)
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        self.previous_count = self.cache.get(previous, 0)
        self.overlap = 1 - (self.now - window * self.duration) / self.duration
        count = self._incr(current)
        if self.previous_count * self.overlap + count > self.num_requests:
            self.cache.decr(current)  # a refused request does not use up the allowance
            self.current_count = count - 1
            return self.throttle_failure()
        return True

    def _incr(self, key: str) -> int:
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter expired)
            if self.cache.add(key, 1, timeout=2 * self.duration):
                return 1
            return self.cache.incr(key)

    def wait(self) -> float:
        """Seconds until one more request fits: the previous window's weight shrinks as time passes."""
        window_left = self.overlap * self.duration
        room = self.num_requests - self.current_count - 1  # what the previous window's weight must fall to
        if room < 0 or not self.previous_count:
            return window_left  # not before the next window, where this one's count is weighed in turn
        # previous * (overlap - t / duration) <= room
        return max(0.0, window_left - room * self.duration / self.previous_count)
