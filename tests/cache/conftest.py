"""Redis fixtures for the cache tests."""

from tests.redis_server import own_redis, redis_server, redis_url

__all__ = ["own_redis", "redis_server", "redis_url"]
