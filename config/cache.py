"""The Redis cache backend, with one client object per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` around the shared pool for every cache call.
Building one costs more CPU than the round trip it makes (a report filing makes three cache calls: the SMS
throttle and the findings debounce), and a ``redis.Redis`` is safe to share between threads, so each pool keeps
one.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
