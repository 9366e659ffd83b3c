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
def running_gateway(dmesh_bin, state, *args):
    """`dmesh serve` on 127.0.0.1:0 with `args`; yields its Flight endpoint (grpc://...)."""
    proc = subprocess.Popen(
        [dmesh_bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", str(state), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = threading.Event()
    address = {}
    log = []

    def read():
        for line in proc.stderr:
            log.append(line)
            m = re.search(r"dmesh gateway listening addr=(\S+)", line)
            if m and not found.is_set():
                address["addr"] = m.group(1)
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(60):
        proc.kill()
        pytest.fail("the gateway did not start:\n" + "".join(log))
    try:
        yield f"grpc://{address['addr']}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def gateway(dmesh_bin, tmp_path_factory):
    """Starts `dmesh serve` on 127.0.0.1:0 and yields its Flight endpoint (grpc://...)."""
    with running_gateway(dmesh_bin, tmp_path_factory.mktemp("state")) as endpoint:
        yield endpoint
