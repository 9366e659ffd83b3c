"""Reading a PostgreSQL table whole: through dmesh's Flight hop vs direct readers.

Usage (tests/bench/run does all of this):

    python tests/bench/postgres_read.py --dmesh target/release/dmesh [--rows 5000000]

It starts a throwaway PostgreSQL cluster, loads a table of mixed types
(bigint, int, two doubles, a short and a long text, timestamptz, bool,
numeric(12,2), date), and in one run times a whole-table read into Arrow (or
Python rows, for psycopg) by each reader, in --repeat interleaved rounds,
keeping each reader's best:

  * dmesh: GetFlightInfo + DoGet with pyarrow.flight, the gateway reading with
    its `postgres` connector;
  * ADBC's PostgreSQL driver;
  * ConnectorX, on one connection and partitioned on the key (4 parts);
  * DuckDB's postgres scanner (the extension from the duckdb-extension-postgres
    package, loaded from a file);
  * psycopg, fetching rows;
  * the floors: psql receiving one binary COPY stream, and two over halves of
    the table, into /dev/null (no decoding at all).

Every Arrow result is checked against PostgreSQL's own count and sums. It then
prints rows/s, each reader's ratio to dmesh, the gateway's peak RSS, and
small-query latency p50/p99 (`SELECT 1`, a 10-row table) through dmesh, psycopg
and ADBC.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from common import Gateway, interleaved_best, print_latency, print_table, small_query_latency

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from pgcluster import Cluster  # noqa: E402

LOAD = """
CREATE TABLE wide (
  id bigint PRIMARY KEY, qty int, price float8, weight float8, tag text, note text,
  at timestamptz, flag bool, amount numeric(12,2), day date);
INSERT INTO wide
SELECT i, (i * 7919) % 1000, (i % 10007) / 100.0, ((i * 31) % 1000) / 1000.0,
       (ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta'])[1 + i % 8],
       repeat('lorem ipsum dolor sit amet ', 3) || (i % 64),
       timestamptz '2020-09-13 12:26:40+00' + i * interval '1 second', i % 2 = 0,
       ((i * 104729) % 1000000000) / 100.0, date '1970-01-01' + (i % 20000)::int
FROM generate_series(1::bigint, {rows}::bigint) i;
CREATE TABLE small AS SELECT i AS id, 'name ' || i AS name FROM generate_series(1, 10) i;
VACUUM ANALYZE wide;
VACUUM ANALYZE small;
"""


def duckdb_with_postgres(tmp: Path):
    """A DuckDB connection with the postgres extension loaded from the package's file."""
    import duckdb
    import duckdb_extension_postgres as ext

    src = None
    base = Path(ext.__file__).parent
    for p in base.rglob("*.duckdb_extension*"):
        src = p
        break
    if src is None:
        raise RuntimeError(f"no extension file under {base}")
    dst = tmp / "postgres_scanner.duckdb_extension"
    shutil.copy(src, dst)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false",
                                 "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{dst}'")
    return con


