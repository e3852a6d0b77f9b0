"""The Redis store: the original encoding, TTLs, atomic guards, outages, TLS; GET /contacts
on a shared Redis."""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integration_bridge import Adapter, Config, Settings, SettingsError, create_app
from integration_bridge.cache.redis import RedisStorage, decode_value, encode_value
from integration_bridge.cache.storage import Blob, StorageUnavailable
from integration_bridge.testing.redis_server import RedisServer, free_port
from tests.support import API_KEY, USER_HEADERS, headers_with, wire_contact

# Written the original way: base64(zlib.deflate(JSON.stringify(value))).
ORIGINAL_LIST = "eJyLrlbKTFGyUjJU0lHKS8xNBTIdUxIVfPLLUnMSk1OBogUZ+XmpfqW5SalFxUpW0bG1sQCbnxCp"
ORIGINAL_LIST_JSON = b'[{"id":"1","name":"Ada Lovelace","phoneNumbers":[]}]'
ORIGINAL_STATE = "eJyrViouSSxJVbJScnZ09nB1UdJRKsnMTQUK5hYoWRmaGyBALQAqZwxq"


@pytest.fixture
async def storage(redis_url: str) -> AsyncIterator[RedisStorage]:
    store = RedisStorage(redis_url, timeout=0.5, backoff=0.2)
    yield store
    await store.close()


def test_encoding_matches_the_original_byte_for_byte() -> None:
    assert encode_value(ORIGINAL_LIST_JSON).decode() == ORIGINAL_LIST
    blob = decode_value(ORIGINAL_STATE)
    assert blob.value() == {"state": "CACHED", "timestamp": 1700000000000}


@pytest.mark.parametrize("level", [1, 6, 9])
def test_any_compression_level_decodes_and_gzip_is_derived(level: int) -> None:
    raw = base64.b64encode(zlib.compress(ORIGINAL_LIST_JSON, level))
    blob = decode_value(raw)
    assert blob.json == ORIGINAL_LIST_JSON
    assert gzip.decompress(blob.gzip) == ORIGINAL_LIST_JSON


def test_garbage_does_not_decode() -> None:
    with pytest.raises(ValueError):
        decode_value("not base64 zlib!")


