"""A throwaway MariaDB server on a free loopback port, for tests and benchmarks.

It uses the machine's MariaDB binaries (Debian's `mariadb-server` package;
DMESH_MARIADB_BINDIR points elsewhere), runs mariadbd with `--user=root` when
started as root, lets `root` in over its Unix socket only (for admin SQL, with
the `mariadb` client) and a password user over TCP, and deletes everything
when stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pgcluster import free_port

USER = "dmesh"
# Tests put it in connector configs; tests/run fails if it shows up in any log.
PASSWORD = "dmesh-canary-mariadb-python"


def tool(name: str, package: str = "mariadb-server") -> str:
    """A MariaDB program from DMESH_MARIADB_BINDIR, PATH, /usr/sbin or /usr/bin."""
    dirs = [os.environ["DMESH_MARIADB_BINDIR"]] if os.environ.get("DMESH_MARIADB_BINDIR") else []
    dirs += os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/bin"]
    for d in dirs:
        path = Path(d) / name
        if d and path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise SystemExit(f"MariaDB's {name} is not installed (Debian: apt-get install {package})")


class Server:
    """mariadbd on 127.0.0.1:`port`; `settings` are extra server options
    (`name: value`, or `name: None` for a flag)."""

    def __init__(self, settings: dict[str, str | None] | None = None):
        self.client = tool("mariadb", "mariadb-client")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dmesh-bench-mariadb-"))
        self.socket = self.dir / "mysqld.sock"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        try:
            subprocess.run([tool("mariadb-install-db"), "--no-defaults", f"--datadir={self.dir / 'data'}",
                            "--auth-root-authentication-method=normal", "--skip-test-db", *as_root],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            options: dict[str, str | None] = {
                "datadir": str(self.dir / "data"),
                "socket": str(self.socket),
                "port": str(self.port),
                "bind-address": "127.0.0.1",
                "skip-name-resolve": None,
                "skip-log-bin": None,
                "pid-file": str(self.dir / "mysqld.pid"),
                "log-error": str(self.dir / "server.log"),
                "character-set-server": "utf8mb4",
                "collation-server": "utf8mb4_general_ci",
                "innodb-flush-log-at-trx-commit": "0",
                "innodb-doublewrite": "0",
                "max-connections": "200",
            }
            options.update(settings or {})
            argv = [tool("mariadbd"), "--no-defaults", *as_root]
            argv += [f"--{k}" if v is None else f"--{k}={v}" for k, v in options.items()]
            with open(self.dir / "server.log", "ab") as log:
                # Its own process group: Ctrl-C stops Python, which then stops the server.
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             process_group=0)
            self._wait_ready()
            # root keeps only its socket login; USER logs in over TCP.
            self.sql(f"""
                DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
                DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
                FLUSH PRIVILEGES;
                CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';
                CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';
                GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';
                GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1';
            """)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sql("SELECT 1")
                return
            except RuntimeError as e:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"MariaDB did not come up: {e}\n{self.log()}") from None
                time.sleep(0.1)

    def sql(self, sql: str, database: str = "") -> str:
        """Runs SQL as root over the socket; tab-separated rows, no header."""
        argv = [self.client, "--no-defaults", f"--socket={self.socket}", "--user=root", "--batch",
                "--skip-column-names", "--raw", "--connect-timeout=5"]
        if database:
            argv.append(f"--database={database}")
        out = subprocess.run(argv, input=sql, capture_output=True, text=True)
        if out.returncode != 0:
            # The client echoes a failed statement, which may hold the password.
            raise RuntimeError(out.stderr.strip().replace(PASSWORD, "***"))
        return out.stdout.rstrip()

    def url(self, database: str) -> str:
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def connect_args(self, database: str) -> dict:
        """Keyword arguments for PyMySQL's (or mysqlclient's) connect()."""
        return {"host": "127.0.0.1", "port": self.port, "user": USER, "password": PASSWORD, "database": database}

    def log(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            proc = getattr(self, "proc", None)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
