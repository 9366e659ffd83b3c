"""Errors arrive as exceptions carrying the gRPC status, the gateway's message and reason, and the retry hint."""

from __future__ import annotations

import pytest
from gateway_fixture import running_gateway

import dmesh


@pytest.fixture(scope="module")
def broken_gateway(dmesh_bin, tmp_path_factory):
    """A gateway whose config names a folder that does not exist: the connector `gone` stays unavailable."""
    state = tmp_path_factory.mktemp("broken-state")
    config = state / "dmesh.toml"
    config.write_text(f'[connectors.gone]\ntype = "files"\npath = "{state / "missing"}"\n')
    with running_gateway(dmesh_bin, state, "--config", str(config)) as endpoint:
        yield endpoint


@pytest.mark.parametrize(
    ("sql", "exception", "code", "reason", "words"),
    [
        ("SELEC 1", dmesh.InvalidArgument, "INVALID_ARGUMENT", "SQL_SYNTAX", "SQL syntax error"),
        ("SELECT * FROM no_such_table", dmesh.NotFound, "NOT_FOUND", "TABLE_NOT_FOUND", "no_such_table"),
        ("SELECT nope FROM orders", dmesh.InvalidArgument, "INVALID_ARGUMENT", "SQL_INVALID", "No field named nope"),
        ("DROP TABLE orders", dmesh.PermissionDenied, "PERMISSION_DENIED", "READ_ONLY", "read-only"),
        ("DELETE FROM orders", dmesh.PermissionDenied, "PERMISSION_DENIED", "READ_ONLY", "read-only"),
        ("SELECT CAST(status AS INT) FROM orders", dmesh.InvalidArgument, "INVALID_ARGUMENT", None, "Cannot cast"),
    ],
)
def test_query_errors_carry_status_message_and_retry_hint(client, sql, exception, code, reason, words):
    with pytest.raises(exception) as raised:
        client.query("demo", sql)
    e = raised.value
    assert isinstance(e, dmesh.DmeshError)
    assert e.code == code == type(e).status
    assert words in e.message
    assert e.reason and (reason is None or e.reason == reason)
    assert e.retryable is False and e.retry_delay is None
    assert str(e) == f"{e.message} [{code}]"


def test_an_error_while_rows_stream_is_raised_by_the_reader(client):
    reader = client.query("demo", "SELECT CAST(status AS INT) AS n FROM orders", stream=True)
    with pytest.raises(dmesh.InvalidArgument) as raised:
        reader.read_all()
    assert raised.value.reason == "QUERY_FAILED"


def test_an_unknown_connector_names_the_known_ones(client):
    with pytest.raises(dmesh.NotFound) as raised:
        client.query("nope", "SELECT 1")
    assert raised.value.reason == "CONNECTOR_NOT_FOUND"
    assert "known connectors: demo" in raised.value.message
    assert raised.value.metadata == {"retryable": "false"}


def test_an_unavailable_connector_is_retryable_with_a_delay(broken_gateway):
    with dmesh.Client(broken_gateway) as c:
        with pytest.raises(dmesh.Unavailable) as raised:
            c.query("gone", "SELECT 1")
        e = raised.value
        assert (e.code, e.reason) == ("UNAVAILABLE", "CONNECTOR_UNAVAILABLE")
        assert e.retryable is True
        assert e.retry_delay == pytest.approx(0.2)
        assert "does not exist" in e.message
        assert str(e).endswith("[UNAVAILABLE; retrying may help]")
        report = c.test("gone")
        assert not report.healthy and "does not exist" in report.message


def test_a_ticket_not_from_this_gateway_is_refused(client):
    with pytest.raises(dmesh.NotFound) as raised:
        list(client._stream_ticket(b"forged"))
    assert raised.value.reason == "UNKNOWN_TICKET"
