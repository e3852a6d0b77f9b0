"""The OAuth2 authorization-code flow for bridges, with CSRF protection.

`OAuth2Client.authorize_url` builds the CRM's authorize URL with a random
numeric nonce inside a JSON ``state`` (nonce, access token URL, API URL) and
sets a signed, Secure, SameSite=None, short-lived nonce cookie on the answer.
`OAuth2Client.handle_callback` refuses an ``error`` parameter, a missing
``state`` or ``code`` and (unless told not to) a missing or different nonce
cookie, then exchanges the code for tokens — parameters in the query string,
as a form or as JSON — and returns `OAuth2Credentials`. `OAuth2Client.refresh`
refreshes a token the same three ways. Failures are ``ServerError(500, ...)``
whose messages never contain a secret.

Beyond the original, the ``state`` also carries a signature over its fields:
a callback whose state was not issued by this client is refused, so that
neither its API URL nor its nonce can be made up by someone else.

Wire it into an adapter::

    oauth = OAuth2Client(client_id=..., client_secret=..., authorize_url_base=...,
                         token_url=..., redirect_uri=..., api_url=..., cookie_secret=...)

    class MyBridge(Adapter):
        async def get_oauth2_redirect_url(self, request, response):
            return oauth.authorize_url(response)

        async def handle_oauth2_callback(self, request, response):
            return await oauth.handle_callback(request, response)
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import orjson
from aiohttp import web
from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner

from integration_bridge.errors import ServerError, TokenRefreshError
from integration_bridge.models import OAuth2Credentials
from integration_bridge.settings import SettingsError

__all__ = [
    "COOKIE_SECRET_VARIABLE",
    "MIN_COOKIE_SECRET_BYTES",
    "OAuth2Client",
    "TokenExchangeStyle",
    "TokenSet",
    "default_api_key",
    "split_api_key",
]

_STATE_FIELDS = ("nonce", "accessTokenUrl", "apiUrl")
_log = logging.getLogger("integration_bridge.oauth2")

COOKIE_SECRET_VARIABLE = "OAUTH2_COOKIE_SECRET"
"""The environment variable `OAuth2Client` reads its ``cookie_secret`` from when given none."""

MIN_COOKIE_SECRET_BYTES = 32
"""`OAuth2Client` refuses a shorter ``cookie_secret``: anyone could forge its signatures."""
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")


_REASON_FIELDS = ("status", "error", "error_description", "message")
_REASON_TEXT = re.compile(r"[^\w .,:;()/'-]")


def _refusal_reason(status: int, body: bytes) -> str:
    """Why a token endpoint refused, from its own fields (bounded, printable, never the body)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    parts = [f"status {status}"]
    if isinstance(data, dict):
        for name in _REASON_FIELDS:
            value = data.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                parts.append(f"{name}={_REASON_TEXT.sub('?', str(value))[:200]}")
    return ", ".join(parts)


def _oauth_error_code(body: bytes) -> str | None:
    """RFC 6749's ``error`` code of a refusal (``invalid_grant``); nothing else of the body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None


class TokenExchangeStyle(Enum):
    """How the token endpoint wants its parameters."""

    QUERY = "query"
    FORM = "form"
    JSON = "json"
    ORIGINAL_BODY = "original-body"
    """The original's ``BODY`` style, for bridges moving over: the code exchange
    sends ``{"params": {...}, "headers": {...}}`` as JSON (what its token
    endpoints were written against), a refresh the parameters as plain JSON."""


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered."""

    access_token: str
    refresh_token: str | None = None
    expires_in: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        hidden = "***" if self.refresh_token else None
        return f"TokenSet(expires_in={self.expires_in!r}, refresh_token={hidden})"


def default_api_key(tokens: TokenSet) -> str:
    """``<access token>:<refresh token>``, or the access token alone."""
    if tokens.refresh_token:
        return f"{tokens.access_token}:{tokens.refresh_token}"
    return tokens.access_token


def split_api_key(api_key: str) -> tuple[str, str | None]:
    """The access and refresh token of a key made by `default_api_key`.

    ``"acc:ref"`` gives ``("acc", "ref")``; a key without ``:`` gives ``(key, None)``.
    """
    access, separator, refresh = api_key.partition(":")
    return access, (refresh or None) if separator else None


