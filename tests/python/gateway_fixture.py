"""Fixtures shared by the Python suites: a real `dmesh serve` on a free port."""

import contextlib
import os
import pathlib
import re
import signal
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary() -> str:
    path = os.environ.get("DMESH_BIN")
    if not path or not os.path.exists(path):
        pytest.fail("DMESH_BIN must name a built dmesh binary (tests/run sets it)")
    return path


@pytest.fixture(scope="session")
def dmesh_bin() -> str:
    return _binary()


@pytest.fixture(scope="session")
def demo_dir() -> pathlib.Path:
    return ROOT / "gateway" / "demo"


@contextlib.contextmanager
def started_process(argv, pattern, what, timeout=60, **popen):
    """Runs `argv` until its standard error prints a line matching `pattern`;
    yields the match's first group, then stops the process (SIGTERM, then SIGKILL)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)
    found = threading.Event()
    value = {}
    log = []

    log_dir = os.environ.get("DMESH_TEST_LOG_DIR")
    sink = open(os.path.join(log_dir, f"pytest-{os.getpid()}-{proc.pid}.log"), "w") if log_dir else None

    def read():
        for line in proc.stderr:
            log.append(line)
            if sink is not None:
                sink.write(line)
                sink.flush()
            m = re.search(pattern, line)
            if m and not found.is_set():
                value["value"] = m.group(1)
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout):
        proc.kill()
        proc.wait()
        pytest.fail(f"{what} did not start:\n" + "".join(log))
    try:
        yield value["value"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_gateway(dmesh_bin, state, *args):
    """`dmesh serve` on 127.0.0.1:0 with `args`; yields its Flight endpoint (grpc://...)."""
    argv = [dmesh_bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", str(state), *args]
    with started_process(argv, r"dmesh gateway listening addr=(\S+)", "the gateway") as address:
        yield f"grpc://{address}"


@pytest.fixture(scope="session")
def gateway(dmesh_bin, tmp_path_factory):
    """Starts `dmesh serve` on 127.0.0.1:0 and yields its Flight endpoint (grpc://...)."""
    with running_gateway(dmesh_bin, tmp_path_factory.mktemp("state")) as endpoint:
        yield endpoint
