"""The Coalescer on its own: who gets which value, and what one failure or cancel reaches."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from hiload_api.batching import Coalescer


class Source:
    """Squares keys below 100; records every batch it is asked for."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def fetch_many(self, keys: list[int]) -> Mapping[int, int]:
        self.batches.append(keys)
        self.asked.set()
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return {key: key * key for key in keys if key < 100}


async def test_reads_in_one_turn_of_the_loop_share_one_batch() -> None:
    source = Source()
    reads = Coalescer(source.fetch_many)
    values = await asyncio.gather(*(reads.get(key) for key in (3, 4, 3, 500)))
    assert values == [9, 16, 9, None]
    assert source.batches == [[3, 4, 500]]


async def test_a_lone_read_leaves_at_once() -> None:
    source = Source()
    reads = Coalescer(source.fetch_many)
    assert await reads.get(7) == 49
    assert await reads.get(8) == 64
    assert source.batches == [[7], [8]]


async def test_max_batch_bounds_every_batch() -> None:
    source = Source()
    reads = Coalescer(source.fetch_many, max_batch=4, max_in_flight=10)
    values = await asyncio.gather(*(reads.get(key) for key in range(10)))
    assert values == [key * key for key in range(10)]
    assert [len(batch) for batch in source.batches] == [4, 4, 2]


async def test_reads_asked_while_a_batch_is_out_leave_together_after_it() -> None:
    source = Source()
    source.release.clear()
    reads = Coalescer(source.fetch_many, max_in_flight=1)
    first = asyncio.ensure_future(reads.get(1))
    await source.asked.wait()
    later = [asyncio.ensure_future(reads.get(key)) for key in (2, 3)]
    await asyncio.sleep(0.01)
    assert source.batches == [[1]]
    source.release.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [4, 9]
    assert source.batches == [[1], [2, 3]]


async def test_a_failed_batch_fails_each_of_its_readers_and_not_the_next() -> None:
    source = Source(fail=ConnectionResetError("gone"))
    reads = Coalescer(source.fetch_many)
    results = await asyncio.gather(reads.get(1), reads.get(2), return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionResetError] * 2
    source.fail = None
    assert await reads.get(2) == 4


async def test_a_cancelled_reader_leaves_the_others_their_values() -> None:
    source = Source()
    source.release.clear()
    reads = Coalescer(source.fetch_many)
    impatient = asyncio.ensure_future(reads.get(5))
    patient = asyncio.ensure_future(reads.get(5))
    other = asyncio.ensure_future(reads.get(6))
    await source.asked.wait()
    impatient.cancel()
    source.release.set()
    assert await patient == 25
    assert await other == 36
    with pytest.raises(asyncio.CancelledError):
        await impatient
