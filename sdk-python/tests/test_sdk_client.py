"""Every method of dmesh.Client against a real gateway (the shared demo gateway)."""

from __future__ import annotations

import datetime
import decimal
import pathlib

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dmesh


def test_connector_kinds_carry_their_config_schema(client):
    kinds = {k.kind: k for k in client.kinds()}
    assert {"files", "postgres"} <= set(kinds)
    files = kinds["files"]
    assert "query" in files.families and "catalog" in files.families
    assert "path" in files.fields and "path" in files.required
    assert files.config_schema["type"] == "object"


def test_connectors_lists_and_shows_the_demo(client):
    names = [c.name for c in client.connectors()]
    assert "demo" in names
    assert names == sorted(names)
    demo = client.connector("demo")
    assert (demo.kind, demo.origin) == ("files", "builtin")
    assert demo.families == ("query", "catalog")
    assert isinstance(demo.created_at, datetime.datetime)
    assert [c.name for c in client.connectors(family="catalog")] == [c.name for c in client.connectors(family="query")]
    assert "demo" not in [c.name for c in client.connectors(family="storage")]
    with pytest.raises(ValueError, match="expected one of"):
        client.connectors(family="nonsense")


def test_a_connector_is_added_tested_used_and_removed(client, demo_dir, tmp_path):
    data = tmp_path / "shop"
    data.mkdir()
    pq.write_table(pq.read_table(demo_dir / "orders.parquet"), data / "sales.parquet")

    checked = client.add("sdk-validated", "files", path=str(data), validate_only=True)
    assert checked.name == "sdk-validated"
    assert "sdk-validated" not in [c.name for c in client.connectors()]

    added = client.add("sdk-sales", "files", {"description": "Sales of the shop"}, path=data)
    try:
        assert (added.kind, added.origin, added.description) == ("files", "runtime", "Sales of the shop")
        assert added.config["path"] == str(data)
        assert client.connector("sdk-sales").config == added.config

        report = client.test("sdk-sales")
        assert report.healthy, report.message
        assert report.checks and all(c.ok for c in report.checks)
        assert any("sales" in c.name for c in report.checks)
        assert report.latency is not None and report.latency >= 0

        assert client.query("sdk-sales", "SELECT count(*) AS n FROM sales").column("n").to_pylist() == [5000]

        with pytest.raises(dmesh.AlreadyExists) as again:
            client.add("sdk-sales", "files", path=str(data))
        assert again.value.code == "ALREADY_EXISTS" and again.value.reason == "CONNECTOR_EXISTS"
    finally:
        client.remove("sdk-sales")
    assert "sdk-sales" not in [c.name for c in client.connectors()]
    with pytest.raises(dmesh.NotFound) as gone:
        client.connector("sdk-sales")
    assert gone.value.reason == "CONNECTOR_NOT_FOUND"


def test_registry_errors_name_their_status(client, tmp_path):
    with pytest.raises(dmesh.InvalidArgument) as bad_name:
        client.add("Bad Name", "files", path=str(tmp_path))
    assert bad_name.value.reason == "INVALID_CONNECTOR_NAME"
    with pytest.raises(dmesh.InvalidArgument) as bad_config:
        client.add("sdk-bad", "files", path=str(tmp_path), no_such_field=1)
    assert "no_such_field" in bad_config.value.message
    with pytest.raises(dmesh.FailedPrecondition) as builtin:
        client.remove("demo")
    assert builtin.value.reason == "CONNECTOR_NOT_REMOVABLE"
    with pytest.raises(dmesh.NotFound):
        client.remove("sdk-never-added")


def test_query_returns_the_table(client, demo_dir):
    got = client.query("demo", "SELECT * FROM orders ORDER BY order_id")
    want = pq.read_table(demo_dir / "orders.parquet").sort_by("order_id")
    assert isinstance(got, pa.Table)
    assert got.num_rows == 5000
    assert got.column_names == want.column_names
    assert got.column("order_id").equals(want.column("order_id"))
    assert got.column("status").to_pylist() == want.column("status").to_pylist()


def test_stream_gives_a_record_batch_reader(client):
    reader = client.query("demo", "SELECT * FROM order_items", stream=True)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema.names[:2] == ["order_id", "line"]
    total = sum(batch.num_rows for batch in reader)
    assert total == client.query("demo", "SELECT count(*) AS n FROM order_items").column("n")[0].as_py()


