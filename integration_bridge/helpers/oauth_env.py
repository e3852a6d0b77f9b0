"""The original's ``parseOAuthOptionsFromEnv``: a bridge's OAuth2 app settings from the env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from integration_bridge.settings import SettingsError

__all__ = ["OAuthOptions", "parse_oauth_options_from_env"]

_VARIABLES = {
    "app_id": "APP_ID",
    "app_secret": "APP_SECRET",
    "redirect_url": "APP_REDIRECT_URL",
    "api_url": "API_URL",
    "authorize_url": "APP_AUTHORIZE_URL",
    "access_token_url": "APP_ACCESSTOKEN_URL",
}


@dataclass(frozen=True)
class OAuthOptions:
    """A CRM app's OAuth2 settings (the secret never appears in a repr)."""

    app_id: str
    app_secret: str = field(repr=False)
    redirect_url: str
    api_url: str
    authorize_url: str
    access_token_url: str


def parse_oauth_options_from_env(environ: Mapping[str, str] | None = None) -> OAuthOptions:
    """Read ``APP_ID``, ``APP_SECRET``, ``APP_REDIRECT_URL``, ``API_URL``,
    ``APP_AUTHORIZE_URL`` and ``APP_ACCESSTOKEN_URL``.

    Args:
        environ: where to read them (default: the process environment).

    Raises:
        SettingsError: one line naming every variable that is missing or empty.
    """
    source = os.environ if environ is None else environ
    values = {name: source.get(variable, "").strip() for name, variable in _VARIABLES.items()}
    missing = [_VARIABLES[name] for name, value in values.items() if not value]
    if missing:
        raise SettingsError(", ".join(missing), "missing in the environment (OAuth2 options)")
    return OAuthOptions(**values)
