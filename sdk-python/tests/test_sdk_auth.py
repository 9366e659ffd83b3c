"""Tokens: the right one lets a client in (Flight included), a wrong one or none is UNAUTHENTICATED,
and the gateway's per-principal allow-lists and admin rights show through the SDK."""

from __future__ import annotations

import pytest
from sdk_tokens import ADMIN_TOKEN, ANALYST_TOKEN

import dmesh


def test_the_right_token_lets_a_client_in(auth_gateway):
    with dmesh.Client(auth_gateway, token=ANALYST_TOKEN) as analyst:
        assert [c.name for c in analyst.connectors()] == ["demo"]
        assert analyst.query("demo", "SELECT count(*) AS n FROM orders").column("n").to_pylist() == [5000]
        assert sum(b.num_rows for b in analyst.query("demo", "SELECT * FROM order_items", stream=True)) > 0
        assert [t.name for t in analyst.tables("demo")][0] == "public.customers"


@pytest.mark.parametrize("token", ["wrong-token", None, ""])
def test_a_wrong_token_or_none_is_unauthenticated(auth_gateway, token, monkeypatch):
    monkeypatch.delenv("DMESH_TOKEN", raising=False)
    with dmesh.Client(auth_gateway, token=token) as stranger:
        for call in (stranger.connectors, lambda: stranger.query("demo", "SELECT 1")):
            with pytest.raises(dmesh.Unauthenticated) as refused:
                call()
            e = refused.value
            assert e.code == "UNAUTHENTICATED"
            assert e.retryable is False
            assert "Bearer" in e.message
            assert ANALYST_TOKEN not in str(e) and ADMIN_TOKEN not in str(e)


def test_flight_tickets_need_the_token_of_their_principal(auth_gateway):
    with dmesh.Client(auth_gateway, token=ANALYST_TOKEN) as analyst:
        ticket = analyst.execute("demo", "SELECT * FROM orders").ticket
        with pytest.raises(dmesh.Unauthenticated):
            list(analyst.with_token(None)._stream_ticket(ticket))
        with pytest.raises(dmesh.PermissionDenied) as other:
            list(analyst.with_token(ADMIN_TOKEN)._stream_ticket(ticket))
        assert "another principal" in other.value.message
        assert sum(b.num_rows for b in analyst._stream_ticket(ticket)) == 5000


def test_allow_lists_and_admin_rights(auth_gateway, demo_dir):
    with dmesh.Client(auth_gateway, token=ANALYST_TOKEN) as analyst:
        with pytest.raises(dmesh.PermissionDenied) as outside:
            analyst.query("hidden", "SELECT 1")
        assert "hidden" in outside.value.message
        with pytest.raises(dmesh.PermissionDenied) as not_admin:
            analyst.add("sdk-by-analyst", "files", path=str(demo_dir))
        assert "admin" in not_admin.value.message

        admin = analyst.with_token(ADMIN_TOKEN)
        assert [c.name for c in admin.connectors()] == ["demo", "hidden"]
        admin.add("sdk-by-admin", "files", path=str(demo_dir))
        try:
            assert admin.test("sdk-by-admin").healthy
            assert "sdk-by-admin" not in [c.name for c in analyst.connectors()]
        finally:
            admin.remove("sdk-by-admin")


def test_the_token_comes_from_the_environment(auth_gateway, monkeypatch):
    monkeypatch.setenv("DMESH_TOKEN", ANALYST_TOKEN)
    with dmesh.Client(auth_gateway) as c:
        assert [x.name for x in c.connectors()] == ["demo"]
