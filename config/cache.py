"""The Redis cache backend, with one client object per connection pool and an atomic ``incr``.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` around the shared pool for every cache call.
Building one costs more CPU than the round trip it makes (a report filing makes three cache calls: the SMS
throttle and the findings debounce), and a ``redis.Redis`` is safe to share between threads, so each pool keeps
one.

Django's ``incr`` asks whether the key exists, then increments it: two round trips, and a counter that expires
between them comes back as a new key without an expiry. Here it is one server-side script.
"""

from django.core.cache.backends import redis

# INCRBY only an existing key (a missing one is the caller's ValueError, as in Django).
_INCR_EXISTING = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end"


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._incr_existing = None

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        if self._incr_existing is None:
            self._incr_existing = client.register_script(_INCR_EXISTING)
        value = self._incr_existing(keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
