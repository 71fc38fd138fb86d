"""Concurrent calls are gathered into one batch; results and failures reach every caller."""
import asyncio

from services.core.coalesce import Coalescer


def test_concurrent_calls_share_one_batch_and_get_their_own_results():
    batches = []

    async def run(items):
        batches.append(list(items))
        await asyncio.sleep(0)
        return [i * 10 for i in items]

    async def main():
        c = Coalescer(run)
        return await asyncio.gather(*(c.submit(i) for i in range(5)))

    assert asyncio.run(main()) == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


def test_a_lone_call_is_sent_without_waiting_for_company():
    async def run(items):
        return items

    async def main():
        c = Coalescer(run)
        return await asyncio.wait_for(c.submit("x"), 1)

    assert asyncio.run(main()) == "x"


def test_max_batch_splits_large_bursts():
    sizes = []

    async def run(items):
        sizes.append(len(items))
        return items

    async def main():
        c = Coalescer(run, max_batch=4)
        return await asyncio.gather(*(c.submit(i) for i in range(10)))

    assert asyncio.run(main()) == list(range(10))
    assert sorted(sizes) == [2, 4, 4]


def test_a_failed_batch_fails_every_caller():
    async def run(items):
        raise ConnectionError("redis gone")

    async def main():
        c = Coalescer(run)
        return await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)

    results = asyncio.run(main())
    assert len(results) == 3 and all(isinstance(r, ConnectionError) for r in results)


def test_a_wrong_number_of_results_is_an_error_not_a_mismatch():
    async def run(items):
        return items[:-1]

    async def main():
        c = Coalescer(run)
        return await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(main()))
