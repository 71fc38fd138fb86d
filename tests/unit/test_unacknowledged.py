"""The group consumer's unacknowledged batches: offsets are committed in the order the batches
came, each once its finish (the rest of its handler's work) is done, and never when it failed."""
import asyncio

import pytest
from aiokafka import TopicPartition

from services.core.consumer import Unacknowledged

TP = TopicPartition("posts.classified.v1", 0)


def test_a_batch_that_finished_first_waits_for_the_one_before_it():
    async def run():
        first, second = asyncio.Event(), asyncio.Event()
        pending = Unacknowledged(limit=2)
        pending.add({TP: 10}, [asyncio.ensure_future(first.wait())])
        pending.add({TP: 20}, [asyncio.ensure_future(second.wait())])
        second.set()
        await asyncio.sleep(0.01)
        assert await pending.to_commit() == []  # 20 is done, 10 is not: nothing yet
        first.set()
        await asyncio.sleep(0.01)
        assert await pending.to_commit() == [{TP: 10}, {TP: 20}]
        assert await pending.to_commit() == []
    asyncio.run(run())


def test_past_the_limit_the_oldest_is_waited_for():
    async def run():
        async def slow():
            await asyncio.sleep(0.05)
        pending = Unacknowledged(limit=1)
        pending.add({TP: 10}, [asyncio.ensure_future(slow())])
        assert await pending.to_commit() == []  # one running is allowed
        pending.add({TP: 20}, [])  # a batch whose handler left nothing running
        assert await pending.to_commit() == [{TP: 10}, {TP: 20}]
    asyncio.run(run())


def test_a_finish_that_raises_is_not_committed_nor_what_came_after_it():
    async def run():
        async def fails():
            raise RuntimeError("redis away")
        pending = Unacknowledged(limit=1)
        pending.add({TP: 10}, [asyncio.ensure_future(fails())])
        pending.add({TP: 20}, [])
        with pytest.raises(RuntimeError):
            await pending.to_commit()
        await pending.settle()
        assert await pending.to_commit() == []
    asyncio.run(run())


def test_the_batches_finished_before_a_failed_one_are_still_committed():
    async def run():
        async def fails():
            raise RuntimeError("redis away")
        pending = Unacknowledged(limit=1)
        pending.add({TP: 10}, [])
        pending.add({TP: 20}, [asyncio.ensure_future(fails())])
        pending.add({TP: 30}, [])
        assert await pending.to_commit() == [{TP: 10}]
        with pytest.raises(RuntimeError):
            await pending.to_commit()
    asyncio.run(run())