def check(table: pa.Table, expect: dict) -> None:
    assert table.num_rows == expect["rows"], (table.num_rows, expect["rows"])
    assert pc.sum(table["qty"]).as_py() == expect["qty"], "sum(qty)"
    col = table["amount"]
    if hasattr(col.type, "storage_type") or pa.types.is_string(col.type):
        # ADBC returns numeric as text (an extension type over strings).
        col = pa.chunked_array([getattr(c, "storage", c) for c in col.chunks])
        col = pc.cast(col, pa.decimal128(14, 2))
    amount = pc.sum(col).as_py()
    assert Decimal(str(amount)) == expect["amount"], ("sum(amount)", amount, expect["amount"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dmesh", required=True, help="the dmesh binary (a release build)")
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    import psycopg

    with tempfile.TemporaryDirectory() as tmp, Cluster() as pg:
        tmp = Path(tmp)
        print(f"loading {args.rows:,} rows of mixed types into PostgreSQL ...", flush=True)
        t0 = time.perf_counter()
        with psycopg.connect(pg.dsn(), autocommit=True) as c:
            for statement in LOAD.replace("{rows}", str(args.rows)).split(";\n"):
                if statement.strip():
                    c.execute(statement)
            rows, qty, amount, size = c.execute(
                "SELECT count(*), sum(qty), sum(amount), pg_total_relation_size('wide') FROM wide").fetchone()
        expect = {"rows": rows, "qty": qty, "amount": amount}
        print(f"loaded in {time.perf_counter() - t0:.0f}s: {size / 2**20:.0f} MiB on disk", flush=True)
        sql = "SELECT * FROM wide"
        env = dict(os.environ, BENCH_PG_PASSWORD=pg.dsn().split("password=")[1])
        connectors = (
            "[connectors.pg]\ntype = \"postgres\"\nhost = \"127.0.0.1\"\n"
            f"port = {pg.port}\ndatabase = \"postgres\"\nuser = \"postgres\"\n"
            "password = \"${env:BENCH_PG_PASSWORD}\"\ntls_mode = \"disable\"\n"
        )
        gw = Gateway(args.dmesh, connectors, tmp / "state", tmp / "dmesh.toml", env=env)
        import adbc_driver_postgresql.dbapi as adbc
        import connectorx as cx

        adbc_conn = adbc.connect(pg.url())
        psycopg_conn = psycopg.connect(pg.dsn())
        try:
            client = flight.connect(f"grpc://{gw.addr}")
            rss_before = gw.rss_mb()

            def dmesh_read(query: str) -> pa.Table:
                cmd = json.dumps({"connector": "pg", "sql": query})
                info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
                return client.do_get(info.endpoints[0].ticket).read_all()

            def adbc_read(query: str) -> pa.Table:
                with adbc_conn.cursor() as cur:
                    cur.execute(query)
                    return cur.fetch_arrow_table()

            def psycopg_read(query: str) -> list:
                with psycopg_conn.cursor() as cur:
                    cur.execute(query)
                    return cur.fetchall()

            readers = {
                "dmesh (Flight, postgres connector)": lambda: dmesh_read(sql),
                "ADBC PostgreSQL driver": lambda: adbc_read(sql),
                "ConnectorX (1 connection)": lambda: cx.read_sql(pg.url(), sql, return_type="arrow"),
                "ConnectorX (4 partitions)": lambda: cx.read_sql(pg.url(), sql, return_type="arrow",
                                                                 partition_on="id", partition_num=4),
            }
            try:
                con = duckdb_with_postgres(tmp)
                con.execute("SET threads = 2")
                con.execute(f"ATTACH '{pg.dsn()}' AS pg (TYPE postgres, READ_ONLY)")

                def duck_read():
                    r = con.sql("SELECT * FROM pg.public.wide").to_arrow_table()
                    return r.read_all() if isinstance(r, pa.RecordBatchReader) else r

                readers["DuckDB postgres scanner"] = duck_read
            except Exception as e:  # reported, not fatal: the other readers still count
                print(f"DuckDB's postgres scanner did not run: {e}", flush=True)
            readers["psycopg (Python rows)"] = lambda: psycopg_read(sql)

            # The floors: psql (C, libpq) writing binary COPY to /dev/null, the
            # least work any client can do to receive the table.
            psql = str(pg.bin / "psql") if (pg.bin / "psql").exists() else "psql"

            def copy_streams(queries: list[str]) -> None:
                procs = [subprocess.Popen([psql, "-X", "-q", pg.url(), "-c", f"COPY ({q}) TO STDOUT (FORMAT binary)"],
                                          stdout=subprocess.DEVNULL) for q in queries]
                for p in procs:
                    assert p.wait() == 0, "psql COPY failed"

            pages = psycopg_conn.execute(
                "SELECT pg_relation_size('wide') / current_setting('block_size')::int").fetchone()[0]
            psycopg_conn.rollback()
            half = pages // 2
            readers["floor: 1 binary COPY stream (psql)"] = lambda: copy_streams([sql])
            readers["floor: 2 binary COPY streams (psql)"] = lambda: copy_streams(
                [f"SELECT * FROM wide WHERE ctid < '({half},0)'::tid",
                 f"SELECT * FROM wide WHERE ctid >= '({half},0)'::tid"])

            results = interleaved_best(readers, args.repeat, lambda t: check(t, expect), expect["rows"])
            peak = gw.peak_rss_mb()
            dmesh_lat = small_query_latency(dmesh_read)
            adbc_lat = small_query_latency(adbc_read)
            psycopg_lat = small_query_latency(psycopg_read)
        finally:
            gw.stop()
            adbc_conn.close()
            psycopg_conn.close()

    print_table(f"read {args.rows:,} rows whole (best of {args.repeat})", args.rows, results,
                "dmesh (Flight, postgres connector)")
    print(f"\ngateway RSS: {rss_before:.0f} MiB idle, {peak:.0f} MiB peak while streaming")
    print_latency({"dmesh (Flight)": dmesh_lat, "psycopg direct": psycopg_lat, "ADBC direct": adbc_lat})
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rows": args.rows, "seconds": results, "gateway_peak_rss_mb": peak,
            "small_query_ms": {"dmesh": dmesh_lat, "psycopg": psycopg_lat, "adbc": adbc_lat},
        }, indent=2))


if __name__ == "__main__":
    main()
