"""What the benchmarks share: timing, and a dmesh gateway run from a config."""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa


def best_of(n: int, fn):
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


class Gateway:
    """`dmesh serve` with `connectors` (TOML text for [connectors.*] tables)."""

    def __init__(self, binary: str, connectors: str, state_dir: Path, config: Path, env: dict | None = None):
        config.write_text(
            "[server]\nlisten = \"127.0.0.1:0\"\n"
            f"state_dir = \"{state_dir}\"\n\n" + connectors
        )
        self.proc = subprocess.Popen([binary, "serve", "--config", str(config), "--log", "warn,dmesh_gateway=info"],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
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


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """p50 and p99 of latency samples."""
    s = sorted(samples_ms)
    return statistics.median(s), s[max(0, int(len(s) * 0.99) - 1)]


# The small queries the SQL benchmarks time; each loads a 10-row table `small`.
SMALL_QUERIES = {"SELECT 1": "SELECT 1", "10-row table": "SELECT * FROM small"}


def interleaved_best(readers: dict, repeat: int, check_table, rows: int) -> dict[str, float]:
    """Each reader's best time over `repeat` rounds. Rounds interleave the
    readers, so a slow spell of the machine does not fall on one reader
    alone. `check_table` sees every Arrow result; row lists must hold `rows`."""
    results: dict[str, float] = {}
    for round_no in range(repeat):
        for name, read in readers.items():
            t0 = time.perf_counter()
            got = read()
            elapsed = time.perf_counter() - t0
            if isinstance(got, pa.Table):
                check_table(got)
            elif isinstance(got, (list, tuple)):
                assert len(got) == rows, (name, len(got), rows)
            del got
            results[name] = min(results.get(name, float("inf")), elapsed)
        print(f"round {round_no + 1} of {repeat} done", flush=True)
    return results


def small_query_latency(read, runs: int = 400, warmup: int = 50) -> dict[str, tuple[float, float]]:
    """p50 and p99 milliseconds of `read(sql)` for each of SMALL_QUERIES,
    the first `warmup` runs left out."""
    out = {}
    for name, sql in SMALL_QUERIES.items():
        lat = []
        for i in range(runs):
            t0 = time.perf_counter()
            read(sql)
            if i >= warmup:
                lat.append((time.perf_counter() - t0) * 1000)
        out[name] = percentiles(lat)
    return out


def print_latency(by_reader: dict[str, dict[str, tuple[float, float]]]) -> None:
    """small_query_latency's figures, a column per reader."""
    print("\nsmall queries, milliseconds (p50 / p99):")
    print(f"{'query':14}" + "".join(f" {reader:>18}" for reader in by_reader))
    for query in SMALL_QUERIES:
        cells = (f"{lat[query][0]:.2f} / {lat[query][1]:.2f}" for lat in by_reader.values())
        print(f"{query:14}" + "".join(f" {cell:>18}" for cell in cells))


def print_table(title: str, rows: int, results: dict[str, float], reference: str) -> None:
    """Seconds, rows/s and each reader's time relative to `reference`."""
    ref = results[reference]
    print(f"\n{title}:")
    print(f"{'reader':44} {'seconds':>8} {'Mrows/s':>8} {'dmesh speed vs it':>18}")
    for name, t in results.items():
        print(f"{name:44} {t:8.3f} {rows / t / 1e6:8.2f} {t / ref:17.2f}x")
