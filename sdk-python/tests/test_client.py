"""The Python client against a real gateway (started by the `gateway` fixture)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dmesh


def test_query_returns_the_table(gateway, demo_dir):
    with dmesh.Client(gateway) as client:
        got = client.query("demo", "SELECT * FROM orders ORDER BY order_id")
    want = pq.read_table(demo_dir / "orders.parquet")
    assert got.num_rows == 5000
    assert got.column_names == want.column_names
    assert got.column("order_id").to_pylist() == want.column("order_id").to_pylist()
    assert got.column("status").to_pylist() == want.column("status").to_pylist()


def test_batches_stream_and_caps_apply(gateway):
    client = dmesh.Client(gateway.replace("grpc://", "http://"))
    batches = list(client.query_batches("demo", "SELECT * FROM order_items", max_rows=1234))
    assert sum(b.num_rows for b in batches) == 1234
    assert all(isinstance(b, pa.RecordBatch) for b in batches)


def test_errors_carry_the_status_and_the_message(gateway):
    client = dmesh.Client(gateway)
    with pytest.raises(dmesh.DmeshError) as bad_sql:
        client.query("demo", "SELEC 1")
    assert bad_sql.value.code == "INVALID_ARGUMENT"
    assert "SQL syntax error" in bad_sql.value.message
    with pytest.raises(dmesh.DmeshError) as unknown:
        client.query("nope", "SELECT 1")
    assert unknown.value.code == "NOT_FOUND"
    assert "known connectors: demo" in unknown.value.message
    with pytest.raises(dmesh.DmeshError) as ddl:
        client.query("demo", "DROP TABLE orders")
    assert ddl.value.code == "PERMISSION_DENIED"
