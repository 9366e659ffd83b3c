"""Reading a Parquet table whole: through dmesh's Flight hop vs local readers.

Usage (tests/bench/run does all of this):

    python tests/bench/parquet_read.py --dmesh target/release/dmesh [--rows 5000000]

It writes a table of mixed types (bigint, int, two doubles, a short and a long
text, timestamp, bool, decimal(12,2), date) as one Parquet file, then in one run
times, best of --repeat runs each:

  * pyarrow.parquet.read_table on the local file;
  * DuckDB reading the local file into Arrow;
  * dmesh: GetFlightInfo + DoGet with pyarrow.flight into a pyarrow Table,
    the gateway reading the file with its `files` connector.

It prints rows/s, each reader's ratio to dmesh, the gateway's peak RSS while
streaming, and small-query latency (p50/p99 of `SELECT 1` through dmesh).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pyarrow.parquet as pq

from common import Gateway, best_of, percentiles, print_table


def make_table(rows: int) -> pa.Table:
    import numpy as np

    rng = np.random.default_rng(7)
    ids = np.arange(rows, dtype=np.int64)
    short = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    long_text = np.array([("lorem ipsum dolor sit amet " * 3) + str(i) for i in range(64)])
    return pa.table({
        "id": ids,
        "qty": rng.integers(0, 1000, rows, dtype=np.int32),
        "price": rng.random(rows) * 100,
        "weight": rng.random(rows),
        "tag": pa.array(short[rng.integers(0, len(short), rows)]),
        "note": pa.array(long_text[rng.integers(0, len(long_text), rows)]),
        "at": pa.array(1_600_000_000_000_000 + ids * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        "flag": rng.random(rows) < 0.5,
        "amount": pa.array(rng.integers(0, 10**9, rows), type=pa.int64()).cast(pa.decimal128(21, 2)).cast(pa.decimal128(12, 2)),
        "day": pa.array((ids % 20000).astype(np.int32), type=pa.date32()),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dmesh", required=True, help="the dmesh binary (a release build)")
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        print(f"writing {args.rows:,} rows of mixed types ...", flush=True)
        table = make_table(args.rows)
        pq.write_table(table, data / "wide.parquet", row_group_size=256 * 1024)
        size_mb = (data / "wide.parquet").stat().st_size / 2**20
        print(f"wide.parquet: {size_mb:.0f} MiB on disk, {table.nbytes / 2**20:.0f} MiB in Arrow", flush=True)
        expected_sum = pc.sum(table["qty"]).as_py()
        del table

        results = {}
        t, got = best_of(args.repeat, lambda: pq.read_table(data / "wide.parquet"))
        assert got.num_rows == args.rows
        results["pyarrow.parquet (local file)"] = t
        del got
        try:
            import duckdb

            con = duckdb.connect()
            path = str(data / "wide.parquet")
            t, got = best_of(args.repeat, lambda: con.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table())
            if isinstance(got, pa.RecordBatchReader):
                got = got.read_all()
            assert got.num_rows == args.rows
            results["duckdb (local file)"] = t
            del got
        except ImportError:
            print("duckdb is not installed; skipping it", flush=True)

        gw = Gateway(args.dmesh, f"[connectors.bench]\ntype = \"files\"\npath = \"{data}\"\n", tmp / "state",
                     tmp / "dmesh.toml")
        try:
            client = flight.connect(f"grpc://{gw.addr}")
            rss_before = gw.rss_mb()

            def via_dmesh():
                cmd = json.dumps({"connector": "bench", "sql": "SELECT * FROM wide"})
                info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
                return client.do_get(info.endpoints[0].ticket).read_all()

            t, got = best_of(args.repeat, via_dmesh)
            assert got.num_rows == args.rows
            assert pc.sum(got["qty"]).as_py() == expected_sum
            results["dmesh (Flight, files connector)"] = t
            del got
            peak = gw.peak_rss_mb()

            lat = []
            cmd = json.dumps({"connector": "bench", "sql": "SELECT 1"})
            for i in range(300):
                t0 = time.perf_counter()
                info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
                client.do_get(info.endpoints[0].ticket).read_all()
                if i >= 50:
                    lat.append((time.perf_counter() - t0) * 1000)
            p50, p99 = percentiles(lat)
        finally:
            gw.stop()

    print_table(f"read {args.rows:,} rows whole (best of {args.repeat})", args.rows, results,
                "dmesh (Flight, files connector)")
    print(f"\ngateway RSS: {rss_before:.0f} MiB idle, {peak:.0f} MiB peak while streaming")
    print(f"small query through dmesh (SELECT 1, GetFlightInfo + DoGet): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rows": args.rows, "seconds": results, "gateway_peak_rss_mb": peak,
            "small_query_ms": {"p50": p50, "p99": p99},
        }, indent=2))


if __name__ == "__main__":
    main()
