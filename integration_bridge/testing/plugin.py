"""pytest plugin of the test kit, registered through the ``pytest11`` entry point.

Installed with the framework, so a bridge's tests get these fixtures without
any import:

``fake_crm``
    a started `FakeCrm` on 127.0.0.1 (stopped after the test); add routes,
    collections, failures and OAuth2 to it in the test.
``bridge``
    a pytest-aiohttp test client of the whole bridge around ``bridge_adapter``,
    with the settings of ``bridge_settings``.
``bridge_adapter``
    the adapter under test. Name it once, in ``conftest.py``::

        bridge_adapter = adapter_fixture(MyBridge)

    or with ``bridge_adapter = "my_bridge:MyBridge"`` under
    ``[tool.pytest.ini_options]`` (the ``MODULE:ATTR`` form of the CLI).
``bridge_settings``
    `Settings` field overrides for ``bridge`` (default: none; the environment
    is never read).

The fixtures are async; pytest-asyncio (which pytest-aiohttp brings) runs them.
The plugin loads in every pytest run where the framework is installed; it
defines fixtures only, and ``-p no:integration_bridge`` turns it off.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, cast

import pytest

try:  # pytest-aiohttp brings pytest-asyncio; without it the plugin must still load
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - only in environments without pytest-asyncio
    async_fixture = pytest.fixture  # type: ignore[assignment]

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient

    from integration_bridge.adapter import Adapter
    from integration_bridge.testing.fake_crm import FakeCrm

__all__ = ["adapter_fixture"]

_INI = "bridge_adapter"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``bridge_adapter`` ini option."""
    parser.addini(_INI, "MODULE:ATTR of the bridge's Adapter for the bridge fixture", default="")


def _takes_an_argument(factory: Callable[..., Adapter]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def adapter_fixture(factory: Callable[[], Adapter] | Callable[[FakeCrm], Adapter]) -> Any:
    """A ``bridge_adapter`` fixture making a fresh adapter per test.

    Args:
        factory: an `Adapter` subclass or a function making one; a function
            with one required argument gets the test's started ``fake_crm``
            (to point the bridge at it and add the routes it uses).

    Returns:
        A pytest fixture; assign it to ``bridge_adapter`` in ``conftest.py``.
    """
    if _takes_an_argument(factory):
        with_crm = cast("Callable[[FakeCrm], Adapter]", factory)

        @pytest.fixture(name="bridge_adapter")
        def _bridge_adapter_on_crm(fake_crm: FakeCrm) -> Adapter:
            return with_crm(fake_crm)

        return _bridge_adapter_on_crm
    plain = cast("Callable[[], Adapter]", factory)

    @pytest.fixture(name="bridge_adapter")
    def _bridge_adapter() -> Adapter:
        return plain()

    return _bridge_adapter


@async_fixture
async def fake_crm() -> AsyncIterator[FakeCrm]:
    """A started fake CRM on 127.0.0.1, stopped after the test."""
    from integration_bridge.testing.fake_crm import FakeCrm

    async with FakeCrm() as crm:
        yield crm


@pytest.fixture
def bridge_adapter(request: pytest.FixtureRequest) -> Adapter:
    """The adapter under test, from the ``bridge_adapter`` ini option (override the fixture)."""
    from integration_bridge.cli import TargetError, load_adapter

    target = str(request.config.getini(_INI))
    if not target:
        raise pytest.UsageError(
            "the bridge fixture needs the adapter under test: put "
            "'bridge_adapter = adapter_fixture(MyBridge)' in conftest.py "
            "(from integration_bridge.testing import adapter_fixture), or "
            'bridge_adapter = "module:MyBridge" under [tool.pytest.ini_options]'
        )
    try:
        return load_adapter(target)
    except TargetError as error:
        raise pytest.UsageError(f"bridge_adapter = {target!r}: {error}") from None


@pytest.fixture
def bridge_settings() -> dict[str, Any]:
    """`Settings` overrides for the ``bridge`` fixture (override to change)."""
    return {}


@async_fixture
async def bridge(
    aiohttp_client: Any, bridge_adapter: Adapter, bridge_settings: dict[str, Any]
) -> TestClient[Any, Any]:
    """A test client of the whole bridge (routes, middlewares, caches, local publisher)."""
    from integration_bridge.testing.client import bridge_client

    return await bridge_client(aiohttp_client, bridge_adapter, **bridge_settings)
