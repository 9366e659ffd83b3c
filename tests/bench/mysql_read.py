"""Reading a MariaDB table whole: through dmesh's Flight hop vs direct readers.

Usage (tests/bench/run does all of this):

    python tests/bench/mysql_read.py --dmesh target/release/dmesh [--rows 5000000]

It starts a throwaway MariaDB server, loads a table of mixed types (bigint,
int, two doubles, a varchar and a text, datetime(6), tinyint(1),
decimal(12,2), date) from MariaDB's sequence engine, and in one run times a
whole-table read into Arrow (or Python rows, for PyMySQL) by each reader, in
--repeat interleaved rounds, keeping each reader's best:

  * dmesh: GetFlightInfo + DoGet with pyarrow.flight, the gateway reading with
    its `mysql` connector;
  * ConnectorX, on one connection and partitioned on the key (4 parts);
  * PyMySQL with an unbuffered cursor (SSCursor), fetching rows (mysqlclient,
    the C driver, needs MariaDB's development headers to build);
  * the `mariadb` client (C) streaming rows (`--quick --batch`) as text into
    /dev/null, one stream and two over halves of the key: the client's own
    fastest path, though not a floor, as it formats every value.

Every Arrow result is checked against MariaDB's own count and sums. It then
prints rows/s, each reader's ratio to dmesh, the gateway's peak RSS, and
small-query latency p50/p99 (`SELECT 1`, a 10-row table) through dmesh and
PyMySQL. --skip-dmesh runs the rest without a gateway.
"""

from __future__ import annotations

import argparse
import json
import os
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
from mariadbcluster import PASSWORD, USER, Server  # noqa: E402

DATABASE = "bench"
CHUNK = 500_000

CREATE = """
CREATE TABLE wide (
  id bigint PRIMARY KEY, qty int, price double, weight double, tag varchar(16), note text,
  at datetime(6), flag tinyint(1), amount decimal(12,2), day date) ENGINE=InnoDB;
CREATE TABLE small AS SELECT seq AS id, CONCAT('name ', seq) AS name FROM seq_1_to_10;
"""

# The same values as postgres_read.py's table, from the sequence engine.
INSERT = """
INSERT INTO wide
SELECT seq, (seq * 7919) % 1000, (seq % 10007) / 100.0, ((seq * 31) % 1000) / 1000.0,
       ELT(1 + seq % 8, 'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'),
       CONCAT(REPEAT('lorem ipsum dolor sit amet ', 3), seq % 64),
       TIMESTAMP '2020-09-13 12:26:40' + INTERVAL seq SECOND, seq % 2 = 0,
       ((seq * 104729) % 1000000000) / 100.0, DATE '1970-01-01' + INTERVAL (seq % 20000) DAY
FROM seq_{lo}_to_{hi};
"""


