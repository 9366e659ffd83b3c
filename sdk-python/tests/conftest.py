"""Fixtures of the SDK suite: the shared `dmesh serve` fixtures from
tests/python/gateway_fixture.py, gateways with auth and TLS configs, and clients."""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "python"))

from gateway_fixture import demo_dir, dmesh_bin, gateway, running_gateway  # noqa: E402,F401
from sdk_tokens import ADMIN_TOKEN, ANALYST_TOKEN  # noqa: E402

import dmesh  # noqa: E402


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="session")
def client(gateway):
    """A sync client on the shared demo gateway (no authentication)."""
    with dmesh.Client(gateway) as c:
        yield c


@pytest.fixture(scope="session")
def auth_gateway(dmesh_bin, demo_dir, tmp_path_factory):
    """A gateway that requires tokens: `admin` may do anything, `analyst` may only use `demo`.

    It also serves `hidden` (the demo files again, outside the analyst's allow-list)."""
    state = tmp_path_factory.mktemp("auth-state")
    config = state / "dmesh.toml"
    config.write_text(
        "[auth]\ntokens = [\n"
        f'  {{ principal = "admin", sha256 = "{sha256(ADMIN_TOKEN)}", connectors = ["*"], admin = true }},\n'
        f'  {{ principal = "analyst", sha256 = "{sha256(ANALYST_TOKEN)}", connectors = ["demo"] }},\n'
        "]\n\n"
        f'[connectors.demo]\ntype = "files"\npath = "{demo_dir}"\n\n'
        f'[connectors.hidden]\ntype = "files"\npath = "{demo_dir}"\n'
    )
    with running_gateway(dmesh_bin, state, "--config", str(config)) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def tls_gateway(dmesh_bin, demo_dir, tmp_path_factory):
    """A gateway speaking TLS with a certificate for localhost from a throwaway CA; yields (endpoint, CA PEM path)."""
    state = tmp_path_factory.mktemp("tls-state")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=state, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=dmesh test CA",
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"
    )
    (state / "san.ext").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    config = state / "dmesh.toml"
    config.write_text(
        f'[server.tls]\ncert = "{state / "server.crt"}"\nkey = "{state / "server.key"}"\n\n'
        f'[connectors.demo]\ntype = "files"\npath = "{demo_dir}"\n'
    )
    with running_gateway(dmesh_bin, state, "--config", str(config)) as endpoint:
        port = endpoint.rsplit(":", 1)[1]
        yield f"grpc+tls://localhost:{port}", state / "ca.crt"
