"""The gateway's read-only abilities as tools for LLM function calling.

:data:`TOOLS` describes each tool with a JSON Schema for its arguments;
:class:`Toolbox` runs a tool call against a gateway and answers with compact
text shaped for a model: bounded in rows, cell width and total length, the
schema before the rows, and an explicit notice whenever something was cut::

    import dmesh
    from dmesh.agent import Toolbox

    toolbox = Toolbox(dmesh.Client("http://127.0.0.1:50051"), max_rows=20)
    tools = toolbox.openai_tools()          # or anthropic_tools(), or TOOLS
    # ... the model answers with a tool call (name, arguments) ...
    result = toolbox.call("run_query", {"connector": "demo", "sql": "SELECT count(*) FROM orders"})
    print(result.text)                      # send back as the tool's output

Every tool only reads. ``run_query`` takes one read-only statement; the
gateway refuses writes with ``PERMISSION_DENIED``, which the tool reports as an
error result for the model to read. The same tools are served over MCP by
``python -m dmesh.mcp``.
"""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pyarrow as pa

from .client import Client
from .errors import DmeshError, InvalidArgument, Unimplemented
from .types import SearchHit, TableInfo

__all__ = ["TOOLS", "Tool", "ToolResult", "Toolbox"]


@dataclass(frozen=True)
class Tool:
    """A tool's definition: its name, what it does and the JSON Schema of its arguments."""

    name: str
    #: A short human-readable name.
    title: str
    description: str
    #: JSON Schema (an object) of the arguments.
    parameters: dict[str, Any]
    #: Whether the tool only reads (every dmesh tool does).
    read_only: bool = True

    def to_openai(self) -> dict[str, Any]:
        """The definition in OpenAI's function-calling form (``tools=[...]`` of the Chat Completions API)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The definition in Anthropic's tool-use form (``tools=[...]`` of the Messages API)."""
        return {"name": self.name, "description": self.description, "input_schema": self.parameters}


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: text for the model, and whether the call failed."""

    text: str
    is_error: bool = False


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_CONNECTOR = {"type": "string", "description": "The connector name, as list_connectors shows it."}
_SQL = {
    "type": "string",
    "description": "One read-only SQL statement (SELECT or WITH ... SELECT) in the connector's dialect.",
}

#: The tools, in the order an agent usually needs them.
TOOLS: tuple[Tool, ...] = (
    Tool(
        name="list_connectors",
        title="List data sources",
        description="List the data sources (connectors) this gateway offers, with their kind and description. "
        "Call this first: every other tool needs a connector name.",
        parameters=_schema({}, []),
    ),
    Tool(
        name="list_tables",
        title="List tables",
        description="List the tables of one connector, with their type, format and estimated row counts.",
        parameters=_schema(
            {"connector": _CONNECTOR, "schema": {"type": "string", "description": "Only tables in this schema."}},
            ["connector"],
        ),
    ),
    Tool(
        name="search_tables",
        title="Search tables",
        description="Find tables whose names, columns or descriptions match some words, best match first. "
        "Searches every connector unless one is given.",
        parameters=_schema(
            {
                "query": {"type": "string", "description": "Words to look for, e.g. 'customer email'."},
                "connector": {"type": "string", "description": "Search only this connector."},
            },
            ["query"],
        ),
    ),
    Tool(
        name="describe_table",
        title="Describe a table",
        description="Show a table's columns with their types, nullability and descriptions. "
        "Use it before writing a query on the table.",
        parameters=_schema(
            {
                "connector": _CONNECTOR,
                "table": {"type": "string", "description": "The table: name or schema.name, as list_tables shows it."},
            },
            ["connector", "table"],
        ),
    ),
    Tool(
        name="run_query",
        title="Run a read-only SQL query",
        description="Run one read-only SQL query on a connector and get the result as CSV, the columns and their "
        "types first. Results are cut at a row limit, and the output says so when they are: prefer aggregates, "
        "filters and LIMIT over reading many rows. Statements that write are refused.",
        parameters=_schema(
            {
                "connector": _CONNECTOR,
                "sql": _SQL,
                "max_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Return at most this many rows (capped by the server).",
                },
            },
            ["connector", "sql"],
        ),
    ),
    Tool(
        name="explain_query",
        title="Explain a query",
        description="Show how a SQL query would run (its plan) without running it; "
        "useful to check a query or its cost.",
        parameters=_schema({"connector": _CONNECTOR, "sql": _SQL}, ["connector", "sql"]),
    ),
)

_BY_NAME = {tool.name: tool for tool in TOOLS}


class _ArgumentError(InvalidArgument):
    def __init__(self, message: str) -> None:
        super().__init__("INVALID_ARGUMENT", message)


def _argument(args: Mapping[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = args.get(name)
    if value is None:
        if required:
            raise _ArgumentError(f"`{name}` is required")
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _ArgumentError(f"`{name}` must be {'an integer' if kind is int else 'a string'}")
    return value


def _cell(value: Any, width: int) -> str:
    """One value as compact text, at most ``width`` characters."""
    if value is None:
        text = "NULL"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        text = value.isoformat()
    elif isinstance(value, (bytes, bytearray)):
        text = "base64:" + base64.b64encode(value).decode()
    elif isinstance(value, (list, dict, tuple)):
        text = json.dumps(value, default=str, ensure_ascii=False)
    elif isinstance(value, decimal.Decimal):
        text = str(value)
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _facts(info: TableInfo) -> str:
    """``external, parquet, ~5000 rows``."""
    facts = [info.type] + ([info.format] if info.format else [])
    if info.row_estimate is not None:
        facts.append(f"~{info.row_estimate} rows")
    return ", ".join(facts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Toolbox:
    """Runs the :data:`TOOLS` against one gateway.

    Args:
        client: The gateway connection; its token decides what the tools may see.
        max_rows: The most rows ``run_query`` returns; a call may ask for fewer.
        max_cell_chars: Longer values are cut, ending in ``…``.
        max_chars: The most characters of one answer; rows past it are left out, with a notice.
        max_items: The most tables or matches one listing shows.
    """

    def __init__(
        self,
        client: Client,
        *,
        max_rows: int = 50,
        max_cell_chars: int = 200,
        max_chars: int = 20_000,
        max_items: int = 200,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.client = client
        self.max_rows = max_rows
        self.max_cell_chars = max_cell_chars
        self.max_chars = max_chars
        self.max_items = max_items
        self._handlers: dict[str, Callable[[Mapping[str, Any]], str]] = {
            "list_connectors": self._list_connectors,
            "list_tables": self._list_tables,
            "search_tables": self._search_tables,
            "describe_table": self._describe_table,
            "run_query": self._run_query,
            "explain_query": self._explain_query,
        }

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The tool definitions."""
        return TOOLS

    def openai_tools(self) -> list[dict[str, Any]]:
        """The definitions in OpenAI's function-calling form."""
        return [tool.to_openai() for tool in TOOLS]

    def anthropic_tools(self) -> list[dict[str, Any]]:
        """The definitions in Anthropic's tool-use form."""
        return [tool.to_anthropic() for tool in TOOLS]

    def call(self, name: str, arguments: Mapping[str, Any] | str | None = None) -> ToolResult:
        """Runs one tool call; ``arguments`` is a mapping or the JSON text a model wrote.

        Failures — unknown tools, bad arguments, and every error the gateway
        reports — come back as a :class:`ToolResult` with ``is_error`` set and
        a message the model can act on, never as exceptions.
        """
        handler = self._handlers.get(name)
        if handler is None:
            return ToolResult(f"error: unknown tool `{name}`; the tools are: {', '.join(_BY_NAME)}", is_error=True)
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
        except ValueError as e:
            return ToolResult(f"error [INVALID_ARGUMENT]: the arguments are not valid JSON: {e}", is_error=True)
        try:
            if not isinstance(args, dict):
                raise _ArgumentError("the arguments must be a JSON object")
            unknown = sorted(set(args) - set(_BY_NAME[name].parameters["properties"]))
            if unknown:
                raise _ArgumentError(f"unknown argument(s) {', '.join(unknown)} for `{name}`")
            return ToolResult(self._bounded(handler(args)))
        except DmeshError as e:
            hint = " (retrying later may help)" if e.retryable else ""
            return ToolResult(f"error [{e.code}]: {e.message}{hint}", is_error=True)

    def _listing(self, lines: list[str], what: str, narrow: str) -> str:
        """A heading and one line per item, cut at ``max_items`` items with a notice."""
        items = len(lines) - 1
        if items <= self.max_items:
            return "\n".join(lines)
        shown = lines[: self.max_items + 1]
        return "\n".join([*shown, f"[{items - self.max_items} more {what} not shown; {narrow}]"])

    def _bounded(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        cut = text[: self.max_chars].rsplit("\n", 1)[0]
        return f"{cut}\n[output cut at {self.max_chars} characters]"

    def _list_connectors(self, args: Mapping[str, Any]) -> str:
        connectors = self.client.connectors()
        if not connectors:
            return "No connectors are available to this caller."
        lines = [f"{_plural(len(connectors), 'connector')}:"]
        for c in connectors:
            about = f": {c.description}" if c.description else ""
            lines.append(f"- {c.name} ({c.kind}; {', '.join(c.families)}){about}")
        return "\n".join(lines)

    def _list_tables(self, args: Mapping[str, Any]) -> str:
        connector = _argument(args, "connector", str)
        schema = _argument(args, "schema", str, required=False)
        tables = self.client.tables(connector, schema)
        if not tables:
            return f"No tables in {connector}" + (f" schema {schema}." if schema else ".")
        lines = [f"{_plural(len(tables), 'table')} in {connector}:"]
        for info in tables:
            about = f": {info.description}" if info.description else ""
            lines.append(f"- {info.name} ({_facts(info)}){about}")
        return self._listing(lines, "tables", "pass `schema` to narrow the list")

    def _search_tables(self, args: Mapping[str, Any]) -> str:
        text = _argument(args, "query", str)
        connector = _argument(args, "connector", str, required=False)
        names = [connector] if connector else [c.name for c in self.client.connectors(family="catalog")]
        hits: list[tuple[str, SearchHit]] = []
        for name in names:
            try:
                hits.extend((name, hit) for hit in self.client.search(name, text))
            except Unimplemented:
                if connector:
                    raise
        if not hits:
            return f"No tables match {text!r}."
        hits.sort(key=lambda h: -h[1].score)
        lines = [f"{_plural(len(hits), 'table')} match {text!r}, best first:"]
        for name, hit in hits:
            columns = f" (matching columns: {', '.join(hit.matched_columns)})" if hit.matched_columns else ""
            lines.append(f"- {name}: {hit.table.name}{columns}")
        return self._listing(lines, "matches", "use more specific words")

    def _describe_table(self, args: Mapping[str, Any]) -> str:
        connector = _argument(args, "connector", str)
        table = _argument(args, "table", str)
        try:
            described = self.client.describe(connector, table)
        except ValueError as e:
            raise _ArgumentError(str(e)) from None
        info = described.table
        lines = [f"Table {connector}.{info.name} ({_facts(info)})"]
        if info.description:
            lines.append(info.description)
        lines.append(f"{_plural(len(described.columns), 'column')}:")
        types = {f.name: str(f.type) for f in described.schema}
        for c in described.columns:
            source = f" [{c.source_type}]" if c.source_type else ""
            null = "" if c.nullable else " not null"
            about = f" — {c.description}" if c.description else ""
            # The same type names as run_query's `columns:` line.
            lines.append(f"- {c.name} {types.get(c.name, c.arrow_type)}{source}{null}{about}")
        return "\n".join(lines)

    def _run_query(self, args: Mapping[str, Any]) -> str:
        connector = _argument(args, "connector", str)
        sql = _argument(args, "sql", str)
        asked = _argument(args, "max_rows", int, required=False)
        if asked is not None and asked < 1:
            raise _ArgumentError("`max_rows` must be at least 1")
        cap = min(asked or self.max_rows, self.max_rows)
        # One row more than shown tells whether there were more.
        result = self.client.execute(connector, sql, max_rows=cap + 1, inline_rows=cap + 1)
        rows = result.read_all()
        return self._format_rows(
            result.schema, rows, cap, gateway_cut=result.truncation is not None and rows.num_rows <= cap
        )

    def _format_rows(self, schema: pa.Schema, rows: pa.Table, cap: int, gateway_cut: bool) -> str:
        header = "columns: " + ", ".join(f"{f.name} {f.type}" for f in schema)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(schema.names)
        budget = self.max_chars - len(header) - 300
        shown = 0
        for row in rows.slice(0, cap).to_pylist():
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow([_cell(v, self.max_cell_chars) for v in row.values()])
            if out.tell() + len(line.getvalue()) > budget:
                break
            out.write(line.getvalue())
            shown += 1
        more = rows.num_rows > cap or gateway_cut
        if shown < min(rows.num_rows, cap):
            status = (
                f"rows: {shown} shown; the rest were left out to keep this answer short. "
                "Select fewer or narrower columns, or aggregate."
            )
        elif more:
            status = (
                f"rows: {shown} shown; the result was truncated at {cap} rows and has more. "
                "Add a LIMIT, a filter or an aggregate to see what you need."
            )
        else:
            status = f"rows: {shown}"
        return f"{header}\n{status}\n{out.getvalue()}".rstrip("\n")

    def _explain_query(self, args: Mapping[str, Any]) -> str:
        connector = _argument(args, "connector", str)
        sql = _argument(args, "sql", str)
        plan = self.client.explain(connector, sql)
        if plan.sections:
            return "\n\n".join(f"{name}:\n{text}" for name, text in plan.sections.items())
        return plan.text
