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
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pyarrow.parquet as pq


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


def best_of(n: int, fn):
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


class Gateway:
    def __init__(self, binary: str, data_dir: Path, state_dir: Path, config: Path):
        config.write_text(
            "[server]\nlisten = \"127.0.0.1:0\"\n"
            f"state_dir = \"{state_dir}\"\n\n"
            f"[connectors.bench]\ntype = \"files\"\npath = \"{data_dir}\"\n"
        )
        self.proc = subprocess.Popen([binary, "serve", "--config", str(config), "--log", "warn,dmesh_gateway=info"],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        found = threading.Event()
        self.addr = None

        def read():
            for line in self.proc.stderr:
                m = re.search(r"listening addr=(\S+)", line)
                if m and not found.is_set():
                    self.addr = m.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(60):
            self.proc.kill()
            sys.exit("the gateway did not start")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


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

        gw = Gateway(args.dmesh, data, tmp / "state", tmp / "dmesh.toml")
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
            lat.sort()
            p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
        finally:
            gw.stop()

    dm = results["dmesh (Flight, files connector)"]
    print(f"\nread {args.rows:,} rows whole (best of {args.repeat}):")
    print(f"{'reader':36} {'seconds':>8} {'Mrows/s':>8} {'dmesh speed vs it':>18}")
    for name, t in results.items():
        print(f"{name:36} {t:8.3f} {args.rows / t / 1e6:8.2f} {t / dm:17.2f}x")
    print(f"\ngateway RSS: {rss_before:.0f} MiB idle, {peak:.0f} MiB peak while streaming")
    print(f"small query through dmesh (SELECT 1, GetFlightInfo + DoGet): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rows": args.rows, "seconds": results, "gateway_peak_rss_mb": peak,
            "small_query_ms": {"p50": p50, "p99": p99},
        }, indent=2))


if __name__ == "__main__":
    main()
