"""Arrow Flight SQL with real clients: the ADBC Flight SQL driver and pyarrow.flight.

The suite runs against the built-in `demo` connector (files) and against a
`postgres`, a `mysql` and a `sqlite` connector, each over a throwaway
database (a PostgreSQL cluster, a MariaDB server, a SQLite file) holding the
same demo tables. MariaDB keeps them in a database named `public`, so the
same `connector.public.table` names work there; SQLite's one schema is
`main`.
"""

import datetime
import sqlite3
import subprocess

import adbc_driver_flightsql.dbapi as adbc_flightsql
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.flight as flight
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from gateway_fixture import running_gateway
from pgcluster import PASSWORD, Cluster
import mariadbcluster


def connect(gateway, **kwargs):
    return adbc_flightsql.connect(gateway, **kwargs)


def cli(dmesh_bin, gateway, *args):
    endpoint = gateway.replace("grpc://", "http://")
    return subprocess.run([dmesh_bin, "--endpoint", endpoint, *args], capture_output=True, text=True, check=True)


def read_avro(path):
    import fastavro

    with open(path, "rb") as f:
        reader = fastavro.reader(f)
        types = {"long": pa.int64(), "int": pa.int32(), "string": pa.string(), "double": pa.float64()}
        fields = []
        for field in reader.writer_schema["fields"]:
            t = field["type"]
            t = [x for x in t if x != "null"][0] if isinstance(t, list) else t
            fields.append(pa.field(field["name"], types[t]))
        return pa.Table.from_pylist(list(reader), schema=pa.schema(fields))


def demo_tables(demo_dir):
    """Every demo table, read from its file with the reader users would pick."""
    return {
        "orders": pq.read_table(demo_dir / "orders.parquet"),
        "order_items": pq.read_table(demo_dir / "order_items"),
        "customers": pacsv.read_csv(demo_dir / "customers.csv"),
        "products": pajson.read_json(demo_dir / "products.jsonl"),
        "reviews": read_avro(demo_dir / "reviews.avro"),
    }


