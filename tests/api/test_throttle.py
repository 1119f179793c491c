"""The SMS throttle: a sliding-window counter, atomic across processes (Redis), refused requests not counted."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from freezegun import freeze_time

from config.cache import RedisCache
from reporting.api.throttles import SmsThrottle

# Half a minute into a minute: the windows of a "/min" rate are the clock's minutes.
T0 = datetime(2026, 11, 28, 1, 0, 30, tzinfo=UTC)


def request_of(user_pk: int):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=user_pk))


def throttle(rate: str, cache=None) -> SmsThrottle:
    """A fresh instance per request, as DRF makes them."""
    t = SmsThrottle()
    t.rate = rate
    t.num_requests, t.duration = t.parse_rate(rate)
    if cache is not None:
        t.cache = cache
    return t


def allowed(rate: str, user_pk: int = 1, cache=None) -> tuple[bool, SmsThrottle]:
    t = throttle(rate, cache)
    return t.allow_request(request_of(user_pk), view=None), t


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_the_rate_is_per_user_and_a_refusal_says_how_long_to_wait():
    with freeze_time(T0):
        assert [allowed("2/min")[0] for _ in range(2)] == [True, True]
        ok, refused = allowed("2/min")
        assert not ok
        assert refused.wait() == pytest.approx(30.0)  # this minute's end; nothing in the previous one
        assert allowed("2/min", user_pk=2)[0]  # another user has their own allowance


def test_the_previous_window_counts_by_how_much_of_it_is_still_within_the_last_minute():
    with freeze_time(T0) as clock:
        assert [allowed("2/min")[0] for _ in range(2)] == [True, True]
        clock.tick(timedelta(seconds=60))  # next minute, halfway: the previous minute's 2 weigh 1
        assert allowed("2/min")[0]
        ok, refused = allowed("2/min")  # 1 + 2 > 2
        assert not ok
        assert refused.wait() == pytest.approx(30.0)  # when the previous minute's 2 weigh 0
        clock.tick(timedelta(seconds=20))  # they weigh 1/3 now: 1/3 + 1 + 1 > 2 still
        ok, refused = allowed("2/min")
        assert not ok and refused.wait() == pytest.approx(10.0)
        clock.tick(timedelta(seconds=10))  # a fresh minute: the previous one (1 request) weighs 1
        assert [allowed("2/min")[0] for _ in range(2)] == [True, False]


def test_a_refused_request_does_not_use_up_the_allowance():
    with freeze_time(T0) as clock:
        assert allowed("3/min")[0] and allowed("3/min")[0] and allowed("3/min")[0]
        assert [allowed("3/min")[0] for _ in range(5)] == [False] * 5
        clock.tick(timedelta(seconds=60))  # next minute, halfway: the 3 weigh 1.5, so one more fits
        ok, refused = allowed("3/min")
        assert [ok, allowed("3/min")[0]] == [True, False]


def test_concurrent_web_processes_share_one_exact_count_in_redis():
    """The limit holds exactly under concurrency (DRF's read-append-write list loses entries here)."""
    redis = RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"})
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def client():
        start.wait()
        mine = [allowed("60/hour", cache=redis)[0] for _ in range(25)]
        with lock:
            results.extend(mine)

    with freeze_time(T0):
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert (results.count(True), results.count(False)) == (60, 140)


def test_the_redis_cache_reuses_one_client_per_connection_pool():
    """Django's backend builds a client object for every call; ours keeps one per pool (clients are thread-safe)."""
    redis = RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": f"client-test-{uuid.uuid4().hex}"})
    client = redis._cache.get_client(write=True)
    assert redis._cache.get_client(write=False) is client
    assert redis.add("k", 1, timeout=5) and redis.incr("k") == 2 and redis.get("k") == 2


def test_incr_is_one_atomic_step_and_refuses_a_missing_key():
    redis = RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": f"incr-test-{uuid.uuid4().hex}"})
    with pytest.raises(ValueError, match="not found"):
        redis.incr("missing")
    assert redis.get("missing") is None  # not created by the refused increment
    redis.set("n", 5, timeout=60)
    assert (redis.incr("n", 3), redis.decr("n"), redis.get("n")) == (8, 7, 7)
    assert 0 < redis._cache.get_client().ttl(redis.make_key("n")) <= 60  # the expiry is kept
