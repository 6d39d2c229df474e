"""The card-number detector (api/middleware/card_numbers.py): Luhn, separators, and what it
must leave alone (order ids, SKUs, UUIDs, timestamps, amounts)."""

from __future__ import annotations

import logging
import secrets

import pytest

from api.middleware.card_numbers import (
    card_spans,
    contains_card_number,
    find_card_numbers,
    is_card_number,
    luhn_valid,
    redact,
)
from api.middleware.request_guard import CardNumberFilter, card_number_errors
from api.orders import new_order_id

pytestmark = pytest.mark.security

# Test numbers the networks publish (they pass Luhn).
VISA = "4111111111111111"
VISA_13 = "4222222222222"
MASTERCARD = "5555555555554444"
MASTERCARD_2 = "2223003122003222"
AMEX = "378282246310005"
DISCOVER = "6011111111111117"
MAESTRO = "6759649826438453"


@pytest.mark.parametrize(
    "digits", [VISA, VISA_13, MASTERCARD, MASTERCARD_2, AMEX, DISCOVER, MAESTRO]
)
def test_known_test_numbers_are_card_numbers(digits: str) -> None:
    assert luhn_valid(digits)
    assert is_card_number(digits)
    assert contains_card_number(digits)


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("")
    assert not luhn_valid("4111-1111")


def test_length_bounds() -> None:
    assert not is_card_number("411111111116")  # 12 digits, Luhn-valid
    assert is_card_number("4000000000006")  # 13
    assert is_card_number("4000000000000000006")  # 19
    assert not is_card_number("40000000000000000000")  # 20 digits
    assert not contains_card_number("4" + "0" * 19 + "6")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",
        "card: 4111111111111111, exp 12/30",
        "my card is 5555-5555-5555-4444.",
        "tok_4111111111111111",
        "ref 12 4111 1111 1111 1111 thanks",  # a short number before it
        '{"nested": "4111111111111111"}',
    ],
)
def test_separators_and_surroundings(text: str) -> None:
    assert contains_card_number(text)
    assert "1111 1111" not in redact(text) and VISA not in redact(text)
    assert "card number removed" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "ord_0123456789abcdef",
        "ord_4111111111111111abc",  # glued to letters: an id, not a card
        "TSHIRT-BLK-M",
        "SKU-000123",
        "550e8400-e29b-41d4-a716-446655440000",
        "4a716446-6554-4000-8111-111111111111",
        "2026-11-24T10:00:00Z",
        "2026-11-24 10:00:00.123456+00:00",
        "1764000000",  # epoch seconds
        "1764000000000",  # epoch milliseconds
        "1764000000123",
        "12345",
        "9000 USD",
        "+1 555 123 4567",
        "4111111111111112",  # Luhn fails
        "0000000000000000",  # no issuer starts with 0
        "1Z999AA10123456784",  # a UPS tracking number
        "ord_e4fa4970fff58193-1",
        "tok_visa",
    ],
)
def test_not_card_numbers(text: str) -> None:
    assert not contains_card_number(text), list(card_spans(text))
    assert redact(text) == text


def test_amounts_and_ids_in_a_document_are_left_alone() -> None:
    order = {
        "customer_id": "cus_alice",
        "lines": [{"sku": "MUG-CERAMIC", "quantity": 1000}],
        "payment": {"token": "tok_visa"},
        "amount_minor": 999_999_999_999,
        "placed_at": "2026-11-24T10:00:00Z",
        "flow_version": 2,
        "ok": True,
        "none": None,
        "ratio": 4111111111111111.0,
    }
    assert find_card_numbers(order) == []


def test_find_card_numbers_names_each_path() -> None:
    document = {
        "payment": {"token": VISA},
        "shipping_address": {"line2": "4111 1111 1111 1111"},
        "lines": [{"sku": "A"}, {"sku": "B", "note": f"pay with {MASTERCARD}"}],
        "amount_minor": int(AMEX),
        MASTERCARD: "a key",
    }
    assert find_card_numbers(document) == [
        ("payment", "token"),
        ("shipping_address", "line2"),
        ("lines", 1, "note"),
        ("amount_minor",),
        (),  # a key that is a card number names the object, not itself
    ]
    assert find_card_numbers([VISA, "x"]) == [(0,)]
    assert find_card_numbers(VISA) == [()]
    assert find_card_numbers(True) == []


def test_request_errors_for_query_and_body_never_echo_the_number() -> None:
    scope = {"query_string": f"customer_id={VISA}&{MASTERCARD}=1&limit=5".encode()}
    errors = card_number_errors(scope, b'{"payment": {"token": "4111-1111-1111-1111"}}')
    assert [error["loc"] for error in errors] == [
        ["query", "customer_id"],
        ["query"],
        ["body", "payment", "token"],
    ]
    assert all(error["type"] == "value_error" for error in errors)
    assert all("card number" in error["msg"] for error in errors)
    assert VISA not in str(errors) and MASTERCARD not in str(errors)
    assert "1111-1111" not in str(errors)
    # A body that is not JSON is scanned as text.
    assert [e["loc"] for e in card_number_errors({}, f"card {VISA}".encode())] == [["body"]]
    assert card_number_errors({"query_string": b"limit=50"}, b'{"note": "fine"}') == []


def test_log_filter_masks_card_numbers_in_uvicorn_style_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/orders?customer_id={VISA}", "1.1", 422),
        None,
    )
    assert CardNumberFilter().filter(record)
    assert VISA not in record.getMessage()
    assert record.args[4] == 422 and record.args[1] == "GET"


def test_order_ids_never_pass_for_card_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # A draw of hex that is all digits and Luhn-valid would be a card number: the API would
    # refuse every request carrying the id, the order's own carrier events among them.
    draws = iter(["4111111111111111", "5500005555555559", "41111111111111a1"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(draws))
    assert contains_card_number("ord_4111111111111111-1")
    order_id = new_order_id()
    assert order_id == "ord_41111111111111a1"
    for carried in (order_id, f"{order_id}-1", f"{order_id}-12", f"event {order_id}-1-shipped"):
        assert not contains_card_number(carried), carried
