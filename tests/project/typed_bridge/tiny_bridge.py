"""A tiny bridge outside the framework's tree: `mypy --strict` must resolve the framework."""

from __future__ import annotations

from integration_bridge import Adapter, Config, Contact, CrmClient, PhoneNumber


class TinyBridge(Adapter):
    """One contact from a CRM."""

    def __init__(self) -> None:
        self.crm = CrmClient()

    async def get_contacts(self, config: Config) -> list[Contact]:
        response = await self.crm.get("contacts", base_url=config.api_url, key=config.api_key)
        number: str = response.json()["phone"]
        return [Contact(id="1", phone_numbers=[PhoneNumber(label="WORK", phone_number=number)])]


def account_id_length(bridge: TinyBridge, config: Config) -> int:
    """A deliberate use of the framework's types that mypy checks."""
    return len(config.api_key) + len(bridge.implements("get_contacts") * "x")
