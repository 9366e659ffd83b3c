"""A throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks.

It uses the machine's PostgreSQL binaries (Debian's `postgresql` package),
runs them as the `postgres` OS user when started as root, asks for a password
(SCRAM) on TCP, and deletes everything when stopped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"
# Tests put it in connector configs; tests/run fails if it shows up in any log.
PASSWORD = "dmesh-canary-pg-python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bindir() -> Path:
    if os.environ.get("DMESH_PG_BINDIR"):
        return Path(os.environ["DMESH_PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


class Cluster:
    def __init__(self, settings: dict[str, str] | None = None):
        self.bin = bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dmesh-bench-pg-"))
        self.as_postgres = os.geteuid() == 0
        (self.dir / "pw").write_text(PASSWORD)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.dir / "pw", "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
                  "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={self.dir / 'pw'}")
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "512MB",
            "max_connections": "100",
            "max_wal_size": "4GB",
        }
        options.update(settings or {})
        opts = f"-p {self.port} " + " ".join(f"-c {k}={v}" for k, v in options.items())
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", opts, "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={SUPERUSER} password={PASSWORD}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)
