"""`python -m dmesh.mcp` through the `mcp` package's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import anyio
import httpx2
import mcp
from gateway_fixture import started_process
from mcp.client.streamable_http import streamable_http_client
from sdk_tokens import ANALYST_TOKEN

from dmesh.agent import TOOLS

CALLS = {
    "list_connectors": ({}, "- demo (files; query, catalog)"),
    "list_tables": ({"connector": "demo"}, "- public.orders (external, parquet)"),
    "search_tables": ({"query": "email"}, "- demo: public.customers (matching columns: email)"),
    "describe_table": ({"connector": "demo", "table": "orders"}, "- order_id int64 not null"),
    "run_query": (
        {"connector": "demo", "sql": "SELECT count(*) AS n FROM orders"},
        "columns: n int64\nrows: 1\nn\n5000",
    ),
    "explain_query": ({"connector": "demo", "sql": "SELECT count(*) FROM orders"}, "physical_plan:"),
}


def stdio(*args: str, command: str = sys.executable, env: dict[str, str] | None = None) -> mcp.StdioServerParameters:
    """The server started by the client over stdio: `python -m dmesh.mcp ARGS`, or another command."""
    prefix = ["-m", "dmesh.mcp"] if command == sys.executable else []
    return mcp.StdioServerParameters(command=command, args=[*prefix, *args], env=env)


def http_server(*args: str):
    """`python -m dmesh.mcp --transport http --port 0 ARGS` (without $DMESH_TOKEN); yields its MCP URL."""
    return started_process(
        [sys.executable, "-m", "dmesh.mcp", "--transport", "http", "--port", "0", *args],
        r"listening on (http://\S+)",
        "the MCP server",
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "DMESH_TOKEN"},
    )


def http(url: str, token: str | None = None):
    """A streamable HTTP transport to `url`, sending `Authorization: Bearer token` when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30))


async def exercise(server) -> None:
    """Lists the tools, calls each, and has a write refused."""
    async with mcp.Client(server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert list(listed) == [t.name for t in TOOLS]
        for tool in TOOLS:
            got = listed[tool.name]
            assert got.input_schema == tool.parameters
            assert got.description == tool.description
            assert got.annotations.read_only_hint is True
            assert got.annotations.destructive_hint is False
            assert got.annotations.idempotent_hint is True
            assert got.annotations.open_world_hint is False
        for name, (arguments, expected) in CALLS.items():
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            assert expected in result.content[0].text, (name, result.content[0].text)
        refused = await client.call_tool("run_query", {"connector": "demo", "sql": "DROP TABLE orders"})
        assert refused.is_error
        assert refused.content[0].text.startswith("error [PERMISSION_DENIED]: ")
        still = await client.call_tool("run_query", {"connector": "demo", "sql": "SELECT count(*) AS n FROM orders"})
        assert still.content[0].text.endswith("\n5000")


async def connectors_seen(server) -> str:
    async with mcp.Client(server) as client:
        result = await client.call_tool("list_connectors", {})
        return ("error " if result.is_error else "") + result.content[0].text


def test_stdio_lists_and_calls_every_tool(gateway):
    anyio.run(exercise, stdio("--endpoint", gateway, "--max-rows", "10"))


def test_streamable_http_lists_and_calls_every_tool(gateway):
    with http_server("--endpoint", gateway) as url:
        anyio.run(exercise, http(url))


def test_max_rows_bounds_run_query(gateway):
    async def go() -> str:
        async with mcp.Client(stdio("--endpoint", gateway, "--max-rows", "3")) as client:
            result = await client.call_tool("run_query", {"connector": "demo", "sql": "SELECT * FROM orders"})
            return result.content[0].text

    text = anyio.run(go)
    assert text.splitlines()[1].startswith("rows: 3 shown; the result was truncated at 3 rows")
    assert len(text.splitlines()) == 2 + 1 + 3


def test_stdio_reaches_the_gateway_with_the_token(auth_gateway):
    assert anyio.run(connectors_seen, stdio("--endpoint", auth_gateway, "--token", ANALYST_TOKEN)).startswith(
        "1 connector:\n- demo"
    )
    script = pathlib.Path(sys.executable).with_name("dmesh-mcp")
    from_env = stdio(command=str(script), env={"DMESH_ENDPOINT": auth_gateway, "DMESH_TOKEN": ANALYST_TOKEN})
    assert anyio.run(connectors_seen, from_env).startswith("1 connector:\n- demo")
    without = anyio.run(connectors_seen, stdio("--endpoint", auth_gateway, "--token", "wrong"))
    assert without.startswith("error error [UNAUTHENTICATED]: ")


def test_http_passes_each_callers_token_to_the_gateway(auth_gateway):
    with http_server("--endpoint", auth_gateway) as url:
        assert anyio.run(connectors_seen, http(url, ANALYST_TOKEN)).startswith("1 connector:\n- demo")
        assert anyio.run(connectors_seen, http(url)).startswith("error error [UNAUTHENTICATED]: ")
        assert anyio.run(connectors_seen, http(url, "wrong")).startswith("error error [UNAUTHENTICATED]: ")
    with http_server("--endpoint", auth_gateway, "--token", ANALYST_TOKEN) as url:
        assert anyio.run(connectors_seen, http(url)).startswith("1 connector:\n- demo")
