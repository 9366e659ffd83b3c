"""An MCP server offering the :mod:`dmesh.agent` tools, over stdio or streamable HTTP.

Run it as ``python -m dmesh.mcp`` or ``dmesh-mcp`` (install the ``mcp``
extra: ``pip install 'dmesh[mcp]'``)::

    dmesh-mcp --endpoint http://127.0.0.1:50051 --token "$DMESH_TOKEN"
    dmesh-mcp --transport http --host 127.0.0.1 --port 8765

Every tool is marked read-only (``readOnlyHint``), non-destructive and
idempotent, and reaches the gateway with the gateway's own authentication:
over stdio with ``--token`` (or ``$DMESH_TOKEN``); over HTTP with the
``Authorization: Bearer <token>`` header of each MCP request when it has one,
else with ``--token``. Over HTTP anyone who can reach the port acts with
``--token``'s rights, so leave it out to make every client bring its own.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any, Sequence

try:
    import anyio
    import mcp_types as types
    import uvicorn
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError("the dmesh MCP server needs the `mcp` package: pip install 'dmesh[mcp]'") from e

from . import _channel
from ._version import __version__
from .agent import TOOLS, Toolbox
from .client import Client

__all__ = ["build_server", "main"]

INSTRUCTIONS = (
    "dmesh is a gateway to data sources. Start with list_connectors, find tables with list_tables or "
    "search_tables, read their columns with describe_table, then answer with run_query (read-only SQL). "
    "Results are cut at a row limit and say so; prefer aggregates and filters."
)


def _mcp_tools() -> list[types.Tool]:
    return [
        types.Tool(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            input_schema=tool.parameters,
            annotations=types.ToolAnnotations(
                title=tool.title,
                read_only_hint=tool.read_only,
                destructive_hint=not tool.read_only,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        )
        for tool in TOOLS
    ]


def _bearer(request: Any) -> str | None:
    """The token of an HTTP request's ``Authorization: Bearer`` header; ``None`` on stdio or without one."""
    headers = getattr(request, "headers", None)
    value = headers.get("authorization") if headers is not None else None
    if not value or not value.lower().startswith("bearer "):
        return None
    return value[len("bearer ") :].strip() or None


def build_server(client: Client, *, max_rows: int = 50) -> Server[Any]:
    """The MCP server: the :data:`dmesh.agent.TOOLS` run by a :class:`~dmesh.agent.Toolbox` on ``client``.

    Tool calls run in worker threads, so a slow query does not hold up others.
    """
    tools = _mcp_tools()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        token = _bearer(ctx.request)
        caller = client.with_token(token) if token else client
        toolbox = Toolbox(caller, max_rows=max_rows)
        result = await anyio.to_thread.run_sync(toolbox.call, params.name, params.arguments or {})
        return types.CallToolResult(content=[types.TextContent(text=result.text)], is_error=result.is_error)

    return Server(
        "dmesh",
        version=__version__,
        title="dmesh gateway",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def _serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def _serve_http(server: Server[Any], host: str, port: int) -> None:
    app = server.streamable_http_app(host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"dmesh MCP server listening on http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    """The ``dmesh-mcp`` command."""
    parser = argparse.ArgumentParser(
        prog="dmesh-mcp",
        description="Serve the dmesh gateway's read-only tools over MCP.",
    )
    parser.add_argument(
        "--endpoint",
        default=None,
        help=f"the gateway (default: $DMESH_ENDPOINT, else {_channel.DEFAULT_ENDPOINT})",
    )
    parser.add_argument("--token", default=None, help="the gateway API token (default: $DMESH_TOKEN)")
    parser.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="how MCP clients connect (default: stdio)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="with --transport http: the address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="with --transport http: the port; 0 picks a free one (default: 8765)"
    )
    parser.add_argument("--max-rows", type=int, default=50, help="the most rows run_query returns (default: 50)")
    args = parser.parse_args(argv)
    if args.max_rows < 1:
        parser.error("--max-rows must be at least 1")
    client = Client(args.endpoint, token=args.token)
    server = build_server(client, max_rows=args.max_rows)
    try:
        if args.transport == "stdio":
            anyio.run(_serve_stdio, server)
        else:
            _serve_http(server, args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