async def test_reads_what_the_original_wrote(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set("key-1", ORIGINAL_LIST)
    blob = await storage.get("key-1")
    assert blob is not None and blob.json == ORIGINAL_LIST_JSON


async def test_writes_what_the_original_reads_with_ttl(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    await storage.set("key-2", Blob.of([{"id": "2"}]))
    await storage.set("short", Blob.of({"a": 1}), ttl=60)
    with redis_server.client() as client:
        raw = client.get("key-2")
        assert raw is not None
        assert orjson.loads(zlib.decompress(base64.b64decode(raw))) == [{"id": "2"}]
        assert 30 * 24 * 3600 - 5 <= client.ttl("key-2") <= 30 * 24 * 3600
        assert 55 <= client.ttl("short") <= 60


async def test_undecodable_entry_counts_as_absent(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set("bad", "%%%")
    assert await storage.get("bad") is None


async def test_add_is_set_if_absent(storage: RedisStorage, redis_server: RedisServer) -> None:
    results = await asyncio.gather(
        *(storage.add("guard", Blob.of({"n": n}), ttl=1800) for n in range(10))
    )
    assert results.count(True) == 1
    with redis_server.client() as client:
        assert 1790 <= client.ttl("guard") <= 1800


async def test_swap_replaces_only_the_value_read(storage: RedisStorage) -> None:
    await storage.set("state", Blob.of({"state": "CACHED", "timestamp": 1}))
    seen = await storage.get("state")
    assert seen is not None
    results = await asyncio.gather(
        *(
            storage.swap("state", seen, Blob.of({"state": "FETCHING", "n": n}), 1800)
            for n in range(5)
        )
    )
    assert results.count(True) == 1
    again = await storage.get("state")
    assert again is not None and again.value()["state"] == "FETCHING"


async def test_delete(storage: RedisStorage) -> None:
    await storage.set("gone", Blob.of(1))
    await storage.delete("gone")
    assert await storage.get("gone") is None


async def test_outage_fails_fast_and_recovers(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.3, backoff=0.2)
    try:
        await storage.set("k", Blob.of({"v": 1}))
        own_redis.stop()
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(StorageUnavailable):
                await storage.get("k")
        assert time.monotonic() - started < 2.0  # bounded, and mostly fail-fast
        own_redis.start()  # same port, empty (nothing is persisted)
        await asyncio.sleep(0.25)
        await storage.set("k", Blob.of({"v": 2}))
        blob = await storage.get("k")
        assert blob is not None and blob.value() == {"v": 2}
    finally:
        await storage.close()


async def test_large_values_are_decoded_once_until_they_change(
    storage: RedisStorage, redis_server: RedisServer
) -> None:
    big = [{"id": str(n), "name": f"Contact {n}", "n": n * 7919 % 1000} for n in range(2000)]
    await storage.set("list", Blob.of(big))
    first = await storage.get("list")
    again = await storage.get("list")
    assert first is not None and first is again  # same bytes in Redis: not decoded again
    changed = big[:-1]
    with redis_server.client() as client:
        client.set("list", encode_value(orjson.dumps(changed)))  # another replica wrote
    fresh = await storage.get("list")
    assert fresh is not None and fresh is not first and fresh.value() == changed
    with redis_server.client() as client:
        client.delete("list")
    assert await storage.get("list") is None


async def test_get_many_is_one_round_trip_in_order(storage: RedisStorage) -> None:
    await storage.set("a", Blob.of(1))
    await storage.set("c", Blob.of(3))
    values = await storage.get_many("a", "b", "c")
    assert [v.value() if v else None for v in values] == [1, None, 3]


async def test_hung_redis_costs_one_timeout_then_fails_fast(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.3, backoff=0.5)
    try:
        await storage.set("k", Blob.of(1))
        own_redis.pause()
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await storage.get("k")
        assert 0.25 <= time.monotonic() - started < 0.6
        assert not storage.available
        started = time.monotonic()
        for _ in range(50):
            with pytest.raises(StorageUnavailable):
                await storage.get("k")
        assert time.monotonic() - started < 0.1
        await asyncio.sleep(0.55)
        # Past the window one call probes (and waits); the others still fail fast.
        started = time.monotonic()
        results = await asyncio.gather(
            *(storage.get("k") for _ in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, StorageUnavailable) for r in results)
        assert time.monotonic() - started < 0.6
        own_redis.resume()
        await asyncio.sleep(0.55)
        blob = await storage.get("k")
        assert blob is not None and blob.value() == 1 and storage.available
    finally:
        own_redis.resume()
        await storage.close()


async def test_first_call_after_a_restart_reconnects(own_redis: RedisServer) -> None:
    storage = RedisStorage(own_redis.url, timeout=0.5)
    try:
        await storage.set("k", Blob.of(1))  # a pooled connection now exists
        own_redis.stop()
        own_redis.start()
        assert await storage.get("k") is None  # the restarted server is empty, no error
        assert storage.available
    finally:
        await storage.close()


async def test_outage_logs_are_rate_limited_and_keyless(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret_key = "provider-key-secret-123456789"
    storage = RedisStorage(own_redis.url, timeout=0.2, backoff=0)
    try:
        own_redis.stop()
        with caplog.at_level("INFO", logger="integration_bridge.redis"):
            for _ in range(30):
                with pytest.raises(StorageUnavailable):
                    await storage.set(secret_key, Blob.of({"accessToken": "token-secret"}))
            own_redis.start()
            await storage.set(secret_key, Blob.of(1))
        messages = [record.getMessage() for record in caplog.records]
        assert len(messages) == 2, messages  # one warning, one recovery line
        assert "failed" in messages[0] and "available again" in messages[1]
        assert not any("secret" in message for message in messages)
    finally:
        await storage.close()


# --- Redis over TLS with a password (Memorystore with in-transit encryption and AUTH).
#
# A private redis-server speaks TLS only (``--port 0``) with a certificate made
# here by a CA made here, requires a password for the default user and has an
# ACL user. The bridge serves the shared cache through it; its URL, which holds
# the password, never shows up in a log line or an error.


DEFAULT_PASSWORD = "Def4ult-Pa55word-7c1e"
ACL_USER = "bridge"
ACL_PASSWORD = "Acl-Pa55word-93b2"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1/localhost signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test redis CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = directory / "server.pem"
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "server.key"
    _write_key(key_file, server_key)
    return ca_file, cert_file, key_file


class TlsRedis:
    """A redis-server speaking TLS only, with a password and an ACL user."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_file, self.cert_file, self.key_file = make_certificates(directory)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(
        self, user: str = ACL_USER, password: str = ACL_PASSWORD, host: str = "127.0.0.1"
    ) -> str:
        return f"rediss://{user}:{password}@{host}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                str(self.cert_file),
                "--tls-key-file",
                str(self.key_file),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "no",
                "--requirepass",
                DEFAULT_PASSWORD,
                "--user",
                ACL_USER,
                "on",
                f">{ACL_PASSWORD}",
                "~*",
                "&*",
                "+@all",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        """A synchronous client for assertions, over TLS as the ACL user."""
        return redis.Redis.from_url(self.url(), ssl_ca_certs=str(self.ca_file), socket_timeout=1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    server = TlsRedis(tmp_path_factory.mktemp("tls-redis"))
    server.start()
    yield server
    server.stop()


class CountingAdapter(Adapter):
    def __init__(self) -> None:
        self.fetches = 0

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.fetches += 1
        return [{"id": str(self.fetches), "firstName": "Ada", "phoneNumbers": []}]


def bridge_settings(url: str, **changes: Any) -> Settings:
    return Settings(redis_url=url, redis_timeout=0.5, **changes)


@pytest.mark.parametrize(
    ("user", "password"), [(ACL_USER, ACL_PASSWORD), ("", DEFAULT_PASSWORD)], ids=["acl", "auth"]
)
async def test_replicas_share_the_cache_over_tls(
    aiohttp_client: Any, tls_redis: TlsRedis, user: str, password: str
) -> None:
    with tls_redis.client() as client:
        client.flushall()
    settings = bridge_settings(
        tls_redis.url(user, password), redis_tls_ca_file=str(tls_redis.ca_file)
    )
    first, second = CountingAdapter(), CountingAdapter()
    one = await aiohttp_client(create_app(first, settings=settings))
    two = await aiohttp_client(create_app(second, settings=settings))
    response = await one.get("/contacts", headers=USER_HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]
    response = await two.get("/contacts", headers=USER_HEADERS)
    assert [c["id"] for c in await response.json()] == ["1"]  # from Redis, not its own CRM
    assert (first.fetches, second.fetches) == (1, 0)
    with tls_redis.client() as client:
        assert client.exists(API_KEY)


def secrets_in(records: list[logging.LogRecord], *secrets: str) -> list[str]:
    text = [r.getMessage() + (r.exc_text or "") for r in records]
    return [line for line in text if any(secret in line for secret in secrets)]


@pytest.mark.parametrize(
    ("password", "with_ca"),
    [("Wr0ng-Pa55word-51fd", True), (ACL_PASSWORD, False)],
    ids=["wrong-password", "certificate-not-trusted"],
)
async def test_failures_never_reveal_the_url(
    aiohttp_client: Any,
    tls_redis: TlsRedis,
    caplog: pytest.LogCaptureFixture,
    password: str,
    with_ca: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = tls_redis.url(password=password)
    ca = str(tls_redis.ca_file) if with_ca else None  # without it the certificate is refused
    adapter = CountingAdapter()
    client = await aiohttp_client(
        create_app(adapter, settings=bridge_settings(url, redis_tls_ca_file=ca))
    )
    for _ in range(2):
        response = await client.get("/contacts", headers=USER_HEADERS)
        assert response.status == 200  # Redis failing falls through to the CRM
    assert adapter.fetches == 2
    assert any(r.name == "integration_bridge.redis" for r in caplog.records)
    assert secrets_in(caplog.records, password, url) == []


async def test_an_outage_never_reveals_the_url(
    aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = TlsRedis(tmp_path)
    server.start()
    caplog.set_level(logging.DEBUG)
    adapter = CountingAdapter()
    settings = bridge_settings(server.url(), redis_tls_ca_file=str(server.ca_file))
    client = await aiohttp_client(create_app(adapter, settings=settings))
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    server.stop()
    await asyncio.sleep(0.05)
    response = await client.get("/contacts", headers=headers_with(api_key="k2"))
    assert response.status == 200
    assert any(r.name == "integration_bridge.redis" for r in caplog.records)
    assert secrets_in(caplog.records, ACL_PASSWORD, server.url()) == []


def test_a_missing_ca_file_stops_start_up(tmp_path: Path) -> None:
    settings = bridge_settings(
        "rediss://:pw@127.0.0.1:6380/0", redis_tls_ca_file=str(tmp_path / "missing.pem")
    )
    with pytest.raises(SettingsError, match=r"^REDIS_TLS_CA_FILE: no such file"):
        create_app(CountingAdapter(), settings=settings)


def test_tls_settings_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "rediss://user:pw@10.0.0.3:6378/0",
            "REDIS_TLS_CA_FILE": "/etc/redis/server-ca.pem",
            "REDIS_TLS_CHECK_HOSTNAME": "false",
        }
    )
    assert settings.redis_tls_ca_file == "/etc/redis/server-ca.pem"
    assert settings.redis_tls_check_hostname is False
    assert "pw" not in repr(settings)


# --- GET /contacts on a shared Redis: compatibility, one fetch across replicas, outages.


KEY = API_KEY
ROOT = Path(__file__).resolve().parents[2]


def encode(value: Any) -> bytes:
    return base64.b64encode(zlib.compress(orjson.dumps(value)))


def decode(raw: bytes) -> Any:
    return orjson.loads(zlib.decompress(base64.b64decode(raw)))


class SlowAdapter(Adapter):
    def __init__(self, delay: float = 0.2) -> None:
        self.calls = 0
        self.delay = delay

    async def get_contacts(self, config: Config) -> list[dict[str, Any]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return [{"id": str(self.calls), "firstName": "Ada", "phoneNumbers": []}]


async def replica(
    aiohttp_client: Any, adapter: Adapter, url: str, **settings: Any
) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(adapter, settings=Settings(redis_url=url, redis_timeout=0.3, **settings))
    )
    return client


async def test_serves_entries_written_by_the_original(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    cached = [wire_contact("ts-1", name="From TypeScript")]
    with redis_server.client() as client:
        client.set(KEY, encode(cached))
        client.set(
            f"cache-state:{KEY}", encode({"state": "CACHED", "timestamp": int(time.time() * 1000)})
        )
    adapter = SlowAdapter()
    client = await replica(aiohttp_client, adapter, redis_url)
    response = await client.get("/contacts", headers=USER_HEADERS)
    assert await response.json() == cached
    await asyncio.sleep(0.05)
    assert adapter.calls == 0


async def test_what_we_write_decodes_the_original_way(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    client = await replica(aiohttp_client, SlowAdapter(0), redis_url)
    body = await (await client.get("/contacts", headers=USER_HEADERS)).json()
    with redis_server.client() as redis_client:
        assert decode(redis_client.get(KEY)) == body
        state = decode(redis_client.get(f"cache-state:{KEY}"))
        assert state["state"] == "CACHED"
        assert redis_client.ttl(KEY) > 29 * 24 * 3600


async def test_four_replicas_fetch_a_missing_key_once(aiohttp_client: Any, redis_url: str) -> None:
    adapters = [SlowAdapter() for _ in range(4)]
    clients = [await replica(aiohttp_client, a, redis_url) for a in adapters]
    responses = await asyncio.gather(
        *(c.get("/contacts", headers=USER_HEADERS) for c in clients for _ in range(3))
    )
    assert all(r.status == 200 for r in responses)
    assert sum(a.calls for a in adapters) == 1
    await asyncio.sleep(0.3)
    for c in clients:
        body = await (await c.get("/contacts", headers=USER_HEADERS)).json()
        assert [item["id"] for item in body] == ["1"]
    assert sum(a.calls for a in adapters) == 1


async def test_four_replicas_refresh_a_stale_key_once(
    aiohttp_client: Any, redis_url: str, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set(KEY, encode([{"id": "old", "phoneNumbers": []}]))
        client.set(f"cache-state:{KEY}", encode({"state": "CACHED", "timestamp": 1}))
    adapters = [SlowAdapter(0.05) for _ in range(4)]
    clients = [await replica(aiohttp_client, a, redis_url) for a in adapters]
    responses = await asyncio.gather(
        *(c.get("/contacts", headers=USER_HEADERS) for c in clients for _ in range(3))
    )
    bodies = [await r.json() for r in responses]
    assert all([item["id"] for item in body] == ["old"] for body in bodies)
    await asyncio.sleep(0.3)
    assert sum(a.calls for a in adapters) == 1


async def test_redis_outage_fails_no_request_and_recovers(
    aiohttp_client: Any, own_redis: RedisServer
) -> None:
    adapter = SlowAdapter(0)
    client = await replica(aiohttp_client, adapter, own_redis.url)
    statuses = []
    for round_ in range(30):
        if round_ == 5:
            own_redis.stop()
        if round_ == 20:
            own_redis.start()
            await asyncio.sleep(1.1)  # past the fail-fast window
        response = await client.get("/contacts", headers=USER_HEADERS)
        statuses.append(response.status)
        assert len(await response.json()) == 1
    assert statuses == [200] * 30
    calls_after_restart = adapter.calls
    with own_redis.client() as redis_client:
        assert redis_client.get(KEY) is not None  # written again after the restart
    await client.get("/contacts", headers=USER_HEADERS)
    assert adapter.calls == calls_after_restart  # and served from it


async def test_redis_killed_under_load_fails_no_request(
    aiohttp_client: Any, own_redis: RedisServer
) -> None:
    adapters = [SlowAdapter(0.01) for _ in range(2)]
    clients = [await replica(aiohttp_client, a, own_redis.url) for a in adapters]
    keys = [f"{KEY}-{n}" for n in range(5)]
    statuses: list[int] = []
    stop = asyncio.Event()

    async def user(client: TestClient[Any, Any], key: str) -> None:
        while not stop.is_set():
            headers = headers_with(api_key=key)
            response = await client.get("/contacts", headers=headers)
            statuses.append(response.status)
            await response.read()

    workers = [asyncio.create_task(user(c, k)) for c in clients for k in keys]
    try:
        await asyncio.sleep(0.3)
        own_redis.stop()
        await asyncio.sleep(0.8)
        own_redis.start()
        await asyncio.sleep(1.5)  # past the fail-fast window: written to Redis again
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert len(statuses) > 100
    assert set(statuses) == {200}
    with own_redis.client() as redis_client:
        assert all(redis_client.get(key) is not None for key in keys)


async def test_hung_redis_adds_bounded_latency(aiohttp_client: Any, own_redis: RedisServer) -> None:
    adapter = SlowAdapter(0)
    client = await replica(aiohttp_client, adapter, own_redis.url)
    assert (await client.get("/contacts", headers=USER_HEADERS)).status == 200
    own_redis.pause()
    try:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get("/contacts", headers=USER_HEADERS) for _ in range(20))
        )
        assert [r.status for r in responses] == [200] * 20
        assert [len(await r.json()) for r in responses] == [1] * 20
        assert time.monotonic() - started < 1.5  # one Redis timeout (0.3 s), not one each
    finally:
        own_redis.resume()


def test_four_processes_fetch_a_missing_or_stale_key_once(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        client.flushall()
    ports = [free_port() for _ in range(4)]
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "COUNTER_REDIS_URL": redis_server.url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PUBSUB_EMULATOR_HOST", None)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "integration_bridge",
                "run",
                "tests.cache.counting_bridge:CountingBridge",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    stale_key = f"{KEY}-stale"
    with redis_server.client() as client:
        client.set(stale_key, encode([{"id": "old", "phoneNumbers": []}]))
        client.set(f"cache-state:{stale_key}", encode({"state": "CACHED", "timestamp": 1}))
    try:
        for port in ports:
            wait_healthy(port)

        async def hammer(key: str) -> list[int]:
            loop = asyncio.get_running_loop()
            calls = [
                loop.run_in_executor(None, fetch_status, port, key)
                for port in ports
                for _ in range(4)
            ]
            return list(await asyncio.gather(*calls))

        assert asyncio.run(hammer(KEY)) == [200] * 16
        assert asyncio.run(hammer(stale_key)) == [200] * 16
        time.sleep(0.8)
        with redis_server.client() as client:
            assert int(client.get(f"fetches:{KEY}") or 0) == 1
            assert int(client.get(f"fetches:{stale_key}") or 0) == 1
            assert decode(client.get(stale_key))[0]["id"] == "1"  # refreshed list stored
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=15)


def fetch_status(port: int, key: str = KEY) -> int:
    headers = headers_with(api_key=key)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/contacts", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
