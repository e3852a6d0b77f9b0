"""The OAuth token cache: single flight, the pending marker, failures, prefixes."""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from integration_bridge import (
    Adapter,
    Config,
    Settings,
    create_app,
    get_fresh_access_token,
    runtime,
    update_provider_key,
)
from integration_bridge.appkeys import STORAGE, TOKEN_CACHE
from integration_bridge.cache.redis import RedisStorage
from integration_bridge.cache.storage import Blob, MemoryStorage
from integration_bridge.cache.token import TokenCache
from integration_bridge.helpers import TokenSet
from integration_bridge.testing.redis_server import RedisServer
from tests.support import USER_HEADERS, headers_with

CONFIG = Config(user_id="u1", api_key="provider-key-1")


class Refresher:
    def __init__(self, delay: float = 0.05, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self, config: Config) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("refresh failed")
        return f"token-{self.calls}"


@pytest.fixture
async def redis_storage(redis_url: str) -> AsyncIterator[RedisStorage]:
    store = RedisStorage(redis_url)
    yield store
    await store.close()


async def test_concurrent_callers_share_one_refresh() -> None:
    cache = TokenCache(MemoryStorage())
    refresh = Refresher()
    tokens = await asyncio.gather(*(cache.get(CONFIG, refresh) for _ in range(50)))
    assert set(tokens) == {"token-1"} and refresh.calls == 1
    assert await cache.get(CONFIG, refresh) == "token-1"
    assert refresh.calls == 1


async def test_force_refreshes() -> None:
    cache = TokenCache(MemoryStorage())
    refresh = Refresher(0)
    await cache.get(CONFIG, refresh)
    assert await cache.get(CONFIG, refresh, force=True) == "token-2"
    assert await cache.get(CONFIG, refresh) == "token-2"


async def test_failure_clears_the_marker_and_the_next_caller_retries() -> None:
    storage = MemoryStorage()
    cache = TokenCache(storage)
    failing = Refresher(fail=True)
    with pytest.raises(RuntimeError):
        await cache.get(CONFIG, failing)
    assert await storage.get(cache.key(CONFIG.api_key)) is None
    assert await cache.get(CONFIG, Refresher(0)) == "token-1"


async def test_two_processes_on_one_redis_refresh_once(redis_url: str) -> None:
    stores = [RedisStorage(redis_url) for _ in range(2)]
    try:
        caches = [TokenCache(store, prefix="AUTH:bridge", poll_interval=0.01) for store in stores]
        refreshers = [Refresher(0.2), Refresher(0.2)]
        tokens = await asyncio.gather(
            *(caches[i % 2].get(CONFIG, refreshers[i % 2]) for i in range(20))
        )
        assert sum(r.calls for r in refreshers) == 1
        assert len(set(tokens)) == 1
    finally:
        for store in stores:
            await store.close()


async def test_the_pending_marker_lives_only_seconds(
    redis_storage: RedisStorage, redis_server: RedisServer
) -> None:
    cache = TokenCache(redis_storage, prefix="AUTH:bridge", ttl=3540, pending_ttl=5)
    seen: list[int] = []

    async def refresh(config: Config) -> str:
        with redis_server.client() as client:  # the marker, while the refresh runs
            seen.append(client.ttl("AUTH:bridge:provider-key-1"))
        return "token-1"

    assert await cache.get(CONFIG, refresh) == "token-1"
    assert len(seen) == 1 and 0 < seen[0] <= 5  # a crashed refresher blocks nobody long


async def test_entry_format_and_ttl(redis_storage: RedisStorage, redis_server: RedisServer) -> None:
    cache = TokenCache(redis_storage, prefix="AUTH:bridge", ttl=3540)
    await cache.get(CONFIG, Refresher(0))
    with redis_server.client() as client:
        raw = client.get("AUTH:bridge:provider-key-1")
        assert raw is not None
        assert orjson.loads(zlib.decompress(base64.b64decode(raw))) == {
            "accessToken": "token-1",
            "isPending": False,
        }
        assert 3530 <= client.ttl("AUTH:bridge:provider-key-1") <= 3540


async def test_stale_pending_marker_expires(redis_storage: RedisStorage) -> None:
    cache = TokenCache(redis_storage, pending_ttl=0.5, poll_interval=0.02)
    marker = Blob.of({"accessToken": None, "isPending": True})
    await redis_storage.set(cache.key(CONFIG.api_key), marker, ttl=1)  # a dead process's marker
    refresh = Refresher(0)
    token = await asyncio.wait_for(cache.get(CONFIG, refresh), timeout=5)
    assert token == "token-1" and refresh.calls == 1


