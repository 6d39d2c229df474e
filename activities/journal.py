"""The journal append, run as a local activity so it costs no extra server round trip; it takes
the order's local-activity lane like every step (see
docs/decisions/0005-one-local-activity-at-a-time.md)."""

from __future__ import annotations

from temporalio import activity

from domain.events import JournalBatch
from store import journal
from store.db import Store


class JournalActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def append_events(self, batch: JournalBatch) -> None:
        await journal.append(self.store, batch.events, view=batch.view, notices=batch.notices)