@pytest.fixture(scope="module")
def postgres_demo(dmesh_bin, gateway, demo_dir):
    """A `postgres` connector named `pgdemo` over a cluster holding the demo tables."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    cluster = Cluster()
    try:
        with adbc_pg.connect(cluster.url()) as conn:
            with conn.cursor() as cur:
                for name, table in demo_tables(demo_dir).items():
                    cur.adbc_ingest(name, table, mode="create")
                cur.execute("ALTER TABLE orders ADD PRIMARY KEY (order_id)")
                cur.execute("ALTER TABLE customers ADD PRIMARY KEY (customer_id)")
                cur.execute("ALTER TABLE orders ADD CONSTRAINT orders_customer_fk "
                            "FOREIGN KEY (customer_id) REFERENCES customers (customer_id)")
            conn.commit()
        cli(dmesh_bin, gateway, "connector", "add", "postgres", "--name", "pgdemo", "--host", "127.0.0.1",
            "--port", str(cluster.port), "--database", "postgres", "--user", "postgres",
            "--password", PASSWORD, "--tls-mode", "disable")
        yield "pgdemo"
    finally:
        cluster.stop()


SQL_TYPES = {
    pa.int64(): "BIGINT", pa.int32(): "INT", pa.float64(): "DOUBLE", pa.string(): "VARCHAR(200)",
    pa.date32(): "DATE", pa.bool_(): "BOOLEAN",
}


def sql_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


@pytest.fixture(scope="module")
def mysql_demo(dmesh_bin, gateway, demo_dir):
    """A `mysql` connector named `mydemo` over a MariaDB server holding the demo tables in database `public`."""
    server = mariadbcluster.Server()
    try:
        script = ["CREATE DATABASE public;", "USE public;"]
        for name, table in demo_tables(demo_dir).items():
            columns = ", ".join(f"`{f.name}` {SQL_TYPES[f.type]}" for f in table.schema)
            script.append(f"CREATE TABLE `{name}` ({columns});")
            rows = table.to_pylist()
            for start in range(0, len(rows), 1000):
                values = ",".join("(" + ",".join(sql_literal(v) for v in r.values()) + ")"
                                  for r in rows[start:start + 1000])
                script.append(f"INSERT INTO `{name}` VALUES {values};")
        script.append("ALTER TABLE orders ADD PRIMARY KEY (order_id);")
        script.append("ALTER TABLE customers ADD PRIMARY KEY (customer_id);")
        script.append("ALTER TABLE orders ADD CONSTRAINT orders_customer_fk "
                      "FOREIGN KEY (customer_id) REFERENCES customers (customer_id);")
        server.sql("\n".join(script))
        cli(dmesh_bin, gateway, "connector", "add", "mysql", "--name", "mydemo", "--host", "127.0.0.1",
            "--port", str(server.port), "--database", "public", "--user", mariadbcluster.USER,
            "--password", mariadbcluster.PASSWORD, "--tls-mode", "disable")
        yield "mydemo"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sqlite_demo(dmesh_bin, gateway, demo_dir, tmp_path_factory):
    """A `sqlite` connector named `sqdemo` over a database file holding the demo tables."""
    path = tmp_path_factory.mktemp("sqlite") / "demo.db"
    with sqlite3.connect(path) as db:
        for name, table in demo_tables(demo_dir).items():
            columns = ", ".join(f'"{f.name}" {SQL_TYPES[f.type]}' for f in table.schema)
            db.execute(f'CREATE TABLE "{name}" ({columns})')
            marks = ", ".join("?" for _ in table.schema)
            db.executemany(f'INSERT INTO "{name}" VALUES ({marks})',
                           [tuple(str(v) if isinstance(v, datetime.date) else v for v in r.values())
                            for r in table.to_pylist()])
    cli(dmesh_bin, gateway, "connector", "add", "sqlite", "--name", "sqdemo", "--path", str(path))
    return "sqdemo"


@pytest.fixture(params=["demo", "postgres", "mysql", "sqlite"])
def source(request):
    """The connector the test runs against."""
    if request.param == "demo":
        return "demo"
    return request.getfixturevalue(f"{request.param}_demo")


def schema_of(source):
    """The schema the demo tables are in."""
    return "main" if source == "sqdemo" else "public"


def same_values(got, want):
    """Column values equal; SQLite keeps dates as ISO text."""
    if pa.types.is_date32(want.type) and pa.types.is_string(got.type):
        return got.to_pylist() == [None if v is None else v.isoformat() for v in want.to_pylist()]
    return got.to_pylist() == want.to_pylist()


def test_adbc_runs_a_catalog_qualified_query_and_matches_the_file(gateway, demo_dir, source):
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {source}.{schema_of(source)}.orders ORDER BY order_id")
        got = cur.fetch_arrow_table()
    want = demo_tables(demo_dir)["orders"].sort_by("order_id")
    assert got.num_rows == want.num_rows == 5000
    for column in ["order_id", "customer_id", "order_date", "status"]:
        assert same_values(got.column(column), want.column(column)), column


def test_every_demo_table_matches_its_file(gateway, demo_dir, source):
    with connect(gateway) as conn:
        for name, want in demo_tables(demo_dir).items():
            keys = want.schema.names[:2] if name == "order_items" else want.schema.names[:1]
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {source}.{schema_of(source)}.{name} ORDER BY {', '.join(keys)}")
                got = cur.fetch_arrow_table()
            want = want.sort_by([(k, "ascending") for k in keys])
            assert got.num_rows == want.num_rows, name
            for column in want.schema.names:
                assert same_values(got.column(column), want.column(column)), (name, column)


def test_adbc_routes_with_the_connector_header(gateway, source):
    with connect(gateway, db_kwargs={"adbc.flight.sql.rpc.call_header.x-dmesh-connector": source}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM customers")
            n = cur.fetch_arrow_table().column("n")[0].as_py()
    assert n == 1000


def test_adbc_connects_with_a_username_and_password(gateway, source):
    with connect(gateway, db_kwargs={"username": "analyst", "password": "any-password"}) as conn:
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 AS one FROM {source}.{schema_of(source)}.products LIMIT 1")
            assert cur.fetch_arrow_table().column("one").to_pylist() == [1]


def test_get_objects_lists_catalogs_schemas_tables_and_columns(gateway, source):
    with connect(gateway) as conn:
        catalogs = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        assert source in [c["catalog_name"] for c in catalogs]
        objects = conn.adbc_get_objects(depth="all", catalog_filter=source).read_all().to_pylist()
        assert [o["catalog_name"] for o in objects] == [source]
        schemas = {s["db_schema_name"]: s for s in objects[0]["catalog_db_schemas"]}
        assert schema_of(source) in schemas
        tables = {t["table_name"]: t for t in schemas[schema_of(source)]["db_schema_tables"]}
        assert {"customers", "order_items", "orders", "products", "reviews"} <= set(tables)
        assert tables["orders"]["table_type"] == ("EXTERNAL TABLE" if source == "demo" else "TABLE")
        columns = [c["column_name"] for c in tables["orders"]["table_columns"]]
        assert columns == ["order_id", "customer_id", "order_date", "status"]
        schema = conn.adbc_get_table_schema("orders", catalog_filter=source, db_schema_filter=schema_of(source))
        # SQLite keeps dates as text (its declared-type rule maps DATE to Utf8).
        assert schema.field("order_date").type == (pa.string() if source == "sqdemo" else pa.date32())
        schemas_only = conn.adbc_get_objects(depth="db_schemas", catalog_filter=source).read_all().to_pylist()
        assert schema_of(source) in [s["db_schema_name"] for s in schemas_only[0]["catalog_db_schemas"]]
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


def test_a_bad_statement_gets_the_sources_message(gateway, source):
    with connect(gateway) as conn, conn.cursor() as cur:
        with pytest.raises(Exception) as err:
            cur.execute(f"SELECT nope FROM {source}.{schema_of(source)}.orders")
    assert "nope" in str(err.value)


def test_pyarrow_flight_handshake_returns_a_bearer_token(gateway):
    client = flight.connect(gateway)
    token = client.authenticate_basic_token("analyst", "secret")
    assert token[0] == b"authorization"
    assert token[1].startswith(b"Bearer ")


def test_a_prepared_statement_binds_parameters_of_several_types(gateway, demo_dir, source):
    want = demo_tables(demo_dir)["orders"].to_pylist()
    since = datetime.date(2023, 9, 1)

    def expected(status, limit):
        return sorted(r["order_id"] for r in want
                      if r["status"] == status and r["order_date"] >= since and r["customer_id"] < limit)

    # PostgreSQL numbers its parameters and tells their types; MySQL and
    # SQLite use `?` and leave types to the values bound.
    marks = ("$1", "$2", "$3") if source in ("demo", "pgdemo") else ("?", "?", "?")
    sql = (f"SELECT order_id FROM {source}.{schema_of(source)}.orders WHERE status = {marks[0]} "
           f"AND order_date >= {marks[1]} AND customer_id < {marks[2]} ORDER BY order_id")
    with connect(gateway) as conn, conn.cursor() as cur:
        if marks[0] == "$1":
            parameters = cur.adbc_prepare(sql)
            assert parameters.names == ["$1", "$2", "$3"]
            assert parameters.field("$1").type == pa.string()
            assert parameters.field("$2").type == pa.date32()
            assert parameters.field("$3").type == pa.int64()
        cur.execute(sql, parameters=("delivered", since, 500))
        got = cur.fetch_arrow_table().column("order_id").to_pylist()
        assert got == expected("delivered", 500) and len(got) > 10
        cur.execute(sql, parameters=("cancelled", since, 100))
        assert cur.fetch_arrow_table().column("order_id").to_pylist() == expected("cancelled", 100)


@pytest.fixture(scope="module")
def big_connector(dmesh_bin, gateway, tmp_path_factory):
    """A `files` connector holding a 1M-row table and a row with a 3 MB text value."""
    import numpy as np

    data = tmp_path_factory.mktemp("bigdata")
    n = 1_000_000
    pq.write_table(pa.table({"id": np.arange(n, dtype=np.int64), "x": np.arange(n, dtype=np.float64) * 0.5,
                             "tag": pa.array(["t%d" % (i % 97) for i in range(n)])}), data / "million.parquet")
    pq.write_table(pa.table({"id": [1, 2], "body": ["x" * (3 * 1024 * 1024), "short"]}), data / "wide_text.parquet")
    cli(dmesh_bin, gateway, "connector", "add", "files", "--name", "big", "--path", str(data))
    return "big"


def test_a_million_rows_arrive_whole_in_messages_clients_accept(gateway, big_connector):
    with connect(gateway) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, x, tag FROM {big_connector}.public.million")
        got = cur.fetch_arrow_table()
    assert got.num_rows == 1_000_000
    assert pc.sum(got["id"]).as_py() == 1_000_000 * 999_999 // 2


def test_a_million_rows_from_postgres(gateway, postgres_demo):
    sql = "SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000000) g"
    with connect(gateway, db_kwargs={"adbc.flight.sql.rpc.call_header.x-dmesh-connector": postgres_demo}) as conn:
        with conn.cursor() as cur:
            cur.execute(sql)
            got = cur.fetch_arrow_table()
    assert got.num_rows == 1_000_000
    assert pc.sum(got["id"]).as_py() == 1_000_000 * 1_000_001 // 2


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
        assert reader.read_next_batch().num_rows > 0
        cur.close()
        with conn.cursor() as again:
            again.execute(f"SELECT count(*) AS n FROM {big_connector}.public.million")
            assert again.fetch_arrow_table().column("n")[0].as_py() == 1_000_000


def test_get_objects_at_the_tables_and_columns_depths(gateway, source):
    with connect(gateway) as conn:
        tables = conn.adbc_get_objects(depth="tables", catalog_filter=source).read_all().to_pylist()
        listed = {t["table_name"] for s in tables[0]["catalog_db_schemas"] for t in s["db_schema_tables"]}
        assert {"customers", "orders", "products"} <= listed
        columns = conn.adbc_get_objects(depth="columns", catalog_filter=source, table_name_filter="orders",
                                        column_name_filter="order%").read_all().to_pylist()
        found = [c["column_name"] for s in columns[0]["catalog_db_schemas"] for t in s["db_schema_tables"]
                 for c in t["table_columns"]]
        assert found == ["order_id", "order_date"]


def test_a_second_flight_sql_client_flightsql_dbapi(gateway):
    """flightsql-dbapi: a Flight SQL client written apart from ADBC (pure Python over pyarrow.flight)."""
    from flightsql import FlightSQLClient

    host, port = gateway.removeprefix("grpc://").rsplit(":", 1)
    client = FlightSQLClient(host=host, port=int(port), insecure=True, metadata={"x-dmesh-connector": "demo"})
    info = client.execute("SELECT count(*) AS n FROM orders")
    assert client.do_get(info.endpoints[0].ticket).read_all().column("n")[0].as_py() == 5000
    info = client.get_tables(include_schema=True)
    tables = client.do_get(info.endpoints[0].ticket).read_all()
    assert "orders" in tables.column("table_name").to_pylist()


def test_updates_are_refused_with_permission_denied(gateway, source):
    with connect(gateway) as conn, conn.cursor() as cur:
        with pytest.raises(Exception) as err:
            cur.adbc_statement.set_sql_query(f"DELETE FROM {source}.{schema_of(source)}.orders")
            cur.adbc_statement.execute_update()
    assert "(PermissionDenied; ExecuteUpdate)" in str(err.value)
    assert "updates are refused" in str(err.value)


AUTH_TOKEN = "analyst-token-5f1c2d"


@pytest.fixture(scope="module")
def auth_gateway(dmesh_bin, demo_dir, tmp_path_factory):
    """A gateway that requires API tokens, serving the demo files."""
    import hashlib

    state = tmp_path_factory.mktemp("auth-state")
    config = state / "dmesh.toml"
    digest = hashlib.sha256(AUTH_TOKEN.encode()).hexdigest()
    config.write_text(f'[auth]\ntokens = [{{ principal = "analyst", sha256 = "{digest}" }}]\n\n'
                      f'[connectors.demo]\ntype = "files"\npath = "{demo_dir}"\n')
    with running_gateway(dmesh_bin, state, "--config", str(config)) as endpoint:
        yield endpoint


def test_adbc_with_a_principal_and_its_token_is_let_in(auth_gateway):
    with connect(auth_gateway, db_kwargs={"username": "analyst", "password": AUTH_TOKEN}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM demo.public.orders")
            assert cur.fetch_arrow_table().column("n")[0].as_py() == 5000


def test_adbc_with_a_wrong_password_or_none_is_refused(auth_gateway):
    for kwargs in [{"username": "analyst", "password": "wrong"}, {"username": "intruder", "password": AUTH_TOKEN}, {}]:
        with pytest.raises(Exception) as err:
            with connect(auth_gateway, db_kwargs=kwargs) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1 FROM demo.public.orders LIMIT 1")
                cur.fetch_arrow_table()
        assert "UNAUTHENTICATED" in str(err.value) or "Unauthenticated" in str(err.value), (kwargs, err.value)
        assert AUTH_TOKEN not in str(err.value)
