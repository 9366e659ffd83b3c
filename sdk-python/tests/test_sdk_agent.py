"""dmesh.agent: tool definitions for LLM function calling, and each tool run against the demo gateway."""

from __future__ import annotations

import csv
import io
import json

import jsonschema
import pyarrow.parquet as pq
import pytest

import dmesh
from dmesh.agent import TOOLS, Toolbox


@pytest.fixture(scope="module")
def toolbox(gateway):
    with dmesh.Client(gateway) as c:
        yield Toolbox(c, max_rows=5)


def _csv(text: str) -> list[list[str]]:
    """The CSV part of a run_query answer (after the `columns:` and `rows:` lines)."""
    lines = text.splitlines()
    assert lines[0].startswith("columns: ") and lines[1].startswith("rows: ")
    return list(csv.reader(io.StringIO("\n".join(lines[2:]))))


def test_definitions_are_json_schema_function_tools():
    names = [t.name for t in TOOLS]
    assert names == ["list_connectors", "list_tables", "search_tables", "describe_table", "run_query", "explain_query"]
    for tool in TOOLS:
        jsonschema.Draft202012Validator.check_schema(tool.parameters)
        assert tool.parameters["type"] == "object" and tool.parameters["additionalProperties"] is False
        assert set(tool.parameters["required"]) <= set(tool.parameters["properties"])
        assert tool.read_only and tool.title and len(tool.description) > 40
        openai = tool.to_openai()
        assert openai == {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        assert tool.to_anthropic()["input_schema"] is tool.parameters
    json.dumps([t.to_openai() for t in TOOLS])


def test_toolbox_lists_its_definitions(toolbox):
    assert [t["function"]["name"] for t in toolbox.openai_tools()] == [t.name for t in TOOLS]
    assert [t["name"] for t in toolbox.anthropic_tools()] == [t.name for t in TOOLS]


def test_list_connectors(toolbox):
    result = toolbox.call("list_connectors", {})
    assert not result.is_error
    assert result.text.splitlines()[0].endswith("connectors:") or result.text.startswith("1 connector:")
    assert "- demo (files; query, catalog)" in result.text


def test_list_tables(toolbox):
    result = toolbox.call("list_tables", {"connector": "demo"})
    assert not result.is_error
    lines = result.text.splitlines()
    assert lines[0] == "5 tables in demo:"
    assert "- public.orders (external, parquet)" in lines
    assert toolbox.call("list_tables", {"connector": "demo", "schema": "none"}).text == "No tables in demo schema none."


def test_search_tables_in_one_connector_or_all(toolbox):
    one = toolbox.call("search_tables", {"query": "email", "connector": "demo"})
    assert not one.is_error
    assert one.text.splitlines()[1] == "- demo: public.customers (matching columns: email)"
    everywhere = toolbox.call("search_tables", {"query": "email"})
    assert everywhere.text == one.text
    assert toolbox.call("search_tables", {"query": "zebra"}).text == "No tables match 'zebra'."


def test_describe_table(toolbox, demo_dir):
    result = toolbox.call("describe_table", {"connector": "demo", "table": "public.orders"})
    assert not result.is_error
    lines = result.text.splitlines()
    assert lines[0] == "Table demo.public.orders (external, parquet)"
    names = pq.read_schema(demo_dir / "orders.parquet").names
    assert lines[1] == f"{len(names)} columns:"
    assert [line.split()[1] for line in lines[2:]] == names
    assert "- order_id int64 not null" in lines
    missing = toolbox.call("describe_table", {"connector": "demo", "table": "nope"})
    assert missing.is_error and missing.text.startswith("error [NOT_FOUND]:")


def test_run_query_puts_the_schema_first_and_says_when_it_cut_rows(toolbox, demo_dir):
    result = toolbox.call(
        "run_query", {"connector": "demo", "sql": "SELECT order_id, status FROM orders ORDER BY order_id"}
    )
    assert not result.is_error
    lines = result.text.splitlines()
    assert lines[0] == "columns: order_id int64, status string"
    assert lines[1].startswith("rows: 5 shown; the result was truncated at 5 rows and has more.")
    rows = _csv(result.text)
    want = pq.read_table(demo_dir / "orders.parquet").sort_by("order_id").slice(0, 5)
    assert rows[0] == ["order_id", "status"]
    assert rows[1:] == [[str(r["order_id"]), r["status"]] for r in want.to_pylist()]


def test_run_query_whole_results_have_no_notice(toolbox):
    result = toolbox.call(
        "run_query", {"connector": "demo", "sql": "SELECT status, count(*) AS n FROM orders GROUP BY status"}
    )
    lines = result.text.splitlines()
    assert lines[1] == "rows: 5"
    assert sum(int(n) for _, n in _csv(result.text)[1:]) == 5000
    fewer = toolbox.call("run_query", {"connector": "demo", "sql": "SELECT * FROM orders", "max_rows": 2})
    assert fewer.text.splitlines()[1].startswith("rows: 2 shown; the result was truncated at 2 rows")
    capped = toolbox.call("run_query", {"connector": "demo", "sql": "SELECT * FROM orders", "max_rows": 500})
    assert len(_csv(capped.text)) == 1 + 5


def test_run_query_writes_values_compactly(gateway):
    with dmesh.Client(gateway) as c:
        box = Toolbox(c, max_cell_chars=10)
        text = box.call(
            "run_query",
            {"connector": "demo", "sql": "SELECT NULL AS n, repeat('x', 50) AS long, 1.5 AS f, DATE '2024-02-29' AS d"},
        ).text
    assert _csv(text)[1] == ["NULL", "xxxxxxxxx…", "1.5", "2024-02-29"]


def test_answers_are_bounded_in_length_and_items(gateway):
    with dmesh.Client(gateway) as c:
        short = Toolbox(c, max_rows=1000, max_chars=2000)
        result = short.call("run_query", {"connector": "demo", "sql": "SELECT * FROM customers"})
        assert len(result.text) <= 2000
        assert "the rest were left out to keep this answer short" in result.text.splitlines()[1]
        few = Toolbox(c, max_items=2).call("list_tables", {"connector": "demo"})
        assert few.text.splitlines()[-1] == "[3 more tables not shown; pass `schema` to narrow the list]"
        assert len(few.text.splitlines()) == 4
        with pytest.raises(ValueError):
            Toolbox(c, max_rows=0)


def test_explain_query(toolbox):
    result = toolbox.call("explain_query", {"connector": "demo", "sql": "SELECT count(*) FROM orders"})
    assert not result.is_error
    assert result.text.startswith("logical_plan:\n")
    assert "physical_plan:" in result.text


def test_a_write_is_refused_as_an_error_result(toolbox):
    for sql in ("DROP TABLE orders", "INSERT INTO orders VALUES (1, 1, DATE '2024-01-01', 'x')", "DELETE FROM orders"):
        result = toolbox.call("run_query", {"connector": "demo", "sql": sql})
        assert result.is_error
        assert result.text.startswith("error [PERMISSION_DENIED]: ")
        assert "read-only" in result.text
    assert toolbox.call("run_query", {"connector": "demo", "sql": "SELECT count(*) AS n FROM orders"}).text.endswith(
        "\nn\n5000"
    )


def test_bad_calls_come_back_as_errors_the_model_can_read(toolbox):
    cases = {
        ("nope", "{}"): "error: unknown tool `nope`; the tools are: list_connectors,",
        ("run_query", "{not json"): "error [INVALID_ARGUMENT]: the arguments are not valid JSON",
        ("run_query", '["x"]'): "error [INVALID_ARGUMENT]: the arguments must be a JSON object",
        ("run_query", '{"connector": "demo"}'): "error [INVALID_ARGUMENT]: `sql` is required",
        ("run_query", '{"connector": "demo", "sql": 1}'): "error [INVALID_ARGUMENT]: `sql` must be a string",
        (
            "run_query",
            '{"connector": "demo", "sql": "SELECT 1", "max_rows": 0}',
        ): "error [INVALID_ARGUMENT]: `max_rows` must be at least 1",
        ("list_tables", '{"connector": "demo", "extra": 1}'): "error [INVALID_ARGUMENT]: unknown argument(s) extra",
        ("list_tables", '{"connector": "nope"}'): "error [NOT_FOUND]: connector `nope` not found",
        (
            "describe_table",
            '{"connector": "demo", "table": "a.b.c.d"}',
        ): "error [INVALID_ARGUMENT]: 'a.b.c.d' is not a table name",
    }
    for (name, arguments), start in cases.items():
        result = toolbox.call(name, arguments)
        assert result.is_error, (name, arguments)
        assert result.text.startswith(start), (name, arguments, result.text)
