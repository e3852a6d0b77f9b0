"""The fake CRM builder of the test kit, over real HTTP on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp

from integration_bridge.testing import FakeCrm

BEARER = {"Authorization": "Bearer tok-1"}


async def get(crm: FakeCrm, path: str, **kwargs: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with aiohttp.ClientSession() as session, session.get(crm.url + path, **kwargs) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body, r


async def test_fixed_and_handler_routes_with_path_params(fake_crm: FakeCrm) -> None:
    fake_crm.route("GET", "/api/me", {"accountId": "acme"})

    async def one(request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"id": request.match_info["id"]})

    fake_crm.route("GET", "/api/things/{id}", one)
    assert (await get(fake_crm, "/api/me", headers=BEARER))[:2] == (200, {"accountId": "acme"})
    assert (await get(fake_crm, "/api/things/42", headers=BEARER))[1] == {"id": "42"}
    assert (await get(fake_crm, "/api/things/42/x", headers=BEARER))[0] == 404
    assert (await get(fake_crm, "/api/nothing", headers=BEARER))[0] == 404
    assert fake_crm.requests[0].path == "/api/me"
    assert fake_crm.requests[0].token == "tok-1"


async def test_bearer_tokens(fake_crm: FakeCrm) -> None:
    fake_crm.route("GET", "/api/me", {"ok": True})
    fake_crm.route("GET", "/public", "hello", auth=False)
    assert (await get(fake_crm, "/api/me"))[0] == 401
    assert (await get(fake_crm, "/api/me", headers={"Authorization": "Bearer invalid"}))[0] == 401
    assert (await get(fake_crm, "/public"))[:2] == (200, "hello")
    fake_crm.revoke("tok-1")
    assert (await get(fake_crm, "/api/me", headers=BEARER))[0] == 401
    assert (await get(fake_crm, "/api/me", headers={"Authorization": "Bearer t2"}))[0] == 200
    async with FakeCrm(accepted_tokens={"good"}) as strict:
        strict.route("GET", "/api/me", {"ok": True})
        assert (await get(strict, "/api/me", headers=BEARER))[0] == 401
        assert (await get(strict, "/api/me", headers={"Authorization": "Bearer good"}))[0] == 200


async def test_page_style_paging_per_token(fake_crm: FakeCrm) -> None:
    fake_crm.paged("/api/contacts", lambda token: [{"id": f"{token}-{i}"} for i in range(5)])
    status, body, _ = await get(fake_crm, "/api/contacts?page=0&pageSize=2", headers=BEARER)
    assert status == 200
    assert body == {"items": [{"id": "tok-1-0"}, {"id": "tok-1-1"}], "nextPage": 1}
    _, body, _ = await get(fake_crm, "/api/contacts?page=2&pageSize=2", headers=BEARER)
    assert body == {"items": [{"id": "tok-1-4"}], "nextPage": None}
    _, body, _ = await get(fake_crm, "/api/contacts?page=1&pageSize=3", headers=BEARER)
    assert body == {"items": [{"id": "tok-1-3"}, {"id": "tok-1-4"}], "nextPage": None}
    assert (await get(fake_crm, "/api/contacts?page=x", headers=BEARER))[0] == 400
    assert (await get(fake_crm, "/api/contacts?pageSize=0", headers=BEARER))[0] == 400


async def test_cursor_style_paging(fake_crm: FakeCrm) -> None:
    fake_crm.paged("/crm/v3/objects/contacts", [{"id": str(i)} for i in range(3)], style="cursor")
    _, body, _ = await get(fake_crm, "/crm/v3/objects/contacts?limit=2", headers=BEARER)
    assert body == {"results": [{"id": "0"}, {"id": "1"}], "paging": {"next": {"after": "2"}}}
    _, body, _ = await get(fake_crm, "/crm/v3/objects/contacts?limit=2&after=2", headers=BEARER)
    assert body == {"results": [{"id": "2"}]}


async def test_collection_crud_is_kept_per_token(fake_crm: FakeCrm) -> None:
    fake_crm.collection("/api/contacts", [{"id": "1", "name": "Ada"}])
    async with aiohttp.ClientSession(base_url=fake_crm.url, headers=BEARER) as s:
        async with s.post("/api/contacts", json={"name": "Grace"}) as r:
            assert r.status == 201
            created = await r.json()
        async with s.put(f"/api/contacts/{created['id']}", json={"name": "G."}) as r:
            assert (await r.json()) == {"name": "G.", "id": created["id"]}
        async with s.get("/api/contacts") as r:
            assert [c["name"] for c in (await r.json())["items"]] == ["Ada", "G."]
        async with s.delete("/api/contacts/1") as r:
            assert r.status == 204
        async with s.get("/api/contacts/1") as r:
            assert r.status == 404
        async with s.post("/api/contacts", data=b"[1]") as r:
            assert r.status == 400
    assert list(fake_crm.stores["/api/contacts"]["tok-1"]) == [created["id"]]
    # Another token starts from the initial rows.
    other = {"Authorization": "Bearer tok-2"}
    _, body, _ = await get(fake_crm, "/api/contacts/1", headers=other)
    assert body == {"id": "1", "name": "Ada"}


async def test_injected_failures(fake_crm: FakeCrm) -> None:
    fake_crm.route("GET", "/api/me", {"ok": True})
    fake_crm.route("GET", "/api/other", {"ok": True})
    fake_crm.fail(429, path="/api/me", times=2, retry_after=0.5)
    statuses = [(await get(fake_crm, "/api/me", headers=BEARER))[0] for _ in range(3)]
    assert statuses == [429, 429, 200]
    _, _, response = await get(fake_crm, "/api/me", headers=BEARER)
    fake_crm.fail(429, path="/api/me", times=1, retry_after=0.5)
    _, _, response = await get(fake_crm, "/api/me", headers=BEARER)
    assert response.headers["Retry-After"] == "0.5"
    fake_crm.fail(503, every=3, method="GET")
    statuses = [(await get(fake_crm, "/api/other", headers=BEARER))[0] for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    fake_crm.failures.clear()
    fake_crm.fail(500, path="/api/{name}", times=None)
    assert (await get(fake_crm, "/api/x", headers=BEARER))[0] == 500
    assert (await get(fake_crm, "/api/y", headers=BEARER))[0] == 500


async def test_oauth2_authorization_server(fake_crm: FakeCrm) -> None:
    fake_crm.oauth2(client_id="cid", client_secret="sec")
    fake_crm.route("GET", "/api/me", {"ok": True})
    async with aiohttp.ClientSession() as s:
        params = {
            "client_id": "cid",
            "redirect_uri": "http://bridge/oauth2/token",
            "response_type": "code",
            "state": "xyz",
        }
        async with s.get(fake_crm.authorize_url, params=params, allow_redirects=False) as r:
            assert r.status == 302
            location = r.headers["Location"]
        assert location.startswith("http://bridge/oauth2/token?code=")
        code = location.split("code=")[1].split("&")[0]
        grant = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "cid",
            "client_secret": "sec",
            "redirect_uri": "http://bridge/oauth2/token",
        }
        async with s.post(fake_crm.token_url, data=grant) as r:
            tokens = await r.json()
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        async with s.post(fake_crm.token_url, json=grant) as r:  # a code works once
            assert r.status == 400
        refresh = {**grant, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        async with s.post(fake_crm.token_url, params=refresh) as r:
            assert r.status == 200
        async with s.post(fake_crm.token_url, json={**grant, "client_secret": "no"}) as r:
            assert r.status == 401
        assert fake_crm.token_requests == ["form", "json", "query", "json"]
        fake_crm.decline_consent()
        async with s.get(fake_crm.authorize_url, params=params, allow_redirects=False) as r:
            assert "error=access_denied" in r.headers["Location"]
        async with s.get(
            fake_crm.authorize_url, params={**params, "client_id": "x"}, allow_redirects=False
        ) as r:
            assert r.status == 400
    # Issued tokens are accepted, even when only listed tokens are.
    fake_crm.accepted_tokens = set()
    ok = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await get(fake_crm, "/api/me", headers=ok))[0] == 200
    assert (await get(fake_crm, "/api/me", headers=BEARER))[0] == 401
