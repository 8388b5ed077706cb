"""A sustained submission load that outlives the faults a scenario injects.

`concurrency` keep-alive clients share a paced schedule (`rate` submissions per second for `seconds`,
an open loop: each submission is due at its own moment, whatever the answers), sending the shipped
example documents in rotation, each submission under an Idempotency-Key of its own.

What "accepted" means here: a declaration is accepted when the client has *read* a 202 naming its
id. A connection that breaks before the answer (the gateway killed mid-request, or refusing
connections while it restarts) leaves the client not knowing whether the gateway committed it, so the
client does what a careful trader must: it sends the same document again with the same
Idempotency-Key until it reads an answer. If the first attempt had been committed, the retry answers
202 with the *same* id (`Idempotent-Replayed: true`), so nothing is counted twice; if not, the retry
is the first submission. A 503 or 429 is retried the same way (after its Retry-After, capped at one
second), since a 503 from a request deadline may also have been committed; any other answer is final.
A submission still unanswered `give_up_s` after the schedule ends is *in doubt*: neither accepted nor
lost, and reported as such.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from gateway.bench.load import NextDue, paced
from gateway.chaos.client import SubmitAnswer, SubmitConnection
from gateway.documents.packs import load_pack

__all__ = ["Accepted", "LoadDocument", "LoadResult", "SustainedLoad", "example_documents"]

_EXAMPLE_PACKS = ("hk.tdec", "hk.aci.road")
_REQUEST_TIMEOUT_S = 40.0  # above the gateway's own 30 s request deadline
_RETRY_STATUSES = frozenset({429, 503})
_MAX_RETRY_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class LoadDocument:
    body: bytes
    content_type: str
    routes: tuple[str, ...]  # the agencies its schema pack routes it to


def example_documents(packs_dir: Path) -> list[LoadDocument]:
    """The valid examples of the project's declaration packs, each with its pack's routes."""
    documents = []
    for name in _EXAMPLE_PACKS:
        pack = load_pack(packs_dir / name)
        for path in sorted((pack.directory / "examples" / "valid").iterdir()):
            if path.suffix in (".xml", ".json"):
                content_type = "application/json" if path.suffix == ".json" else "application/xml"
                documents.append(LoadDocument(path.read_bytes(), content_type, tuple(pack.routes)))
    if not documents:
        raise FileNotFoundError(f"no example documents under {packs_dir}")
    return documents


@dataclass(frozen=True, slots=True)
class Accepted:
    declaration_id: str
    routes: tuple[str, ...]
    answered_at: float  # time.monotonic() when the 202 was read


@dataclass
class LoadResult:
    accepted: dict[str, Accepted] = field(default_factory=dict)
    submitted: int = 0  # distinct submissions (each with its own Idempotency-Key)
    requests: int = 0  # HTTP attempts, retries included
    refused: Counter[int] = field(default_factory=Counter)  # non-202 answers, by status (each attempt)
    refused_finally: int = 0  # submissions whose last answer was not a 202
    connection_errors: int = 0  # attempts whose connection broke (or was refused) before an answer
    without_retry_after: int = 0  # 429 and 503 answers missing a usable Retry-After (must be 0)
    replayed: int = 0  # 202s that named an id committed by an earlier attempt
    in_doubt: int = 0  # submissions never answered
    started_at: float = 0.0  # time.monotonic() when the schedule started
    ended_at: float = 0.0  # ... and when the last submission was settled

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Each accepted declaration's target agencies."""
        return {key: accepted.routes for key, accepted in self.accepted.items()}

    def longest_accept_gap_s(self, *, until: float | None = None) -> float:
        """The longest stretch without a 202 read, from the start of the schedule to `until` (default
        the last settled submission)."""
        times = sorted(accepted.answered_at for accepted in self.accepted.values())
        edges = [self.started_at, *times, until if until is not None else self.ended_at]
        return max((later - earlier for earlier, later in itertools.pairwise(edges)), default=0.0)


class SustainedLoad:
    """Drives `POST /v1/declarations` at `host:port` as the client holding `api_key`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        api_key: str,
        documents: Sequence[LoadDocument],
        rate: float,
        seconds: float,
        concurrency: int = 8,
        give_up_s: float = 120.0,
    ) -> None:
        self._host = host
        self._port = port
        self._api_key = api_key
        self._documents = itertools.cycle(documents)
        self._rate = rate
        self._seconds = seconds
        self._concurrency = concurrency
        self._give_up_s = give_up_s
        self._stopped = False
        self.result = LoadResult()

    def stop(self) -> None:
        """End the schedule early (a fault of unknown length): no new submission starts; those under
        way still settle."""
        self._stopped = True

    def elapsed_s(self) -> float:
        """Seconds since the schedule started (0 before)."""
        started = self.result.started_at
        return time.monotonic() - started if started else 0.0

    async def run(self) -> LoadResult:
        self.result.started_at = time.monotonic()
        next_due = paced(rate=self._rate, seconds=self._seconds, start_in_s=0.0)
        give_up_at = self.result.started_at + self._seconds + self._give_up_s
        await asyncio.gather(*(self._client(next_due, give_up_at) for _ in range(self._concurrency)))
        self.result.ended_at = time.monotonic()
        return self.result

    async def _client(self, next_due: NextDue, give_up_at: float) -> None:
        connection = SubmitConnection(host=self._host, port=self._port, api_key=self._api_key)
        try:
            while await next_due() is not None and not self._stopped:
                await self._submit(connection, next(self._documents), give_up_at)
        finally:
            await connection.close()

    async def _submit(self, connection: SubmitConnection, document: LoadDocument, give_up_at: float) -> None:
        """One submission, retried under its Idempotency-Key until an answer is final."""
        result = self.result
        result.submitted += 1
        key = str(uuid.uuid4())
        for wait_s in _backoff():
            result.requests += 1
            answer = await self._attempt(connection, document, key)
            if answer is not None and answer.status == 202:
                self._record(answer, document)
                return
            if answer is not None:
                result.refused[answer.status] += 1
                if answer.status not in _RETRY_STATUSES:
                    result.refused_finally += 1
                    return
                if answer.retry_after_s is None:
                    result.without_retry_after += 1
                wait_s = min(answer.retry_after_s or wait_s, _MAX_RETRY_WAIT_S)
            if time.monotonic() >= give_up_at:
                if answer is None:
                    result.in_doubt += 1
                else:
                    result.refused_finally += 1
                return
            await asyncio.sleep(wait_s)

    async def _attempt(
        self, connection: SubmitConnection, document: LoadDocument, key: str
    ) -> SubmitAnswer | None:
        """The answer, or None when the connection broke (or no answer came in time)."""
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                return await connection.submit(
                    document.body, content_type=document.content_type, idempotency_key=key
                )
        except (ConnectionError, TimeoutError):
            await connection.close()
            self.result.connection_errors += 1
            return None

    def _record(self, answer: SubmitAnswer, document: LoadDocument) -> None:
        declaration_id = str(orjson.loads(answer.body)["id"])
        self.result.accepted[declaration_id] = Accepted(declaration_id, document.routes, time.monotonic())
        if answer.replayed:
            self.result.replayed += 1


def _backoff() -> Iterator[float]:
    """0.05 s, doubling to 1 s, then 1 s for ever."""
    wait_s = 0.05
    while True:
        yield wait_s
        wait_s = min(wait_s * 2, 1.0)
