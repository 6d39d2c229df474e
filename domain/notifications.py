"""A message to the customer, queued once per key in the notification outbox
(`store.notifications`), which a sender (email, SMS) drains."""

from __future__ import annotations

from pydantic import BaseModel


class Notification(BaseModel):
    key: str  # the message is queued once per key, however often it is asked for
    order_id: str
    customer_id: str
    kind: str
    message: str
