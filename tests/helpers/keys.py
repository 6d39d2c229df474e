"""The API keys every test stack accepts, one per role (`Settings.api_keys`)."""

from __future__ import annotations

OPERATOR_KEY = "test-operator-key"
CUSTOMER_KEY = "test-customer-key"
OTHER_CUSTOMER_KEY = "test-other-customer-key"
CARRIER_KEY = "test-carrier-key"
WAREHOUSE_KEY = "test-warehouse-key"
API_KEYS = (
    f"{OPERATOR_KEY}:operator,{CUSTOMER_KEY}:customer:cus_alice,"
    f"{OTHER_CUSTOMER_KEY}:customer:cus_bob,{CARRIER_KEY}:carrier,{WAREHOUSE_KEY}:warehouse"
)
