"""Who calls the API: the `Principal` an API key stands for, and `OMS_API_KEYS` parsed."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("operator", "customer", "carrier", "warehouse")


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: an operator, a carrier, a warehouse, or one customer."""

    role: str
    customer_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def parse_api_keys(value: str) -> dict[str, Principal]:
    """`key:role` or `key:customer:customer_id`, comma-separated (roles: `ROLES`)."""
    keys: dict[str, Principal] = {}
    # Errors name an entry by its position, never by its key.
    for number, raw in enumerate(filter(None, (part.strip() for part in value.split(","))), 1):
        parts = raw.split(":")
        if len(parts) == 2 and parts[1] in ROLES and parts[1] != "customer":
            keys[parts[0]] = Principal(parts[1])
        elif len(parts) == 3 and parts[1] == "customer" and parts[2]:
            keys[parts[0]] = Principal("customer", parts[2])
        else:
            raise ValueError(
                f"OMS_API_KEYS entry {number}: expected key:operator, key:carrier, "
                "key:warehouse or key:customer:<customer_id>"
            )
        if len(parts[0]) < 8:
            raise ValueError(f"OMS_API_KEYS entry {number}: keys need at least 8 characters")
    return keys