def test_execute_reports_truncation_streamed_and_inline(client):
    streamed = client.execute("demo", "SELECT * FROM order_items", max_rows=1234)
    assert not streamed.inline
    assert streamed.truncation is None
    assert len(streamed.ticket) > 0 and streamed.query_id
    assert streamed.expires_at > datetime.datetime.now(datetime.timezone.utc)
    assert sum(b.num_rows for b in streamed) == 1234
    assert streamed.truncation == dmesh.Truncation("max_rows", 1234)
    with pytest.raises(RuntimeError, match="read once"):
        streamed.read_all()

    inline = client.execute("demo", "SELECT * FROM orders", max_rows=10, inline_rows=100)
    assert inline.inline
    assert inline.truncation == dmesh.Truncation("max_rows", 10)
    assert inline.read_all().num_rows == 10

    whole = client.execute("demo", "SELECT * FROM orders WHERE order_id <= 3", inline_rows=100)
    assert whole.inline and whole.truncation is None and whole.read_all().num_rows == 3

    too_big = client.execute("demo", "SELECT * FROM orders", inline_rows=100)
    assert not too_big.inline and too_big.read_all().num_rows == 5000


def test_parameters_are_bound_with_their_types(client):
    row = client.query(
        "demo",
        "SELECT $1 AS i, $2 AS f, $3 AS s, $4 AS b, $5 AS d, $6 AS n",
        params=[41, 2.5, "hi", True, datetime.date(2024, 2, 29), None],
    ).to_pylist()[0]
    assert row == {"i": 41, "f": 2.5, "s": "hi", "b": True, "d": datetime.date(2024, 2, 29), "n": None}
    count = client.query("demo", "SELECT count(*) AS n FROM orders WHERE status = $1", params=["shipped"])
    want = client.query("demo", "SELECT count(*) AS n FROM orders WHERE status = 'shipped'")
    assert count.equals(want)
    with pytest.raises(TypeError, match="cannot bind"):
        client.query("demo", "SELECT $1", params=[object()])
    with pytest.raises(TypeError, match="not a string"):
        client.query("demo", "SELECT $1", params="x")


def test_decimal_and_timestamp_parameters(client):
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    row = client.query("demo", "SELECT $1 AS t, $2 AS d", params=[when, decimal.Decimal("12.340")]).to_pylist()[0]
    assert row["t"].replace(tzinfo=datetime.timezone.utc) == when
    assert decimal.Decimal(str(row["d"])) == decimal.Decimal("12.34")


def test_results_convert_to_pandas_and_polars(client):
    sql = "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status"
    frame = client.to_pandas("demo", sql)
    assert isinstance(frame, pd.DataFrame)
    assert frame["n"].sum() == 5000
    polars = client.to_polars("demo", sql, max_rows=2)
    assert isinstance(polars, pl.DataFrame)
    assert polars.height == 2
    assert polars["status"].to_list() == frame["status"].to_list()[:2]


def test_tables_describe_and_explain(client, demo_dir):
    tables = {t.name: t for t in client.tables("demo")}
    assert set(tables) == {f"public.{n}" for n in ("customers", "order_items", "orders", "products", "reviews")}
    assert tables["public.orders"].format == "parquet"
    assert tables["public.orders"].location.endswith("orders.parquet")
    assert [t.name for t in client.tables("demo", schema="public")] == sorted(tables)
    assert client.tables("demo", schema="elsewhere") == []

    described = client.describe("demo", "public.orders")
    want = pq.read_schema(demo_dir / "orders.parquet")
    assert [c.name for c in described.columns] == want.names
    assert described.schema.names == want.names
    assert described.table.table == dmesh.TableRef("orders", "public")
    assert client.describe("demo", dmesh.TableRef("orders")).columns == described.columns
    with pytest.raises(dmesh.NotFound):
        client.describe("demo", "no_such_table")

    plan = client.explain("demo", "SELECT count(*) FROM orders WHERE status = 'shipped'")
    assert "logical_plan" in plan.sections and "physical_plan" in plan.sections
    assert "orders" in plan.text
    verbose = client.explain("demo", "SELECT count(*) FROM orders", verbose=True)
    assert len(verbose.sections) > len(plan.sections)


def test_catalog_methods(client):
    schemas = client.schemas("demo")
    assert [s.name for s in schemas] == ["public"]
    metadata = client.table_metadata("demo", "orders")
    assert [c.name for c in metadata.columns][:2] == ["order_id", "customer_id"]
    assert metadata.table.format == "parquet"
    hits = client.search("demo", "email")
    assert hits[0].table.table.name == "customers"
    assert "email" in hits[0].matched_columns
    with pytest.raises(dmesh.InvalidArgument):
        client.search("demo", "  ")
    with pytest.raises(dmesh.Unimplemented) as lineage:
        client.lineage("demo", "orders", direction="upstream", depth=2)
    assert lineage.value.reason == "UNSUPPORTED"
    with pytest.raises(ValueError, match="expected one of"):
        client.lineage("demo", "orders", direction="sideways")
    with pytest.raises(dmesh.Unimplemented):
        client.classifications("demo", "orders")


