"""AccessService through the SDK: who the caller is, tokens minted, used and revoked, and run-time roles."""

from __future__ import annotations

import asyncio

import pytest
from sdk_tokens import ADMIN_TOKEN, ANALYST_TOKEN

import dmesh
import dmesh.aio


def test_an_unauthenticated_gateway_calls_everyone_anonymous(client):
    me = client.whoami()
    assert (me.principal, me.authenticated) == ("anonymous", False)


def test_whoami_names_the_principal_and_its_rights(auth_gateway):
    with dmesh.Client(auth_gateway, token=ANALYST_TOKEN) as analyst:
        me = analyst.whoami()
        assert (me.principal, me.authenticated) == ("analyst", True)
        assert [g.connector for g in me.grants] == ["demo"]
        assert "read" in me.grants[0].rights
        admin = analyst.with_token(ADMIN_TOKEN).whoami()
        assert admin.principal == "admin" and any("admin" in g.rights for g in admin.grants)


def test_a_minted_token_works_until_revoked(auth_gateway):
    with dmesh.Client(auth_gateway, token=ADMIN_TOKEN) as admin:
        minted = admin.create_token("sdk-agent", ["reader"], ttl=3600)
        assert minted.token and minted.info.principal == "sdk-agent"
        assert minted.info.source == "runtime" and minted.info.roles == ("reader",)
        assert minted.info.expires_at is not None and minted.info.revoked_at is None
        assert minted.info.id in [t.id for t in admin.tokens()]
        assert minted.token not in repr(admin.tokens())

        agent = admin.with_token(minted.token)
        assert agent.whoami().principal == "sdk-agent"
        assert agent.query("demo", "SELECT count(*) AS n FROM orders").column("n").to_pylist() == [5000]
        with pytest.raises(dmesh.PermissionDenied):
            agent.create_token("someone")

        revoked = admin.revoke_token(minted.info.id)
        assert revoked.revoked_at is not None
        with pytest.raises(dmesh.Unauthenticated):
            agent.connectors()


def test_run_time_roles(auth_gateway):
    role = dmesh.Role(
        "sdk-orders-only",
        grants=(dmesh.Grant("demo", tables=("public.orders",), rights=("read",)),),
        limits=dmesh.RoleLimits(max_rows=7, statement_timeout=30),
    )

    async def go() -> None:
        async with dmesh.aio.Client(auth_gateway, token=ADMIN_TOKEN) as admin:
            builtin = {r.name: r for r in await admin.roles()}
            assert {"reader", "admin"} <= set(builtin) and builtin["reader"].source == "builtin"
            await admin.put_role(role)
            try:
                kept = {r.name: r for r in await admin.roles()}["sdk-orders-only"]
                assert kept.grants == role.grants
                assert (kept.limits.max_rows, kept.limits.statement_timeout) == (7, 30)
                minted = await admin.create_token("sdk-narrow", [role.name])
                narrow = admin.with_token(minted.token)
                rows = await narrow.query("demo", "SELECT * FROM orders")
                assert rows.num_rows == 7
                with pytest.raises(dmesh.PermissionDenied):
                    await narrow.query("demo", "SELECT * FROM customers")
                await admin.revoke_token(minted.info.id)
            finally:
                await admin.delete_role(role.name)
            assert role.name not in [r.name for r in await admin.roles()]
            with pytest.raises(dmesh.NotFound):
                await admin.delete_role(role.name)

    asyncio.run(go())


def test_a_write_needs_the_flag_the_right_and_a_connector_that_allows_it(client):
    words = {False: "this request is read-only", True: "the files connector never writes"}
    for write, why in words.items():
        with pytest.raises(dmesh.PermissionDenied) as refused:
            client.execute("demo", "DROP TABLE orders", write=write).read_all()
        assert refused.value.reason == "READ_ONLY"
        assert why in refused.value.message
    assert client.query("demo", "SELECT count(*) AS n FROM orders").column("n").to_pylist() == [5000]
