"""CrmClient against small CRMs on loopback: URLs, retries, limits, errors, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integration_bridge import ServerError, throw_and_delegate_error
from integration_bridge.helpers import (
    MAX_ERROR_BODY,
    RETRY_COUNT_HEADER,
    CrmClient,
    CrmRequestError,
    HttpError,
    RateLimiter,
    RetryDecision,
    RetryPolicy,
)


class FakeCrm:
    """Records every request; answers what the test queued (else 200 with the path)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.answers: list[web.Response] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            (request.method, request.raw_path, request.headers.get(RETRY_COUNT_HEADER))
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.answers:
            return self.answers.pop(0)
        return web.json_response(
            {"path": request.raw_path, "auth": request.headers.get("Authorization")}
        )


@pytest.fixture
async def crm(aiohttp_server: Any) -> AsyncIterator[tuple[FakeCrm, str]]:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = await aiohttp_server(app)
    yield fake, str(server.make_url("/api/v1"))


async def test_segments_are_quoted_under_the_base_url(crm: tuple[FakeCrm, str]) -> None:
    _, base = crm
    async with CrmClient(base, headers={"Authorization": "Bearer t"}) as client:
        response = await client.get("contacts", "a/b?c=1#x", params={"q": "1 2"})
    assert response.json()["path"] == "/api/v1/contacts/a%2Fb%3Fc%3D1%23x?q=1+2"
    assert response.json()["auth"] == "Bearer t"


async def test_the_base_url_can_come_with_each_call(crm: tuple[FakeCrm, str]) -> None:
    fake, base = crm
    async with CrmClient() as client:
        response = await client.put("people", 7, base_url=base, json={"a": 1})
    assert fake.seen == [("PUT", "/api/v1/people/7", "0")]
    assert response.status == 200


async def test_retryable_statuses_are_retried_with_a_count(crm: tuple[FakeCrm, str]) -> None:
    fake, base = crm
    fake.answers = [web.Response(status=503), web.Response(status=408)]
    async with CrmClient(base, retry=RetryPolicy(base_delay=0.0)) as client:
        response = await client.get("x")
    assert response.status == 200
    assert [count for *_, count in fake.seen] == ["0", "1", "2"]


async def test_http_error_keeps_status_and_a_bounded_body(crm: tuple[FakeCrm, str]) -> None:
    fake, base = crm
    fake.answers = [web.json_response({"message": "Contact already exists"}, status=409)]
    async with CrmClient(base) as client:
        with pytest.raises(HttpError) as info:
            await client.post("contacts", json={})
        assert info.value.status == 409
        assert info.value.json() == {"message": "Contact already exists"}
        assert len(fake.seen) == 1  # 409 is not worth another try

        fake.answers = [web.Response(status=400, text="x" * (MAX_ERROR_BODY * 3))]
        with pytest.raises(HttpError) as big:
            await client.get("contacts")
    assert big.value.body == "x" * MAX_ERROR_BODY
    with pytest.raises(ServerError) as mapped:
        throw_and_delegate_error(info.value, "createContact", "key")
    assert mapped.value.status == 452
    assert mapped.value.message == "entity/error/conflict"


@pytest.mark.parametrize("base_url", ["", None])
async def test_a_missing_base_url_is_not_sent_and_says_why(base_url: str | None) -> None:
    attempts: list[BaseException] = []

    def decide(error: BaseException, retries: int) -> RetryDecision:
        attempts.append(error)
        return RetryDecision(True, 0.0)

    async with CrmClient(retry=decide) as client:
        with pytest.raises(CrmRequestError) as info:
            await client.get("api", "v1", "contacts", "people", base_url=base_url)
    assert attempts == []
    assert "x-provider-url" in str(info.value)
    with pytest.raises(ServerError) as mapped:
        throw_and_delegate_error(info.value, "getContacts", "key")
    assert mapped.value.message == (
        "An internal error occurred: No CRM URL to call: the base URL is empty "
        "(is the x-provider-url header set?)"
    )


async def test_a_relative_or_odd_base_url_is_refused() -> None:
    async with CrmClient() as client:
        for base in ("/api/v1", "crm.example.com/api", "ftp://crm.example.com"):
            with pytest.raises(CrmRequestError, match="needs http"):
                await client.get("x", base_url=base)
        with pytest.raises(CrmRequestError, match="not absolute"):
            await client.get(url="/next?page=2")


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_a_refused_tls_certificate_is_not_retried(tmp_path: Path) -> None:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=_self_signed(tmp_path))
    decisions: list[RetryDecision] = []
    policy = RetryPolicy(base_delay=0.0)

    def decide(error: BaseException, retries: int) -> RetryDecision:
        decisions.append(policy(error, retries))
        return decisions[-1]

    try:
        async with CrmClient(f"https://127.0.0.1:{server.port}", retry=decide) as client:
            with pytest.raises(CrmRequestError) as info:
                await client.get("contacts")
    finally:
        await server.close()
    assert decisions == [RetryDecision(False)]
    assert fake.seen == []
    assert str(info.value).startswith("The TLS connection to 127.0.0.1 was refused (")
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)


async def test_no_redirect_to_another_host(crm: tuple[FakeCrm, str], aiohttp_server: Any) -> None:
    fake, base = crm
    fake.answers = [web.Response(status=302, headers={"Location": f"{base}/elsewhere"})]
    other = FakeCrm()
    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", other.handle)
    other_server = await aiohttp_server(other_app)
    async with CrmClient(base) as client:
        response = await client.get("here")  # same host: followed
        assert response.json()["path"] == "/api/v1/elsewhere"
        fake.answers = [
            web.Response(status=302, headers={"Location": str(other_server.make_url("/steal"))})
        ]
        with pytest.raises(HttpError) as info:
            await client.get("here")
    assert info.value.status == 302
    assert other.seen == []


async def test_every_attempt_waits_for_the_rate_limit_of_its_key(crm: tuple[FakeCrm, str]) -> None:
    fake, base = crm
    waited: list[str] = []

    class CountingLimiter(RateLimiter):
        async def wait(self, key: str = "") -> None:
            waited.append(key)
            await super().wait(key)

    fake.answers = [web.Response(status=429)]
    limiter = CountingLimiter(100, 1.0)
    async with CrmClient(base, rate_limit=limiter, retry=RetryPolicy(base_delay=0.0)) as client:
        await client.get("a", key="user-1")
        await client.get("b", key="user-2")
    assert waited == ["user-1", "user-1", "user-2"]


async def test_every_attempt_is_bounded_by_the_timeout(crm: tuple[FakeCrm, str]) -> None:
    fake, base = crm
    fake.delay = 2.0
    policy = RetryPolicy(max_retries=1, base_delay=0.0)
    async with CrmClient(base, timeout=0.1, retry=policy) as client:
        with pytest.raises(TimeoutError):
            await client.get("slow")
    assert len(fake.seen) == 2


async def test_a_session_of_the_bridge_is_used_and_left_open(crm: tuple[FakeCrm, str]) -> None:
    _, base = crm
    async with aiohttp.ClientSession() as session:
        client = CrmClient(base, session=session)
        await client.get("x")
        await client.close()
        assert not session.closed
