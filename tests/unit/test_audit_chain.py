"""The chain's canonical bytes and links, and how the chainer steps over holes in status history ids."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.audit.chain import GENESIS, AuditEvent, canonical, link
from gateway.audit.chainer import AuditChainer
from gateway.documents.signing import GatewayKeys
from gateway.store.uow import UnitOfWorkFactory

AT = datetime(2026, 11, 28, 8, 0, 0, 5, tzinfo=UTC)


def test_canonical_bytes_are_fixed() -> None:
    event = AuditEvent(at=AT, kind="k", actor=None, subject="s", data={"b": 1, "a": [2, "é"]})
    assert canonical(3, event) == (
        b'{"actor":null,"at":"2026-11-28T08:00:00.000005Z","data":{"a":[2,"\xc3\xa9"],"b":1},'
        b'"kind":"k","seq":3,"subject":"s"}'
    )
    assert link(3, event, prev_hash=GENESIS) != link(4, event, prev_hash=GENESIS)  # renumbering shows


def _rows(*ids: int) -> list[tuple[int, str, str, datetime, str | None]]:
    return [(i, "d", "ROUTED", AT, None) for i in ids]


def test_the_chainer_waits_at_a_hole_then_steps_over_it() -> None:
    now = [100.0]
    chainer = AuditChainer(
        uow_factory=UnitOfWorkFactory(None),  # type: ignore[arg-type]  # not used here
        keys=GatewayKeys.ephemeral(),
        gap_grace_s=30,
        monotonic=lambda: now[0],
    )
    assert chainer._contiguous(_rows(1, 2, 4, 5), after=0) == (_rows(1, 2), [])
    assert chainer._contiguous(_rows(4, 5), after=2) == ([], [])  # 3 may still commit
    now[0] += 29
    assert chainer._contiguous(_rows(4, 5), after=2) == ([], [])
    now[0] += 1
    assert chainer._contiguous(_rows(4, 5, 7), after=2) == (_rows(4, 5), [(3, 3)])
