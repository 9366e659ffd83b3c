"""A million rows through a `files` connector added with the SDK, streamed batch by batch."""

from __future__ import annotations

import asyncio

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import dmesh
import dmesh.aio

ROWS = 1_000_000


@pytest.fixture(scope="module")
def million(client, tmp_path_factory):
    """A connector `sdk-million` over a Parquet file of 1M rows; yields the file's table."""
    folder = tmp_path_factory.mktemp("million")
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "id": pa.array(np.arange(ROWS, dtype=np.int64)),
            "amount": pa.array(rng.integers(0, 1_000_000, ROWS, dtype=np.int64)),
            "ratio": pa.array(rng.random(ROWS)),
            "label": pa.array(np.char.add("row-", (np.arange(ROWS) % 997).astype(str))),
        }
    )
    pq.write_table(table, folder / "big.parquet", row_group_size=100_000)
    client.add("sdk-million", "files", path=str(folder))
    yield table
    client.remove("sdk-million")


def test_a_million_rows_stream_in_batches(client, million):
    reader = client.query("sdk-million", "SELECT id, amount, ratio, label FROM big", stream=True)
    assert reader.schema.names == ["id", "amount", "ratio", "label"]
    rows, batches, amount = 0, 0, 0
    for batch in reader:
        batches += 1
        rows += batch.num_rows
        amount += pc.sum(batch.column("amount")).as_py()
    assert rows == ROWS
    assert batches > 1, "a million rows arrive in more than one batch"
    assert amount == pc.sum(million.column("amount")).as_py()


def test_a_million_rows_as_one_table(client, million):
    table = client.query("sdk-million", "SELECT * FROM big ORDER BY id")
    assert table.num_rows == ROWS
    assert table.column("id").equals(million.column("id"))
    assert pc.sum(table.column("ratio")).as_py() == pytest.approx(pc.sum(million.column("ratio")).as_py())
    assert table.column("label").slice(ROWS - 3).equals(million.column("label").slice(ROWS - 3))


def test_a_million_rows_stream_with_the_async_client(gateway, million):
    async def count() -> tuple[int, int]:
        async with dmesh.aio.Client(gateway) as c:
            result = await c.query("sdk-million", "SELECT amount FROM big", stream=True)
            rows, amount = 0, 0
            async for batch in result:
                rows += batch.num_rows
                amount += pc.sum(batch.column("amount")).as_py()
            return rows, amount

    rows, amount = asyncio.run(count())
    assert rows == ROWS
    assert amount == pc.sum(million.column("amount")).as_py()
