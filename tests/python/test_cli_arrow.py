"""Files written by `dmesh query` open in the tools users read them with."""

import subprocess

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq


def dmesh(dmesh_bin, gateway, *args):
    endpoint = gateway.replace("grpc://", "http://")
    return subprocess.run([dmesh_bin, "--endpoint", endpoint, *args], capture_output=True, text=True, check=True)


def test_pyarrow_reads_the_arrow_output(dmesh_bin, gateway, demo_dir, tmp_path):
    out = tmp_path / "items.arrow"
    dmesh(dmesh_bin, gateway, "query", "demo", "SELECT * FROM order_items ORDER BY order_id, line",
          "--format", "arrow", "--output", str(out))
    with ipc.open_stream(pa.OSFile(str(out))) as reader:
        got = reader.read_all()
    want = pq.read_table(demo_dir / "order_items").sort_by([("order_id", "ascending"), ("line", "ascending")])
    assert got.num_rows == want.num_rows > 10_000
    assert got.schema.names == ["order_id", "line", "product_id", "quantity", "unit_price"]
    for name in got.schema.names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name


def test_pyarrow_reads_the_parquet_and_csv_output(dmesh_bin, gateway, demo_dir, tmp_path):
    pq_out = tmp_path / "customers.parquet"
    dmesh(dmesh_bin, gateway, "query", "demo", "SELECT * FROM customers ORDER BY customer_id",
          "--format", "parquet", "--output", str(pq_out))
    want = pacsv.read_csv(demo_dir / "customers.csv")
    got = pq.read_table(pq_out)
    assert got.num_rows == want.num_rows == 1000
    assert got.column("email").to_pylist() == want.column("email").to_pylist()

    csv = dmesh(dmesh_bin, gateway, "query", "demo", "SELECT country, count(*) AS n FROM customers GROUP BY country ORDER BY country",
                "--format", "csv").stdout
    rows = csv.strip().splitlines()
    assert rows[0] == "country,n"
    assert sum(int(r.split(",")[1]) for r in rows[1:]) == 1000


def test_the_avro_table_matches_its_file(dmesh_bin, gateway, tmp_path):
    out = tmp_path / "reviews.arrow"
    dmesh(dmesh_bin, gateway, "query", "demo", "SELECT rating, count(*) AS n, count(comment) AS with_comment FROM reviews GROUP BY rating ORDER BY rating",
          "--format", "arrow", "--output", str(out))
    table = ipc.open_stream(pa.OSFile(str(out))).read_all()
    assert table.column("rating").to_pylist() == [1, 2, 3, 4, 5]
    assert sum(table.column("n").to_pylist()) == 2000
    assert 0 < sum(table.column("with_comment").to_pylist()) < 2000
