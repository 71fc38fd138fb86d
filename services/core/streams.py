"""A stream handler is a function from decoded records to the records to send. Around it the
core decodes (a bad record goes to dlq.v1 with the reason), skips inputs already handled, sends
what the handler returned and marks its inputs handled. `run_batch` does that for any sink and
marks: the Runtime's Kafka and Redis in the service, services/core/testing.py's in memory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generic, Optional, Protocol, TypeVar

from services.core.contracts import ContractError, Record

In = TypeVar("In", bound=Record)


class Message(Protocol):
    """What a handler batch is made of (an aiokafka ConsumerRecord, or testing.Message)."""
    topic: str
    partition: int
    offset: int
    value: Optional[bytes]


class Sink(Protocol):
    async def send_records(self, records: list[Record]) -> Any: ...

    async def dead_letter(self, topic: str, partition: Optional[int], offset: Optional[int],
                          error: str, payload: bytes) -> None: ...


class Marks(Protocol):
    async def not_done(self, ids: list[str], *keys: Callable[[str], str]) -> set[str]: ...

    async def mark_done(self, ids: list[str], key: Callable[[str], str]) -> None: ...


@dataclass
class RecordHandler(Generic[In]):
    """`handle` gets the batch's new records of `record_cls` and returns the records to send.
    With `done_key`, an input whose id (`id_of`) is marked is skipped, and repeats of an id
    within a batch are handed over once (the last)."""
    record_cls: type[In]
    handle: Callable[[list[In]], Awaitable[list[Record]]]
    done_key: Optional[Callable[[str], str]] = None
    id_of: Callable[[In], str] = lambda record: record.key().decode()


async def decode(messages: list[Message], record_cls: type[In], sink: Sink) -> list[tuple[Message, In]]:
    """Each message's value as `record_cls`; the ones that are not go to the dead letter topic."""
    out = []
    for msg in messages:
        try:
            out.append((msg, record_cls.from_json(msg.value or b"")))
        except ContractError as exc:
            await sink.dead_letter(msg.topic, msg.partition, msg.offset, str(exc), msg.value or b"")
    return out


async def run_batch(messages: list[Message], handler: RecordHandler[In], sink: Sink, marks: Marks) -> list[Record]:
    """One batch through `handler`; returns what was sent. Raises (and marks nothing) when the
    handler or the send fails: the batch is not acknowledged and comes again."""
    records = [record for _, record in await decode(messages, handler.record_cls, sink)]
    if handler.done_key is not None:
        todo = await marks.not_done([handler.id_of(r) for r in records], handler.done_key)
        records = list({handler.id_of(r): r for r in records if handler.id_of(r) in todo}.values())
    out = await handler.handle(records) if records else []
    if out:
        await sink.send_records(out)
    if handler.done_key is not None:
        await marks.mark_done([handler.id_of(r) for r in records], handler.done_key)
    return out
