"""The faster path: ETA sweeps timed to the next due moments, so a step fires within milliseconds of its time
instead of waiting up to ``SWEEP_INTERVAL_SECONDS`` for beat.

Only an accelerator (SPEC: the sweep is the source of truth). Each beat sweep looks one window ahead on the index
``obligation_next_action_idx`` and schedules one ETA sweep per distinct moment, rounded up to ``SLOT``; a Redis
``SET NX`` per slot keeps two beats (or a beat and a wake sweep) from scheduling the same slot twice. A wake sweep
is an ordinary ``sweep_run``: ``SKIP LOCKED`` and the unique constraint make it harmless when it overlaps another.
A lost ETA task costs only latency: the next beat sweep does the work.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from reporting.models import Obligation

logger = logging.getLogger(__name__)

#: Moments this close together share one wake sweep. It also caps wake sweeps at 5 a second: during a burst every
#: sweep claims a whole batch, and more frequent sweeps would only spend the workers' CPU on their fixed cost.
SLOT = timedelta(milliseconds=200)
#: At most this many wake sweeps scheduled by one tick (a burst of distinct moments falls back to beat).
MAX_WAKEUPS = 200
KEY = "tracker:sweep:wake:{}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_client = None


def _redis():
    global _client
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if _client is None:
        import redis

        timeout = settings.REDIS_SOCKET_TIMEOUT_SECONDS
        _client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return _client


def slot_of(moment: datetime) -> datetime:
    """The wake time for a moment: rounded up to the next SLOT boundary (never before the moment)."""
    step = SLOT.total_seconds()
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / step) * step, tz=moment.tzinfo)


def wakeups_schedule(*, now: datetime, horizon: timedelta | None = None) -> int:
    """Schedule ETA sweeps for the moments due within ``horizon`` (default: two beat intervals) after ``now``.
    Returns how many were scheduled."""
    client = _redis()
    if client is None:
        return 0
    horizon = horizon or timedelta(seconds=2 * settings.SWEEP_INTERVAL_SECONDS)
    return _schedule_many(client, wakeup_slots(now=now, horizon=horizon), now=now)


def wakeup_slots(*, now: datetime, horizon: timedelta) -> list[datetime]:
    """The distinct slots (``slot_of``) of the moments due within ``horizon`` after ``now``, earliest first, at most
    ``MAX_WAKEUPS``. On PostgreSQL the database rounds them (in exact milliseconds), so a burst of 10,000 moments is
    200 numbers, not 10,000 datetimes rounded in Python by every sweep."""
    if connection.vendor == "postgresql":
        step = SLOT // timedelta(milliseconds=1)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT ceil(extract(epoch FROM next_action_at) * 1000 / %s) AS slot"
                " FROM reporting_obligation WHERE next_action_at > %s AND next_action_at <= %s ORDER BY slot LIMIT %s",
                [step, now, now + horizon, MAX_WAKEUPS],
            )
            return [_EPOCH + timedelta(milliseconds=int(slot) * step) for (slot,) in cursor.fetchall()]
    moments = (
        Obligation.objects.filter(next_action_at__gt=now, next_action_at__lte=now + horizon)
        .order_by("next_action_at")
        .values_list("next_action_at", flat=True)
        .distinct()[: MAX_WAKEUPS * 10]
    )
    return sorted({slot_of(m) for m in moments})[:MAX_WAKEUPS]


def wakeup_for(*, moment: datetime | None, now: datetime) -> bool:
    """One wake sweep for a single moment (an obligation just created or re-armed), when it falls within the
    look-ahead window; later moments are left to the beat sweeps' look-ahead."""
    client = _redis()
    if client is None or moment is None:
        return False
    if moment > now + timedelta(seconds=2 * settings.SWEEP_INTERVAL_SECONDS):
        return False
    return _schedule(client, slot_of(max(moment, now)), now=now)


def _schedule(client, slot: datetime, *, now: datetime) -> bool:
    """Schedule the wake sweep for ``slot`` unless one already is; False only when the broker is unreachable."""
    return _schedule_many(client, [slot], now=now) >= 0


def _schedule_many(client, slots: list[datetime], *, now: datetime) -> int:
    """Schedule a wake sweep for each slot not already taken (one Redis round trip for all the ``SET NX``).

    Returns how many were newly scheduled, or -1 when Redis or the broker is unreachable (beat sweeps anyway)."""
    from notifications.tasks import sweep

    if not slots:
        return 0
    try:
        pipe = client.pipeline(transaction=False)
        for slot in slots:
            ttl = max(int((slot - now).total_seconds()), 0) + 60
            pipe.set(KEY.format(int(slot.timestamp() * 1000)), 1, nx=True, ex=ttl)
        taken = pipe.execute()
        scheduled = 0
        for slot, fresh in zip(slots, taken, strict=True):
            if fresh:
                sweep.apply_async(eta=slot, expires=slot + timedelta(seconds=30))
                scheduled += 1
    except Exception:  # Redis or the broker is down: beat will sweep anyway
        logger.exception("could not schedule wake sweeps at %s", slots[0])
        return -1
    return scheduled