@dataclass
class OAuth2Client:
    """One CRM's OAuth2 settings and the flow on top of them.

    Attributes:
        client_id: the bridge's client id at the CRM.
        client_secret: its client secret; sent only to ``token_url``, never
            logged or put into an error message.
        authorize_url_base: the CRM's authorize endpoint; the flow's
            parameters are appended to its query.
        token_url: the CRM's token endpoint (code exchange and refresh).
        redirect_uri: where the CRM sends the browser back to, usually the
            bridge's ``/oauth2/callback`` (or ``/oauth2/token``).
        cookie_secret: signs the nonce cookie and the ``state``; the same on
            every replica, long and random, at least 32 bytes (the original
            used the client secret). Empty: read from the ``OAUTH2_COOKIE_SECRET``
            environment variable; missing there too is a start-up error.
        api_url: the CRM API URL handed out with the credentials; can be set
            per login with ``authorize_url(..., api_url=...)``.
        scopes: sent as ``scope``, joined by ``scope_separator``; none when empty.
        scope_separator: ``" "`` per RFC 6749; some CRMs want ``","``.
        exchange_style: how the token endpoint wants its parameters: in the
            query string, as a form (RFC 6749, the default) or as JSON (the
            original's default).
        extra_headers: sent with every token request (e.g. ``Authorization:
            Basic ...`` for CRMs that want client credentials there).
        extra_authorize_params: added to the authorize URL (e.g.
            ``{"access_type": "offline", "prompt": "consent"}``).
        cookie_name: the nonce cookie's name.
        cookie_max_age: seconds the nonce cookie (and so a login) stays valid.
        api_key_from_tokens: makes the provider key from the tokens;
            `default_api_key` gives ``<access token>:<refresh token>``.
        timeout: seconds for one token request when no session is passed.
        check_nonce: refuse a callback without the nonce cookie of the browser
            that started the login (CSRF); `handle_callback` may override it per
            call. Off only for front ends that cannot send the cookie (the
            original did not check by default).
        accept_unsigned_state: accept a ``state`` without a signature, as the
            original issued it, for logins started on a TypeScript bridge
            before the move (a state with a wrong signature is still refused).
            Its API URL is then trusted as sent: turn it off once moved.
    """

    client_id: str
    client_secret: str
    authorize_url_base: str
    token_url: str
    redirect_uri: str
    cookie_secret: str = ""
    api_url: str = ""
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    exchange_style: TokenExchangeStyle = TokenExchangeStyle.FORM
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    cookie_name: str = "oauth_nonce"
    cookie_max_age: int = 600
    api_key_from_tokens: Callable[[TokenSet], str] = default_api_key
    timeout: float = 15.0
    check_nonce: bool = True
    accept_unsigned_state: bool = False

    def __post_init__(self) -> None:
        if not self.cookie_secret:
            self.cookie_secret = os.environ.get(COOKIE_SECRET_VARIABLE, "")
            if not self.cookie_secret:
                raise SettingsError(
                    COOKIE_SECRET_VARIABLE,
                    "missing: OAuth2Client needs a cookie secret (at least"
                    f" {MIN_COOKIE_SECRET_BYTES} random bytes, the same on every replica;"
                    " e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')",
                )
        if len(self.cookie_secret.encode()) < MIN_COOKIE_SECRET_BYTES:
            raise ValueError(
                f"OAuth2Client: cookie_secret must be at least {MIN_COOKIE_SECRET_BYTES} bytes"
                " (it signs the login state and nonce cookie; use a long random secret)"
            )

    def __repr__(self) -> str:
        return f"OAuth2Client(client_id={self.client_id!r}, token_url={self.token_url!r})"

    @property
    def _signer(self) -> TimestampSigner:
        return TimestampSigner(self.cookie_secret, salt="integration-bridge-oauth2-nonce")

    @property
    def _state_signer(self) -> Signer:
        return Signer(
            self.cookie_secret, salt="integration-bridge-oauth2-state", digest_method=sha256
        )

    @staticmethod
    def _state_payload(state: Mapping[str, Any]) -> bytes | None:
        fields = {name: state.get(name) for name in _STATE_FIELDS}
        if not all(isinstance(value, str) for value in fields.values()):
            return None
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)

    def _verified_state(self, state: Mapping[str, Any]) -> None:
        """Refuse a state this client did not issue (its API URL would be trusted)."""
        payload = self._state_payload(state)
        signature = state.get("signature")
        if signature is None and self.accept_unsigned_state and payload is not None:
            return  # a login the original started (see accept_unsigned_state)
        if (
            payload is None
            or not isinstance(signature, str)
            or not self._state_signer.verify_signature(payload, signature)
        ):
            raise ServerError(401, "OAuth2 callback with a state this bridge did not issue")

    def authorize_url(self, response: web.StreamResponse, *, api_url: str | None = None) -> str:
        """The CRM's authorize URL; sets the signed nonce cookie on ``response``.

        Args:
            response: the answer to ``GET /oauth2/redirect`` (the adapter's
                ``response`` argument); the cookie is Secure, HttpOnly,
                SameSite=None and lives ``cookie_max_age`` seconds.
            api_url: the API URL for this login (default: ``api_url``).

        Returns:
            ``authorize_url_base`` with ``client_id``, ``redirect_uri``,
            ``response_type=code``, ``state`` (JSON: nonce, accessTokenUrl,
            apiUrl, signature), ``scope`` and ``extra_authorize_params``.
        """
        nonce = str(secrets.randbelow(10**16)).zfill(16)
        fields = {
            "nonce": nonce,
            "accessTokenUrl": self.token_url,
            "apiUrl": api_url or self.api_url,
        }
        payload = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        signature = self._state_signer.get_signature(payload).decode()
        state = orjson.dumps({**fields, "signature": signature}).decode()
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "state": state,
            **self.extra_authorize_params,
        }
        if self.scopes:
            params["scope"] = self.scope_separator.join(self.scopes)
        response.set_cookie(
            self.cookie_name,
            self._signer.sign(nonce).decode(),
            max_age=self.cookie_max_age,
            secure=True,
            httponly=True,
            samesite="None",
            path="/",
        )
        separator = "&" if "?" in self.authorize_url_base else "?"
        return f"{self.authorize_url_base}{separator}{urlencode(params)}"

    def _check_nonce(self, request: web.Request, nonce: Any) -> None:
        cookie = request.cookies.get(self.cookie_name)
        if not cookie:
            raise ServerError(401, "OAuth2 callback without nonce cookie: possible CSRF")
        try:
            signed = self._signer.unsign(cookie, max_age=self.cookie_max_age).decode()
        except SignatureExpired:
            raise ServerError(401, "OAuth2 nonce cookie expired") from None
        except BadSignature:
            raise ServerError(401, "OAuth2 nonce cookie is forged: possible CSRF") from None
        if not isinstance(nonce, str) or not secrets.compare_digest(signed, nonce):
            raise ServerError(401, "OAuth2 nonce mismatch: possible CSRF")

    async def handle_callback(
        self,
        request: web.Request,
        response: web.StreamResponse | None = None,
        *,
        check_nonce: bool | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> OAuth2Credentials:
        """Check the callback and exchange its code for credentials.

        Args:
            request: the callback request (``code`` and ``state`` in its query).
            response: the answer the framework sends; the nonce cookie is
                cleared on it.
            check_nonce: refuse a callback without the nonce cookie of the
                browser that started the login (CSRF); default: the client's
                ``check_nonce``. The front end must then send cookies with its
                request to ``/oauth2/redirect``; the original did not check by
                default.
            session: the client session for the token request (default: a
                short-lived one).

        Returns:
            ``OAuth2Credentials`` with ``api_key_from_tokens(tokens)`` and the
            state's API URL.

        Raises:
            ServerError: 400 for a missing ``state`` or ``code`` or a malformed
                state; 401 for a state this client did not issue or a nonce
                cookie that is missing, expired, forged or does not match; 403
                for an ``error`` parameter or a code the CRM refuses; 500 when
                the token endpoint cannot be reached or answers nonsense.
        """
        query = request.query
        if "error" in query:
            description = query.get("error_description", "")
            detail = f" ({_REASON_TEXT.sub('?', description)[:200]})" if description else ""
            error = _REASON_TEXT.sub("?", query["error"])[:100]
            raise ServerError(403, f"OAuth2 authorization failed: {error}{detail}")
        raw_state, code = query.get("state"), query.get("code")
        if not raw_state:
            raise ServerError(400, "OAuth2 callback without state")
        if not code:
            raise ServerError(400, "OAuth2 callback without code")
        try:
            state = orjson.loads(raw_state)
        except orjson.JSONDecodeError:
            raise ServerError(400, "OAuth2 callback with malformed state") from None
        if not isinstance(state, dict):
            raise ServerError(400, "OAuth2 callback with malformed state")
        self._verified_state(state)
        if self.check_nonce if check_nonce is None else check_nonce:
            self._check_nonce(request, state.get("nonce"))
        if response is not None:
            # Deleted with the attributes it was set with, or browsers keep it.
            response.del_cookie(
                self.cookie_name, path="/", secure=True, httponly=True, samesite="None"
            )
        tokens = await self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri},
            session,
            refused_status=403,  # a used, expired or made-up code: the login's fault
            wrapped=self.exchange_style is TokenExchangeStyle.ORIGINAL_BODY,
        )
        return OAuth2Credentials(
            api_key=self.api_key_from_tokens(tokens), api_url=state["apiUrl"] or self.api_url
        )

    async def refresh(
        self, refresh_token: str, *, session: aiohttp.ClientSession | None = None
    ) -> TokenSet:
        """New tokens for a refresh token (sent in ``exchange_style``).

        Args:
            refresh_token: the refresh token, e.g. from `split_api_key`.
            session: the client session (default: a short-lived one).

        Returns:
            The new tokens; the old refresh token is kept when the CRM sends none.

        Raises:
            TokenRefreshError: the provider refused (a 4xx: the refresh token
                was revoked or expired, the user must log in again); its
                ``reason`` holds the provider's ``status``, ``error``,
                ``error_description`` and ``message``. It answers 452
                ``integration/refresh-error``.
            ServerError: 500 when the token endpoint cannot be reached or
                answers nonsense or a 5xx.
        """
        try:
            tokens = await self._token_request(
                {"grant_type": "refresh_token", "refresh_token": refresh_token},
                session,
                refusal=TokenRefreshError,
            )
        except TokenRefreshError as error:
            _log.warning("[OAuth2] Token refresh refused: %s", error.reason)
            raise
        if tokens.refresh_token is None:  # many CRMs keep the old refresh token valid
            tokens = TokenSet(tokens.access_token, refresh_token, tokens.expires_in, tokens.raw)
        return tokens

    async def _token_request(
        self,
        params: dict[str, str],
        session: aiohttp.ClientSession | None,
        *,
        refused_status: int = 500,
        refusal: type[TokenRefreshError] | None = None,
        wrapped: bool = False,
    ) -> TokenSet:
        params = {**params, "client_id": self.client_id, "client_secret": self.client_secret}
        headers = {"Accept": "application/json", **self.extra_headers}
        kwargs: dict[str, Any] = {"headers": headers}
        if self.exchange_style is TokenExchangeStyle.QUERY:
            kwargs["params"] = params
        elif wrapped:
            kwargs["json"] = {"params": params, "headers": dict(self.extra_headers)}
        elif self.exchange_style in (TokenExchangeStyle.JSON, TokenExchangeStyle.ORIGINAL_BODY):
            kwargs["json"] = params
        else:
            kwargs["data"] = params
        own = session is None
        client = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            # Never followed: a 307/308 would send the code and client secret elsewhere.
            async with client.post(self.token_url, allow_redirects=False, **kwargs) as answer:
                status = answer.status
                body = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServerError(500, f"OAuth2 token request failed: {type(error).__name__}") from None
        finally:
            if own:
                await client.close()
        if 300 <= status < 400:
            raise ServerError(500, f"OAuth2 token endpoint answered a redirect ({status})")
        if refusal is not None and 400 <= status < 500:
            raise refusal(_refusal_reason(status, body), status)
        if status >= 400:
            reason = _oauth_error_code(body)
            detail = f" ({reason})" if reason else ""
            # 400 is RFC 6749's answer to a bad grant (a used or made-up code); 401
            # means this bridge's client credentials are wrong: that is ours to fix.
            raise ServerError(
                refused_status if status == 400 else 500,
                f"OAuth2 token request refused with status {status}{detail}",
            )
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            # A few CRMs (GitHub's classic endpoint) answer with a form.
            data = dict(parse_qsl(body.decode("utf-8", "replace")))
            if not data:
                raise ServerError(500, "OAuth2 token answer is not JSON") from None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            raise ServerError(500, "OAuth2 token answer without access_token")
        refresh = data.get("refresh_token")
        expires = data.get("expires_in")
        return TokenSet(
            access,
            refresh if isinstance(refresh, str) else None,
            int(expires)
            if isinstance(expires, int | float | str) and str(expires).isdigit()
            else None,
            data,
        )
