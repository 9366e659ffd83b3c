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


def print_table(title: str, rows: int, results: dict[str, float], reference: str) -> None:
    """Seconds, rows/s and each reader's time relative to `reference`."""
    ref = results[reference]
    print(f"\n{title}:")
    print(f"{'reader':44} {'seconds':>8} {'Mrows/s':>8} {'dmesh speed vs it':>18}")
    for name, t in results.items():
        print(f"{name:44} {t:8.3f} {rows / t / 1e6:8.2f} {t / ref:17.2f}x")
