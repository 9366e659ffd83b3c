"""The READMEs' examples work: their Python blocks run against a gateway, the
output they show is what they print, and the MCP client config starts a server."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import anyio
import mcp

ROOT = pathlib.Path(__file__).resolve().parents[2]
SDK_README = ROOT / "sdk-python" / "README.md"
TOP_README = ROOT / "README.md"
DOC_ENDPOINT = "127.0.0.1:50051"


def blocks(path: pathlib.Path) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown file as (language, code), indented ones (in lists) too."""
    found: list[tuple[str, str]] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if stripped.startswith("```") and stripped != "```":
            indent = len(lines[i]) - len(stripped)
            language = stripped[3:].strip()
            body = []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            found.append((language, textwrap.dedent("\n".join(body)) if indent else "\n".join(body)))
        i += 1
    return found


def run_python(code: str, gateway: str, tmp_path: pathlib.Path) -> str:
    """Runs `code` as a script in a fresh interpreter, the documented endpoint pointing at `gateway`; returns stdout."""
    script = tmp_path / "example.py"
    script.write_text(code.replace(DOC_ENDPOINT, gateway.removeprefix("grpc://")))
    env = {k: v for k, v in os.environ.items() if k not in ("DMESH_TOKEN", "DMESH_ENDPOINT")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the README's example failed:\n{done.stderr}"
    return done.stdout


def test_the_sdk_readme_python_examples_run_and_print_what_it_shows(gateway, tmp_path):
    found = blocks(SDK_README)
    python = [code for language, code in found if language == "python"]
    assert len(python) >= 10
    assert python[0].splitlines() == [
        "import dmesh",
        'client = dmesh.Client("http://127.0.0.1:50051")',
        'print(client.query("demo", "SELECT status, count(*) AS n FROM orders GROUP BY status"))',
    ]
    out = run_python("\n\n".join(python), gateway, tmp_path)
    shown = [code for language, code in found if language == "text"]
    assert shown, "the README shows an agent tool's output"
    for text in shown:
        assert text in out
    assert "Truncation(limit='max_rows', value=1000)" in out
    assert "PERMISSION_DENIED READ_ONLY" in out


def test_the_top_readme_python_quick_start_runs(gateway, tmp_path):
    quick = [code for language, code in blocks(TOP_README) if language == "python" and "import dmesh" in code]
    assert len(quick) == 1 and len(quick[0].splitlines()) == 3
    out = run_python(quick[0], gateway, tmp_path)
    assert "status: string" in out and "n: int64" in out and "delivered" in out


def test_the_mcp_client_config_starts_a_working_server(gateway):
    configs = [json.loads(code) for language, code in blocks(SDK_README) if language == "json"]
    assert len(configs) == 1
    server = configs[0]["mcpServers"]["dmesh"]
    args = [a.replace(DOC_ENDPOINT, gateway.removeprefix("grpc://")) for a in server["args"]]
    assert server["command"] == "dmesh-mcp"
    params = mcp.StdioServerParameters(
        command=str(pathlib.Path(sys.executable).with_name(server["command"])), args=args, env=server["env"]
    )

    async def go() -> tuple[list[str], str]:
        async with mcp.Client(params) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("list_tables", {"connector": "demo"})
            return tools, result.content[0].text

    tools, tables = anyio.run(go)
    assert "run_query" in tools
    assert tables.startswith("5 tables in demo:")
