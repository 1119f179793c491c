"""The SMS send rate (``SMS_RATE_PER_SECOND``) and the call rate (``VOICE_RATE_PER_SECOND``, key ``VOICE_KEY``: Twilio
counts calls per second apart from messages), each shared by every worker process.

A GCRA reservation in the broker's Redis: each send reserves the next free slot, ``1/rate`` seconds after the
previous one, in one atomic Lua call that reads Redis's own clock (so worker clocks never matter), then sleeps
until its slot. A batch reserves consecutive slots for all its messages in the same single call
(``reserve_many``) and each message waits for its own. With a non-Redis broker (the embedded filesystem
transport) each process limits itself, per key.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

KEY = "tracker:sms:rate"
VOICE_KEY = "tracker:voice:rate"

# KEYS[1]: the key; ARGV[1]: microseconds between sends; ARGV[2]: how many consecutive slots. Returns the
# microseconds to wait for the first reserved slot (the k-th is k intervals later).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local count = tonumber(ARGV[2] or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local ttl = math.floor((tat + interval * count - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval * count), 'PX', ttl)
return tat - now
"""

_local_lock = threading.Lock()
_local_next: dict[str, float] = {}
_clients: dict[str, object] = {}


def _redis_url() -> str | None:
    url = settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def _client(url: str):
    if url not in _clients:
        import redis

        client = redis.Redis.from_url(url)
        _clients[url] = (client, client.register_script(_RESERVE))
    return _clients[url]


def reserve(*, rate: float | None = None, key: str = KEY) -> float:
    """Reserve one send slot; returns the seconds to wait before sending (0 when the rate allows it now)."""
    return reserve_many(1, rate=rate, key=key)[0]


def reserve_many(count: int, *, rate: float | None = None, key: str = KEY) -> list[float]:
    """Reserve ``count`` consecutive send slots at once; returns, for each, the seconds to wait from now before
    sending (all 0 when the rate is unlimited)."""
    if count <= 0:
        return []
    rate = settings.SMS_RATE_PER_SECOND if rate is None else rate
    if rate <= 0:
        return [0.0] * count
    interval_us = int(1_000_000 / rate)
    url = _redis_url()
    if url:
        _, script = _client(url)
        first = max(0, int(script(keys=[key], args=[interval_us, count])))
    else:
        with _local_lock:
            now = time.monotonic()
            slot = max(_local_next.get(key, 0.0), now)
            _local_next[key] = slot + count * interval_us / 1_000_000
            first = int((slot - now) * 1_000_000)
    return [(first + k * interval_us) / 1_000_000 for k in range(count)]


def acquire(*, rate: float | None = None, key: str = KEY) -> float:
    """Block until this process may send one SMS (or, with ``key=VOICE_KEY`` and the call rate, place one call);
    returns the seconds waited."""
    wait = reserve(rate=rate, key=key)
    if wait > 0:
        time.sleep(wait)
    return wait


def acquire_call() -> float:
    """Block until this process may place one voice call (``VOICE_RATE_PER_SECOND``); returns the seconds waited."""
    return acquire(rate=settings.VOICE_RATE_PER_SECOND, key=VOICE_KEY)
