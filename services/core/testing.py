"""In-memory stand-ins for Kafka and the output marks, for unit tests of stream handlers:
`MemoryBroker().run(handler, topic, values)` decodes, dead-letters, dedupes and "sends" exactly
as the service does (services/core/streams.py), with topics as lists."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import orjson

from services.core.contracts import DeadLetter, Record
from services.core.streams import Message as StreamMessage
from services.core.streams import RecordHandler, run_batch


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    value: Optional[bytes]


class MemoryMarks:
    def __init__(self) -> None:
        self.marked: set[str] = set()

    async def not_done(self, ids: list[str], *keys: Callable[[str], str]) -> set[str]:
        return {i for i in ids if not any(key(i) in self.marked for key in keys)}

    async def mark_done(self, ids: list[str], key: Callable[[str], str]) -> None:
        self.marked.update(key(i) for i in ids)


class MemoryBroker:
    """Topics as lists of records; a run feeds raw values of one topic to a handler."""

    def __init__(self, service: str = "test") -> None:
        self.service = service
        self.topics: dict[str, list[Record]] = defaultdict(list)
        self.marks = MemoryMarks()
        self._offsets: dict[str, int] = defaultdict(int)

    async def send_records(self, records: Iterable[Record]) -> int:
        sent = 0
        for record in records:
            self.topics[record.topic].append(record)
            sent += 1
        return sent

    async def dead_letter(self, topic: str, partition: Optional[int], offset: Optional[int],
                          error: str, payload: bytes) -> None:
        await self.send_records([DeadLetter.of(self.service, topic, partition, offset, error, payload)])

    def messages(self, topic: str, values: Iterable[Any]) -> list[Message]:
        """Values (records, dicts or bytes) as messages of `topic` at its next offsets."""
        out = []
        for value in values:
            raw = value.to_json() if isinstance(value, Record) else value
            raw = raw if isinstance(raw, bytes) or raw is None else orjson.dumps(raw)
            out.append(Message(topic, 0, self._offsets[topic], raw))
            self._offsets[topic] += 1
        return out

    async def run(self, handler: RecordHandler, topic: str, values: Iterable[Any]) -> list[Record]:
        messages: list[StreamMessage] = list(self.messages(topic, values))
        return await run_batch(messages, handler, self, self.marks)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return self.topics["dlq.v1"]  # type: ignore[return-value]

