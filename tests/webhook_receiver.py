"""A tiny HTTP/1.1 webhook receiver on 127.0.0.1 for tests: scripted answers, every request recorded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Answer", "Received", "WebhookReceiver"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int
    at: float


class WebhookReceiver:
    """Answers each request with the next scripted `Answer`, then with `default` once the script is out."""

    def __init__(self, script: Iterable[Answer | int] = (), *, default: Answer | int = 200) -> None:
        self._script = deque(_answer(item) for item in script)
        self.default = _answer(default)
        self.requests: list[Received] = []
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self._closing = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tsw"

    async def __aenter__(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._closing.set()
        connections = dict(self._connections)
        for writer in connections.values():
            writer.close()  # the handler's next read ends
        await asyncio.gather(*connections, return_exceptions=True)
        await self._server.wait_closed()

    def answer_with(self, default: Answer | int) -> None:
        self._script.clear()
        self.default = _answer(default)

    async def wait_for(self, predicate: Callable[[list[Received]], bool], *, timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self.requests))

    def delivered(self) -> list[Received]:
        """The requests that were answered 2xx."""
        return [r for r in self.requests if 200 <= r.answered < 300]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        answer = self._script.popleft() if self._script else self.default
        async with self._changed:  # recorded as it arrives (`answered`: what it is about to be told)
            self.requests.append(Received(method, target, headers, body, answer.status, time.monotonic()))
            self._changed.notify_all()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if answer.delay_s:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(answer.delay_s):
                        await self._closing.wait()
        finally:
            self.in_flight -= 1
        if self._closing.is_set():
            return False
        extra = "".join(f"{name}: {value}\r\n" for name, value in answer.headers.items())
        writer.write(f"HTTP/1.1 {answer.status} Scripted\r\ncontent-length: 2\r\n{extra}\r\nok".encode())
        await writer.drain()
        return headers.get("connection", "").lower() != "close"


def _answer(item: Answer | int) -> Answer:
    return item if isinstance(item, Answer) else Answer(status=item)
