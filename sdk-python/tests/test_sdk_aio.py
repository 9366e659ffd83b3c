"""dmesh.aio.Client: the async twin, method for method, against the shared demo gateway."""

from __future__ import annotations

import asyncio
import inspect

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sdk_tokens import ANALYST_TOKEN

import dmesh
import dmesh.aio


def run(coro):
    return asyncio.run(coro)


def test_the_async_client_has_every_method_of_the_sync_one():
    public = {n for n in dir(dmesh.Client) if not n.startswith("_")}
    assert public <= {n for n in dir(dmesh.aio.Client) if not n.startswith("_")}
    for name in public - {"with_token"}:
        sync, twin = getattr(dmesh.Client, name), getattr(dmesh.aio.Client, name)
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name
        assert list(inspect.signature(sync).parameters) == list(inspect.signature(twin).parameters), name


def test_registry_queries_and_catalog(gateway, demo_dir, tmp_path):
    pq.write_table(pq.read_table(demo_dir / "orders.parquet"), tmp_path / "sales.parquet")

    async def go():
        async with dmesh.aio.Client(gateway) as c:
            assert "files" in [k.kind for k in await c.kinds()]
            assert "demo" in [x.name for x in await c.connectors()]
            assert (await c.connector("demo")).origin == "builtin"
            assert (
                await c.add("sdk-aio-check", "files", path=str(tmp_path), validate_only=True)
            ).name == "sdk-aio-check"
            await c.add("sdk-aio", "files", path=str(tmp_path))
            try:
                assert (await c.test("sdk-aio")).healthy
                table = await c.query("sdk-aio", "SELECT count(*) AS n FROM sales")
                assert table.column("n").to_pylist() == [5000]
            finally:
                await c.remove("sdk-aio")
            with pytest.raises(dmesh.NotFound):
                await c.connector("sdk-aio")

            orders = await c.query("demo", "SELECT * FROM orders WHERE order_id <= $1", params=[10])
            assert isinstance(orders, pa.Table) and orders.num_rows == 10
            result = await c.execute("demo", "SELECT * FROM order_items", max_rows=500)
            assert sum([b.num_rows async for b in result]) == 500
            assert result.truncation == dmesh.Truncation("max_rows", 500)
            inline = await c.execute("demo", "SELECT * FROM orders", max_rows=5, inline_rows=10)
            assert inline.inline and (await inline.read_all()).num_rows == 5
            assert (await c.to_pandas("demo", "SELECT 1 AS x"))["x"].tolist() == [1]
            assert (await c.to_polars("demo", "SELECT 2 AS x"))["x"].to_list() == [2]

            assert len(await c.tables("demo")) == 5
            assert [col.name for col in (await c.describe("demo", "orders")).columns][0] == "order_id"
            assert "physical_plan" in (await c.explain("demo", "SELECT 1", verbose=False)).sections
            assert [s.name for s in await c.schemas("demo")] == ["public"]
            assert (await c.table_metadata("demo", "orders")).table.format == "parquet"
            assert (await c.search("demo", "email"))[0].table.table.name == "customers"
            with pytest.raises(dmesh.Unimplemented):
                await c.lineage("demo", "orders")
            with pytest.raises(dmesh.Unimplemented):
                await c.classifications("demo", "orders")

    run(go())


ASYNC_JOB_AND_STORAGE_CALLS = {
    "submit_job": lambda c: c.submit_job("demo", "sql", {"sql": "SELECT 1"}),
    "job": lambda c: c.job("demo", "job-1"),
    "watch_job": lambda c: _drain(c.watch_job("demo", "job-1")),
    "job_result": lambda c: c.job_result("demo", "job-1"),
    "cancel_job": lambda c: c.cancel_job("demo", "job-1"),
    "jobs": lambda c: c.jobs("demo", states=["pending"]),
    "objects": lambda c: c.objects("demo"),
    "head": lambda c: c.head("demo", "orders.parquet"),
    "read": lambda c: c.read("demo", "orders.parquet"),
    "write": lambda c: c.write("demo", "new.bin", _chunks()),
    "delete": lambda c: c.delete("demo", "new.bin"),
    "read_table": lambda c: c.read_table("demo", "orders.parquet"),
}


async def _drain(iterator):
    return [x async for x in iterator]


async def _chunks():
    for part in (b"a", b"b"):
        yield part


@pytest.mark.parametrize("method", sorted(ASYNC_JOB_AND_STORAGE_CALLS))
def test_job_and_storage_calls_reach_the_gateway(gateway, method):
    async def go():
        async with dmesh.aio.Client(gateway) as c:
            with pytest.raises(dmesh.Unimplemented) as refused:
                await ASYNC_JOB_AND_STORAGE_CALLS[method](c)
            assert refused.value.reason in ("FAMILY_NOT_SERVED", "UNSUPPORTED")

    run(go())


def test_async_errors_carry_status_and_retry_hint(gateway, auth_gateway):
    async def go():
        async with dmesh.aio.Client(gateway) as c:
            with pytest.raises(dmesh.InvalidArgument) as bad:
                await c.query("demo", "SELEC 1")
            assert (bad.value.reason, bad.value.retryable) == ("SQL_SYNTAX", False)
            with pytest.raises(dmesh.PermissionDenied):
                await c.query("demo", "DROP TABLE orders")
            result = await c.query("demo", "SELECT CAST(status AS INT) FROM orders", stream=True)
            with pytest.raises(dmesh.InvalidArgument):
                await result.read_all()
        async with dmesh.aio.Client(auth_gateway, token="wrong") as stranger:
            with pytest.raises(dmesh.Unauthenticated):
                await stranger.connectors()
            analyst = stranger.with_token(ANALYST_TOKEN)
            assert [x.name for x in await analyst.connectors()] == ["demo"]

    run(go())