def check(table: pa.Table, expect: dict) -> None:
    assert table.num_rows == expect["rows"], (table.num_rows, expect["rows"])
    assert pc.sum(table["id"]).as_py() == expect["id"], "sum(id)"
    assert pc.sum(table["qty"]).as_py() == expect["qty"], "sum(qty)"
    col = table["amount"]
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.decimal128(14, 2))
    amount = pc.sum(col).as_py()
    if pa.types.is_floating(col.type):
        assert abs(amount - float(expect["amount"])) <= 1e-9 * float(expect["amount"]), ("sum(amount)", amount)
    else:
        assert Decimal(str(amount)) == expect["amount"], ("sum(amount)", amount, expect["amount"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dmesh", help="the dmesh binary (a release build)")
    ap.add_argument("--skip-dmesh", action="store_true", help="time the other readers only")
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    if not args.dmesh and not args.skip_dmesh:
        ap.error("--dmesh is required unless --skip-dmesh")

    import connectorx as cx
    import pymysql
    import pymysql.cursors

    # A buffer pool that holds the table, as PostgreSQL's reads come from
    # memory too (InnoDB reads with O_DIRECT, bypassing the page cache).
    settings = {"innodb-buffer-pool-size": "2G", "innodb-log-file-size": "512M"}
    with tempfile.TemporaryDirectory() as tmp, Server(settings) as db:
        tmp = Path(tmp)
        print(f"loading {args.rows:,} rows of mixed types into MariaDB ...", flush=True)
        t0 = time.perf_counter()
        db.sql(f"CREATE DATABASE {DATABASE}")
        db.sql(CREATE, DATABASE)
        for lo in range(1, args.rows + 1, CHUNK):
            db.sql(INSERT.format(lo=lo, hi=min(lo + CHUNK - 1, args.rows)), DATABASE)
        db.sql("ANALYZE TABLE wide, small", DATABASE)
        rows, ids, qty, amount = db.sql("SELECT COUNT(*), SUM(id), SUM(qty), SUM(amount) FROM wide", DATABASE).split()
        expect = {"rows": int(rows), "id": int(ids), "qty": int(qty), "amount": Decimal(amount)}
        size = int(db.sql(f"SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                          f"WHERE TABLE_SCHEMA = '{DATABASE}' AND TABLE_NAME = 'wide'"))
        print(f"loaded in {time.perf_counter() - t0:.0f}s: {size / 2**20:.0f} MiB on disk", flush=True)
        sql = "SELECT * FROM wide"
        url = db.url(DATABASE)

        gw = None
        if not args.skip_dmesh:
            env = dict(os.environ, BENCH_MARIADB_PASSWORD=PASSWORD)
            connectors = (
                "[connectors.my]\ntype = \"mysql\"\nhost = \"127.0.0.1\"\n"
                f"port = {db.port}\ndatabase = \"{DATABASE}\"\nuser = \"{USER}\"\n"
                "password = \"${env:BENCH_MARIADB_PASSWORD}\"\ntls_mode = \"disable\"\n"
            )
            gw = Gateway(args.dmesh, connectors, tmp / "state", tmp / "dmesh.toml", env=env)
        pymysql_conn = pymysql.connect(**db.connect_args(DATABASE), cursorclass=pymysql.cursors.SSCursor)
        try:
            readers = {}
            if gw is not None:
                client = flight.connect(f"grpc://{gw.addr}")
                rss_before = gw.rss_mb()

                def dmesh_read(query: str) -> pa.Table:
                    cmd = json.dumps({"connector": "my", "sql": query})
                    info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
                    return pa.concat_tables([client.do_get(e.ticket).read_all() for e in info.endpoints])

                readers["dmesh (Flight, mysql connector)"] = lambda: dmesh_read(sql)

            def pymysql_read(query: str) -> list:
                with pymysql_conn.cursor() as cur:
                    cur.execute(query)
                    return cur.fetchall()

            readers["ConnectorX (1 connection)"] = lambda: cx.read_sql(url, sql, return_type="arrow")
            readers["ConnectorX (4 partitions)"] = lambda: cx.read_sql(url, sql, return_type="arrow",
                                                                       partition_on="id", partition_num=4)
            readers["PyMySQL SSCursor (Python rows)"] = lambda: pymysql_read(sql)

            # The mariadb client (C, libmariadb) streaming rows (--quick) as
            # tab-separated text into /dev/null.
            def client_streams(queries: list[str]) -> None:
                argv = [db.client, "--no-defaults", "-h", "127.0.0.1", "-P", str(db.port), "-u", USER,
                        "--quick", "--batch", DATABASE, "-e"]
                env = dict(os.environ, MYSQL_PWD=PASSWORD)
                procs = [subprocess.Popen(argv + [q], stdout=subprocess.DEVNULL, env=env) for q in queries]
                for p in procs:
                    assert p.wait() == 0, "the mariadb client failed"

            half = expect["rows"] // 2
            readers["mariadb client --quick --batch (1 stream)"] = lambda: client_streams([sql])
            readers["mariadb client --quick --batch (2 streams)"] = lambda: client_streams(
                [f"{sql} WHERE id <= {half}", f"{sql} WHERE id > {half}"])

            results = interleaved_best(readers, args.repeat, lambda t: check(t, expect), expect["rows"])
            peak = gw.peak_rss_mb() if gw is not None else None
            lat = {}
            if gw is not None:
                lat["dmesh (Flight)"] = small_query_latency(dmesh_read)
            lat["PyMySQL direct"] = small_query_latency(pymysql_read)
        finally:
            if gw is not None:
                gw.stop()
            pymysql_conn.close()

    reference = "dmesh (Flight, mysql connector)" if gw is not None else "ConnectorX (1 connection)"
    print_table(f"read {args.rows:,} rows whole (best of {args.repeat})", args.rows, results, reference)
    if gw is None:
        print("(--skip-dmesh: the last column compares each reader with ConnectorX on one connection)")
    else:
        print(f"\ngateway RSS: {rss_before:.0f} MiB idle, {peak:.0f} MiB peak while streaming")
    print_latency(lat)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rows": args.rows, "seconds": results, "gateway_peak_rss_mb": peak, "small_query_ms": lat,
        }, indent=2))


if __name__ == "__main__":
    main()
