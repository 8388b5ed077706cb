"""The dedupe store: outcomes recorded durably by routed ce_id, published marks, pruning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.dedupe import DedupeStore
from adapters.errors import StoreUnavailable
from adapters.records import OutgoingRecord

RECORD = OutgoingRecord(
    topic="tsw.responses",
    key=b"decl-1",
    value=b'{"status": "CLEARED"}',
    headers=(("ce_id", b"resp-1"), ("binary", bytes(range(256)))),
)


async def test_record_get_mark_survive_reopening(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "nested" / "dedupe.sqlite3")
    await store.open()
    await store.open()  # twice is fine
    try:
        assert await store.get("evt-1") is None
        await store.record(
            "evt-1", declaration_id="decl-1", outcome="response", response_id="resp-1", record=RECORD
        )
        handled = await store.get("evt-1")
        assert handled is not None
        assert (handled.outcome, handled.response_id, handled.published) == ("response", "resp-1", False)
        assert handled.record == RECORD
        await store.mark_published("evt-1")
    finally:
        await store.close()
        await store.close()

    reopened = DedupeStore(tmp_path / "nested" / "dedupe.sqlite3")
    await reopened.open()
    try:
        handled = await reopened.get("evt-1")
        assert handled is not None and handled.published
        assert handled.record == RECORD
    finally:
        await reopened.close()


async def test_the_first_outcome_wins(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "d.sqlite3")
    await store.open()
    try:
        await store.record("evt-1", declaration_id="d", outcome="response", response_id="r1", record=RECORD)
        other = OutgoingRecord(topic="tsw.dlq.customs", key=None, value=None, headers=())
        await store.record("evt-1", declaration_id="d", outcome="dead-letter", response_id=None, record=other)
        handled = await store.get("evt-1")
        assert handled is not None and handled.outcome == "response" and handled.record == RECORD
    finally:
        await store.close()


async def test_prune_forgets_only_old_published_events(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "d.sqlite3")
    await store.open()
    try:
        for event in ("published", "pending"):
            await store.record(event, declaration_id="d", outcome="response", response_id=None, record=RECORD)
        await store.mark_published("published")
        assert await store.prune(older_than=timedelta(days=1)) == 0
        assert await store.prune(older_than=timedelta(seconds=-1)) == 1
        assert await store.get("published") is None
        assert await store.get("pending") is not None
    finally:
        await store.close()


async def test_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "d.sqlite3")
    with pytest.raises(StoreUnavailable):
        await store.get("evt-1")


async def test_an_unwritable_location_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = DedupeStore(blocker / "d.sqlite3")
    with pytest.raises(StoreUnavailable):
        await store.open()
    await store.close()
