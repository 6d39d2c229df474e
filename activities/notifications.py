"""Notification activities: messages to customers go through the outbox, once per key."""

from __future__ import annotations

from temporalio import activity

from domain.notifications import Notification
from store import notifications
from store.db import Store


class NotificationActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def notify_customer(self, notification: Notification) -> bool:
        return await notifications.enqueue(self.store, notification)