async def test_waiters_read_the_token_of_another_process(redis_storage: RedisStorage) -> None:
    cache = TokenCache(redis_storage, poll_interval=0.02)
    key = cache.key(CONFIG.api_key)
    await redis_storage.set(key, Blob.of({"accessToken": None, "isPending": True}), ttl=5)

    async def other_process_finishes() -> None:
        await asyncio.sleep(0.2)
        await redis_storage.set(key, Blob.of({"accessToken": "theirs", "isPending": False}))

    refresh = Refresher(0)
    token, _ = await asyncio.gather(cache.get(CONFIG, refresh), other_process_finishes())
    assert token == "theirs" and refresh.calls == 0


async def test_storage_outage_still_returns_a_token(own_redis: RedisServer) -> None:
    store = RedisStorage(own_redis.url, timeout=0.2)
    try:
        own_redis.stop()
        cache = TokenCache(store)
        assert await cache.get(CONFIG, Refresher(0)) == "token-1"
    finally:
        await store.close()


async def test_a_forced_call_does_not_join_a_plain_lookup() -> None:
    storage = MemoryStorage()
    cache = TokenCache(storage)
    await cache.store(CONFIG.api_key, "rejected")
    refresh = Refresher(0.01)
    plain, forced, forced_too = await asyncio.gather(
        cache.get(CONFIG, refresh),
        cache.get(CONFIG, refresh, force=True),
        cache.get(CONFIG, refresh, force=True),
    )
    assert (plain, forced, forced_too) == ("rejected", "token-1", "token-1")
    assert refresh.calls == 1


async def test_an_entry_without_token_or_marker_is_refreshed_at_once() -> None:
    storage = MemoryStorage()
    cache = TokenCache(storage)
    key = cache.key(CONFIG.api_key)
    await storage.set(key, Blob.of({"accessToken": None, "isPending": False}))
    started = time.monotonic()
    assert await cache.get(CONFIG, Refresher(0)) == "token-1"
    assert time.monotonic() - started < 0.5


async def test_an_unreadable_redis_entry_is_replaced_quickly(
    redis_storage: RedisStorage, redis_server: RedisServer
) -> None:
    cache = TokenCache(redis_storage, prefix="AUTH:bridge")
    with redis_server.client() as client:
        client.set("AUTH:bridge:provider-key-1", "not base64 zlib", ex=3600)
    started = time.monotonic()
    assert await cache.get(CONFIG, Refresher(0)) == "token-1"
    assert time.monotonic() - started < 1.0
    assert await cache.get(CONFIG, Refresher(0)) == "token-1"  # stored over it


async def test_reads_a_token_the_original_wrote(
    redis_storage: RedisStorage, redis_server: RedisServer
) -> None:
    entry = {"accessToken": "from-typescript", "isPending": False, "refreshToken": "r"}
    with redis_server.client() as client:
        client.set(
            "AUTH:bridge:provider-key-1",
            base64.b64encode(zlib.compress(orjson.dumps(entry))),
            ex=3540,
        )
    refresh = Refresher(0)
    cache = TokenCache(redis_storage, prefix="AUTH:bridge")
    assert await cache.get(CONFIG, refresh) == "from-typescript"
    assert refresh.calls == 0


async def test_failure_on_redis_clears_the_marker(
    redis_storage: RedisStorage, redis_server: RedisServer
) -> None:
    cache = TokenCache(redis_storage, prefix="AUTH:bridge")
    with pytest.raises(RuntimeError):
        await cache.get(CONFIG, Refresher(fail=True))
    with redis_server.client() as client:
        assert client.exists("AUTH:bridge:provider-key-1") == 0


async def test_inactive_cache_refreshes_every_time_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(None)
    refresh = Refresher(0)
    with caplog.at_level("WARNING", logger="integration_bridge.token"):
        tokens = [await cache.get(CONFIG, refresh) for _ in range(3)]
    assert tokens == ["token-1", "token-2", "token-3"]
    assert len(caplog.records) == 1


async def test_without_a_running_app_the_functions_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "_last_started", None)
    refresh = Refresher(0)
    with pytest.raises(RuntimeError, match=r"^get_fresh_access_token needs a running bridge app"):
        await get_fresh_access_token(CONFIG, refresh)
    with pytest.raises(RuntimeError, match=r"^update_provider_key needs a running bridge app"):
        await update_provider_key(CONFIG, "moved", "provider-key-2")
    assert refresh.calls == 0