# No connector kind serves the processing or storage families yet: the calls
# reach the gateway, which answers UNIMPLEMENTED naming the families served.
JOB_AND_STORAGE_CALLS = {
    "submit_job": lambda c: c.submit_job("demo", "sql", {"sql": "SELECT 1"}, idempotency_key="k", labels={"a": "b"}),
    "job": lambda c: c.job("demo", "job-1"),
    "watch_job": lambda c: list(c.watch_job("demo", "job-1")),
    "job_result": lambda c: c.job_result("demo", "job-1"),
    "cancel_job": lambda c: c.cancel_job("demo", "job-1"),
    "jobs": lambda c: c.jobs("demo", states=["running", "failed"]),
    "objects": lambda c: c.objects("demo", "orders", delimited=True),
    "head": lambda c: c.head("demo", "orders.parquet"),
    "read": lambda c: c.read("demo", "orders.parquet", offset=1, length=2),
    "write": lambda c: c.write("demo", "new.bin", b"x" * 3_000_000, if_not_exists=True),
    "delete": lambda c: c.delete("demo", "new.bin"),
    "read_table": lambda c: c.read_table("demo", "orders.parquet", format="parquet", max_rows=5),
}


@pytest.mark.parametrize("method", sorted(JOB_AND_STORAGE_CALLS))
def test_job_and_storage_calls_reach_the_gateway(client, method):
    with pytest.raises(dmesh.Unimplemented) as refused:
        JOB_AND_STORAGE_CALLS[method](client)
    assert refused.value.code == "UNIMPLEMENTED"
    assert refused.value.reason in ("FAMILY_NOT_SERVED", "UNSUPPORTED")
    assert refused.value.retryable is False


def test_endpoints_are_written_like_the_cli_or_flight(gateway):
    address = gateway.removeprefix("grpc://")
    for endpoint in (gateway, f"http://{address}", f"grpc+tcp://{address}", address):
        with dmesh.Client(endpoint) as c:
            assert c.query("demo", "SELECT 1 AS one").column("one").to_pylist() == [1]
    for bad in ("ftp://host:1", "http://", "http://host:1/path"):
        with pytest.raises(ValueError, match="not a gateway endpoint"):
            dmesh.Client(bad)


def test_the_endpoint_comes_from_the_environment(gateway, monkeypatch):
    monkeypatch.setenv("DMESH_ENDPOINT", gateway)
    with dmesh.Client() as c:
        assert c.endpoint == gateway
        assert "demo" in [x.name for x in c.connectors()]


def test_tls_endpoints(tls_gateway):
    endpoint, ca = tls_gateway
    with dmesh.Client(endpoint, root_certificates=ca) as c:
        assert c.query("demo", "SELECT count(*) AS n FROM orders").column("n").to_pylist() == [5000]
    with dmesh.Client(
        endpoint.replace("grpc+tls://", "https://"), root_certificates=pathlib.Path(ca).read_bytes()
    ) as c:
        assert sum(b.num_rows for b in c.query("demo", "SELECT * FROM order_items", stream=True)) > 0
    with dmesh.Client(endpoint, timeout=5) as untrusted:
        with pytest.raises(dmesh.Unavailable):
            untrusted.connectors()
    with pytest.raises(ValueError, match="both"):
        dmesh.Client(endpoint, client_certificate=ca)


def test_an_unreachable_gateway_is_unavailable_and_retryable(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dmesh.Client(f"http://127.0.0.1:{port}", timeout=5) as c:
        with pytest.raises(dmesh.Unavailable) as down:
            c.connectors()
    assert down.value.code == "UNAVAILABLE"
    assert down.value.retryable is True
    assert down.value.reason is None


def test_a_result_left_half_read_leaves_the_client_usable(client):
    batches = iter(client.execute("demo", "SELECT * FROM order_items"))
    assert next(batches).num_rows > 0
    batches.close()
    assert client.query("demo", "SELECT 1 AS x").column("x").to_pylist() == [1]


def test_rows_keep_the_schema_execute_announced(client):
    # The gateway announces `s` as nullable while its batches mark it not null;
    # the SDK relabels the batches so that every result has one schema.
    sql = "SELECT repeat('x', 3) AS s, 1.5 AS f"
    announced = client.execute("demo", sql)
    table = announced.read_all()
    assert table.schema.equals(announced.schema)
    assert table.to_pylist() == [{"s": "xxx", "f": 1.5}]
    streamed = client.query("demo", sql, stream=True)
    assert streamed.read_all().schema.equals(announced.schema)
