"""Arrow Flight SQL with real clients: the ADBC Flight SQL driver and pyarrow.flight."""

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.flight as flight
import pyarrow.parquet as pq
import adbc_driver_flightsql.dbapi as adbc_flightsql
import pytest


def connect(gateway, **kwargs):
    return adbc_flightsql.connect(gateway, **kwargs)


def test_adbc_runs_a_catalog_qualified_query_and_matches_the_file(gateway, demo_dir):
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM demo.public.orders ORDER BY order_id")
        got = cur.fetch_arrow_table()
    want = pq.read_table(demo_dir / "orders.parquet").sort_by("order_id")
    assert got.num_rows == want.num_rows == 5000
    assert got.column("order_id").to_pylist() == want.column("order_id").to_pylist()


def test_adbc_routes_with_the_connector_header(gateway, demo_dir):
    with connect(gateway, db_kwargs={"adbc.flight.sql.rpc.call_header.x-dmesh-connector": "demo"}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM customers")
            n = cur.fetch_arrow_table().column("n")[0].as_py()
    want = pacsv.read_csv(demo_dir / "customers.csv").num_rows
    assert n == want == 1000


def test_adbc_connects_with_a_username_and_password(gateway):
    with connect(gateway, db_kwargs={"username": "analyst", "password": "any-password"}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 AS one FROM demo.public.products LIMIT 1")
            assert cur.fetch_arrow_table().column("one").to_pylist() == [1]


def test_get_objects_lists_catalogs_schemas_tables_and_columns(gateway):
    with connect(gateway) as conn:
        catalogs = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        assert "demo" in [c["catalog_name"] for c in catalogs]
        objects = conn.adbc_get_objects(depth="all", catalog_filter="demo").read_all().to_pylist()
        assert [o["catalog_name"] for o in objects] == ["demo"]
        schemas = objects[0]["catalog_db_schemas"]
        assert [s["db_schema_name"] for s in schemas] == ["public"]
        tables = {t["table_name"]: t for t in schemas[0]["db_schema_tables"]}
        assert set(tables) == {"customers", "order_items", "orders", "products", "reviews"}
        assert tables["orders"]["table_type"] == "EXTERNAL TABLE"
        columns = [c["column_name"] for c in tables["orders"]["table_columns"]]
        assert "order_id" in columns and "customer_id" in columns
        schema = conn.adbc_get_table_schema("orders", catalog_filter="demo", db_schema_filter="public")
        assert schema.field("order_id") is not None
        types = conn.adbc_get_table_types()
        assert "TABLE" in types and "VIEW" in types


def test_get_info_names_the_server(gateway):
    with connect(gateway) as conn:
        info = conn.adbc_get_info()
    assert info["vendor_name"] == "dmesh"
    assert info["vendor_version"]


def test_a_statement_with_no_route_lists_the_connectors(gateway):
    with connect(gateway) as conn, conn.cursor() as cur:
        with pytest.raises(Exception) as err:
            cur.execute("SELECT * FROM orders")
    assert "connectors: demo" in str(err.value)


def test_a_bad_statement_gets_the_sources_message(gateway):
    with connect(gateway) as conn, conn.cursor() as cur:
        with pytest.raises(Exception) as err:
            cur.execute("SELECT nope FROM demo.public.orders")
    assert "nope" in str(err.value)


def test_pyarrow_flight_handshake_returns_a_bearer_token(gateway):
    client = flight.connect(gateway)
    token = client.authenticate_basic_token("analyst", "secret")
    assert token[0] == b"authorization"
    assert token[1].startswith(b"Bearer ")


def test_a_prepared_statement_binds_parameters_of_several_types(gateway, demo_dir):
    import datetime

    want = pq.read_table(demo_dir / "orders.parquet").to_pylist()
    since = datetime.date(2023, 9, 1)
    expected = sorted(r["order_id"] for r in want
                      if r["status"] == "delivered" and r["order_date"] >= since and r["customer_id"] < 500)
    sql = ("SELECT order_id FROM demo.public.orders WHERE status = $1 AND order_date >= $2 "
           "AND customer_id < $3 ORDER BY order_id")
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.adbc_prepare(sql)
        cur.execute(sql, parameters=("delivered", since, 500))
        got = cur.fetch_arrow_table().column("order_id").to_pylist()
        assert got == expected and len(got) > 10
        # The same statement again with other values.
        cur.execute(sql, parameters=("cancelled", since, 100))
        again = cur.fetch_arrow_table().column("order_id").to_pylist()
    assert again == sorted(r["order_id"] for r in want
                           if r["status"] == "cancelled" and r["order_date"] >= since and r["customer_id"] < 100)


@pytest.fixture(scope="module")
def big_connector(dmesh_bin, gateway, tmp_path_factory):
    """A `files` connector holding a 1M-row table and a row with a 3 MB text value."""
    import subprocess

    import numpy as np

    data = tmp_path_factory.mktemp("bigdata")
    n = 1_000_000
    pq.write_table(pa.table({"id": np.arange(n, dtype=np.int64), "x": np.arange(n, dtype=np.float64) * 0.5,
                             "tag": pa.array(["t%d" % (i % 97) for i in range(n)])}), data / "million.parquet")
    pq.write_table(pa.table({"id": [1, 2], "body": ["x" * (3 * 1024 * 1024), "short"]}), data / "wide_text.parquet")
    endpoint = gateway.replace("grpc://", "http://")
    subprocess.run([dmesh_bin, "--endpoint", endpoint, "connector", "add", "files", "--name", "big", "--path", str(data)],
                   check=True, capture_output=True)
    return "big"


def test_a_million_rows_arrive_whole_in_messages_clients_accept(gateway, big_connector):
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, x, tag FROM {big_connector}.public.million")
        got = cur.fetch_arrow_table()
    assert got.num_rows == 1_000_000
    assert pa.compute.sum(got["id"]).as_py() == 1_000_000 * 999_999 // 2


def test_a_3mb_text_value_arrives_intact(gateway, big_connector):
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, body FROM {big_connector}.public.wide_text ORDER BY id")
        got = cur.fetch_arrow_table()
    assert got.column("body")[0].as_py() == "x" * (3 * 1024 * 1024)
    assert got.column("body")[1].as_py() == "short"


def test_a_client_that_stops_reading_midway_leaves_the_gateway_serving(gateway, big_connector):
    with connect(gateway) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM {big_connector}.public.million")
        reader = cur.fetch_record_batch()
        first = reader.read_next_batch()
        assert first.num_rows > 0
        cur.close()
        with conn.cursor() as again:
            again.execute(f"SELECT count(*) AS n FROM {big_connector}.public.million")
            assert again.fetch_arrow_table().column("n")[0].as_py() == 1_000_000