class TokenBridge(Adapter):
    def __init__(self) -> None:
        self.refresh = Refresher()

    async def get_account_id(self, config: Config) -> str:
        return await get_fresh_access_token(config, self.refresh)


async def test_module_function_uses_the_apps_cache(aiohttp_client: Any) -> None:
    bridge = TokenBridge()
    app = create_app(bridge, settings=Settings(oauth2_redirect_url="https://x.example/done"))
    client = await aiohttp_client(app)
    responses = await asyncio.gather(
        *(client.get("/account/id", headers=USER_HEADERS) for _ in range(10))
    )
    assert {await r.json() for r in responses} == {"token-1"}
    assert bridge.refresh.calls == 1


async def test_update_provider_key_stores_the_token_under_the_new_key(
    aiohttp_client: Any,
) -> None:
    class MovingBridge(TokenBridge):
        async def get_account_id(self, config: Config) -> str:
            await update_provider_key(config, "moved-token", "provider-key-2")
            moved = Config(user_id=config.user_id, api_key="provider-key-2")
            return await get_fresh_access_token(moved, self.refresh)

    bridge = MovingBridge()
    app = create_app(bridge, settings=Settings(oauth2_redirect_url="https://x.example/done"))
    client = await aiohttp_client(app)
    assert await (await client.get("/account/id", headers=USER_HEADERS)).json() == "moved-token"
    assert bridge.refresh.calls == 0


async def test_without_oauth2_tokens_are_cached_in_process(aiohttp_client: Any) -> None:
    bridge = TokenBridge()
    app = create_app(bridge, settings=Settings())
    client = await aiohttp_client(app)
    for _ in range(3):
        assert await (await client.get("/account/id", headers=USER_HEADERS)).json() == "token-1"
    assert bridge.refresh.calls == 1
    assert app[TOKEN_CACHE].storage is not app[STORAGE]  # never in the shared store
    other = headers_with(api_key="another-key-0123456789")
    assert await (await client.get("/account/id", headers=other)).json() == "token-2"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("result", "kept"),
    [
        (("tok", 1800), 1740.0),  # HubSpot: 1,800 s minus the 60 s margin
        (TokenSet(access_token="tok", expires_in=1800), 1740.0),
        (("tok", 100), 50.0),  # the margin is at most half the lifetime
        (("tok", 86_400), 3540.0),  # never longer than TOKEN_CACHE_TTL
        (("tok", None), 3540.0),
        ("tok", 3540.0),
    ],
)
async def test_a_token_is_kept_no_longer_than_its_lifetime_minus_a_margin(
    result: Any, kept: float
) -> None:
    clock = Clock()
    cache = TokenCache(MemoryStorage(clock=clock), ttl=3540.0)
    calls = 0

    async def refresh(config: Config) -> Any:
        nonlocal calls
        calls += 1
        return result

    assert await cache.get(CONFIG, refresh) == "tok"
    clock.now += kept - 1
    await cache.get(CONFIG, refresh)
    assert calls == 1
    clock.now += 2
    await cache.get(CONFIG, refresh)
    assert calls == 2


async def test_a_token_about_to_expire_is_not_kept() -> None:
    cache = TokenCache(MemoryStorage())
    calls = 0

    async def refresh(config: Config) -> tuple[str, int]:
        nonlocal calls
        calls += 1
        return f"tok-{calls}", 0

    assert await cache.get(CONFIG, refresh) == "tok-1"
    assert await cache.get(CONFIG, refresh) == "tok-2"


async def test_the_lifetime_sets_the_redis_ttl(
    redis_storage: RedisStorage, redis_server: RedisServer
) -> None:
    cache = TokenCache(redis_storage, prefix="AUTH:bridge")

    async def refresh(config: Config) -> tuple[str, int]:
        return "tok", 1800

    await cache.get(CONFIG, refresh)
    with redis_server.client() as client:
        assert 1735 <= client.ttl("AUTH:bridge:provider-key-1") <= 1740


async def test_a_refresh_result_of_another_shape_is_refused_clearly() -> None:
    cache = TokenCache(MemoryStorage())

    async def refresh(config: Config) -> Any:
        return {"access_token": "tok"}

    with pytest.raises(TypeError, match=r"^refresh_fn must return the access token, "):
        await cache.get(CONFIG, refresh)


def test_redis_with_oauth_needs_integration_name(redis_url: str) -> None:
    from integration_bridge import SettingsError

    with pytest.raises(SettingsError) as info:
        create_app(
            TokenBridge(),
            settings=Settings(redis_url=redis_url, oauth2_redirect_url="https://x.example/done"),
        )
    assert info.value.variable == "INTEGRATION_NAME"
