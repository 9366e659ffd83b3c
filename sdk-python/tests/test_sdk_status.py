"""StatusService through the SDK: the gateway's uptime, work in flight and connectors, as the caller may see them."""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest
from sdk_tokens import ADMIN_TOKEN, ANALYST_TOKEN

import dmesh
import dmesh.aio


def test_status_shows_the_gateway_and_the_demo_connector(client):
    status = client.status()
    assert isinstance(status, dmesh.GatewayStatus)
    assert status.version and status.authenticated is False
    now = datetime.datetime.now(datetime.timezone.utc)
    assert status.started_at is not None and status.started_at <= now
    assert status.uptime is not None and status.uptime >= 0
    assert status.queries_in_flight >= 0
    names = [c.name for c in status.connectors]
    assert names == sorted(names)
    demo = {c.name: c for c in status.connectors}["demo"]
    assert demo == dmesh.ConnectorStatus(
        name="demo", kind="files", available=True, problem="", queries_in_flight=0, pool=None
    )


def _demo_in_flight(client: dmesh.Client) -> int:
    return {c.name: c for c in client.status().connectors}["demo"].queries_in_flight


def test_status_counts_a_query_while_it_streams(client):
    # Far more rows than the connection buffers, so the query is still running after the first batch.
    batches = iter(client.execute("demo", "SELECT * FROM order_items CROSS JOIN customers"))
    next(batches)
    try:
        assert _demo_in_flight(client) == 1
        assert client.status().queries_in_flight >= 1
    finally:
        batches.close()
    deadline = time.monotonic() + 10
    while _demo_in_flight(client) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _demo_in_flight(client) == 0


def test_the_async_client_returns_the_same_status(gateway, client):
    async def go() -> dmesh.GatewayStatus:
        async with dmesh.aio.Client(gateway) as c:
            return await c.status()

    before = client.status()
    status = asyncio.run(go())
    assert (status.version, status.started_at, status.authenticated) == (
        before.version,
        before.started_at,
        before.authenticated,
    )
    assert status.uptime is not None and before.uptime is not None and status.uptime >= before.uptime
    assert status.connectors == before.connectors


def test_status_lists_only_the_connectors_the_caller_may_use(auth_gateway):
    with dmesh.Client(auth_gateway, token=ANALYST_TOKEN) as analyst:
        mine = analyst.status()
        assert mine.authenticated is True
        assert [(c.name, c.kind, c.available) for c in mine.connectors] == [("demo", "files", True)]
        everything = analyst.with_token(ADMIN_TOKEN).status()
        assert [c.name for c in everything.connectors] == ["demo", "hidden"]
        with pytest.raises(dmesh.Unauthenticated):
            analyst.with_token(None).status()
