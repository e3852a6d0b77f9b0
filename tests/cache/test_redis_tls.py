"""Redis over TLS with a password (Memorystore with in-transit encryption and AUTH).

A private redis-server speaks TLS only (``--port 0``) with a certificate made
here by a CA made here, requires a password for the default user and has an
ACL user. The bridge serves the shared cache through it; its URL, which holds
the password, never shows up in a log line or an error.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integration_bridge import Adapter, Config, Settings, SettingsError, create_app
from integration_bridge.testing.redis_server import free_port
from tests.support import USER_HEADERS

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
        assert client.exists(USER_HEADERS["x-provider-key"])


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
    response = await client.get("/contacts", headers={**USER_HEADERS, "x-provider-key": "k2"})
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
