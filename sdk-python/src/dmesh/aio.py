"""The asyncio client, a twin of :class:`dmesh.Client` built on ``grpc.aio``.

Every method of :class:`dmesh.Client` is here as a coroutine, under the same
name and with the same arguments; results stream without threads::

    import dmesh.aio

    async with dmesh.aio.Client("http://127.0.0.1:50051") as client:
        table = await client.query("demo", "SELECT * FROM orders LIMIT 10")
        result = await client.execute("demo", "SELECT * FROM order_items")
        async for batch in result:
            ...

Create the client inside the event loop that uses it.
"""

from __future__ import annotations

from typing import Any, AsyncIterable, AsyncIterator, Iterable, Literal, Mapping, overload

import grpc
import grpc.aio
import pyarrow as pa

from . import _arrow, _calls, _channel, _flight
from . import types as t
from ._calls import Params, Table
from .errors import from_rpc_error

__all__ = ["Client", "QueryResult"]


class QueryResult(_arrow.ResultBase):
    """A planned query whose rows can be read once, asynchronously.

    Returned by :meth:`Client.execute`. ``async for batch in result`` streams
    the record batches; leaving the loop early cancels the query at the source.
    """

    def __init__(self, client: Client, answer: _arrow.ExecuteAnswer) -> None:
        super().__init__(answer)
        self._client = client

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        """The record batches, as they arrive."""
        self._start()
        if self._answer.inline_ipc is not None:
            for batch in self._answer.inline_batches():
                yield self._conform(batch)
            return
        async for batch in self._client._stream_ticket(self._answer.ticket, self):
            yield self._conform(batch)

    async def read_all(self) -> pa.Table:
        """All rows as one ``pyarrow.Table``."""
        return _arrow.table(self.schema, [b async for b in self])

    async def to_pandas(self) -> Any:
        """All rows as a ``pandas.DataFrame`` (needs pandas)."""
        return _arrow.to_pandas(await self.read_all())

    async def to_polars(self) -> Any:
        """All rows as a ``polars.DataFrame`` (needs polars)."""
        return _arrow.to_polars(await self.read_all())


async def _requests(header: Any, data: bytes | Iterable[bytes] | AsyncIterable[bytes] | Any) -> AsyncIterator[Any]:
    yield header
    if isinstance(data, AsyncIterable):
        async for chunk in data:
            yield _calls.write_data(chunk)
    else:
        for chunk in _calls.chunks(data):
            yield _calls.write_data(chunk)


class Client(_channel.ClientBase):
    """An asyncio connection to one dmesh gateway; the arguments are those of :class:`dmesh.Client`."""

    _grpc = grpc.aio

    async def close(self) -> None:
        """Closes the connection; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Sending calls.

    async def _unary(self, call: _calls.Unary[_calls.T]) -> _calls.T:
        method = getattr(self._stubs[call.service], call.method)
        try:
            response = await method(call.request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return call.convert(response)

    async def _paged(self, call: _calls.Paged[_calls.Item]) -> list[_calls.Item]:
        method = getattr(self._stubs[call.service], call.method)
        items: list[_calls.Item] = []
        token = ""
        while True:
            try:
                response = await method(
                    call.request(_calls.page(token)), metadata=self._metadata, timeout=self._timeout
                )
            except grpc.RpcError as e:
                raise from_rpc_error(e) from None
            items.extend(call.items(response))
            token = response.next_page_token
            if not token:
                return items

    async def _server_stream(self, service: str, method: str, request: Any) -> AsyncIterator[Any]:
        call = getattr(self._stubs[service], method)(request, metadata=self._metadata)
        try:
            async for message in call:
                yield message
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            call.cancel()

    async def _stream_ticket(
        self, ticket: bytes, result: _arrow.ResultBase | None = None
    ) -> AsyncIterator[pa.RecordBatch]:
        decoder = _flight.FlightDecoder()
        call = self._do_get(ticket, metadata=self._metadata)
        try:
            async for message in call:
                batch = decoder.push(message)
                if batch is not None:
                    yield batch
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            call.cancel()
        if result is not None:
            result.truncation = decoder.truncation()

    # Connector registry.

    async def kinds(self) -> list[t.ConnectorKind]:
        """See :meth:`dmesh.Client.kinds`."""
        return await self._unary(_calls.list_kinds())

    async def add(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any] | None = None,
        *,
        validate_only: bool = False,
        **fields: Any,
    ) -> t.Connector:
        """See :meth:`dmesh.Client.add`."""
        return await self._unary(_calls.add_connector(name, kind, config, fields, validate_only))

    async def connectors(self, family: str | None = None) -> list[t.Connector]:
        """See :meth:`dmesh.Client.connectors`."""
        return await self._unary(_calls.list_connectors(family))

    async def connector(self, name: str) -> t.Connector:
        """See :meth:`dmesh.Client.connector`."""
        return await self._unary(_calls.get_connector(name))

    async def test(self, name: str) -> t.HealthReport:
        """See :meth:`dmesh.Client.test`."""
        return await self._unary(_calls.test_connector(name))

    async def remove(self, name: str) -> None:
        """See :meth:`dmesh.Client.remove`."""
        await self._unary(_calls.remove_connector(name))

    # Queries.

    async def execute(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = None,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        inline_rows: int = 0,
        write: bool = False,
    ) -> QueryResult:
        """See :meth:`dmesh.Client.execute`."""
        call = _calls.execute(connector, sql, params, max_rows, max_bytes, timeout, inline_rows, write)
        return QueryResult(self, _arrow.ExecuteAnswer(await self._unary(call)))

    @overload
    async def query(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = ...,
        max_rows: int | None = ...,
        max_bytes: int | None = ...,
        timeout: float | None = ...,
        stream: Literal[False] = ...,
    ) -> pa.Table: ...

    @overload
    async def query(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = ...,
        max_rows: int | None = ...,
        max_bytes: int | None = ...,
        timeout: float | None = ...,
        stream: Literal[True],
    ) -> QueryResult: ...

    async def query(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = None,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> pa.Table | QueryResult:
        """All rows as a ``pyarrow.Table``, or with ``stream=True`` a :class:`QueryResult` to ``async for`` over."""
        result = await self.execute(
            connector, sql, params=params, max_rows=max_rows, max_bytes=max_bytes, timeout=timeout
        )
        return result if stream else await result.read_all()

    async def to_pandas(self, connector: str, sql: str, **kwargs: Any) -> Any:
        """See :meth:`dmesh.Client.to_pandas`."""
        return await (await self.execute(connector, sql, **kwargs)).to_pandas()

    async def to_polars(self, connector: str, sql: str, **kwargs: Any) -> Any:
        """See :meth:`dmesh.Client.to_polars`."""
        return await (await self.execute(connector, sql, **kwargs)).to_polars()

    async def tables(self, connector: str, schema: str | None = None) -> list[t.TableInfo]:
        """See :meth:`dmesh.Client.tables`."""
        return await self._paged(_calls.list_tables(connector, schema))

    async def describe(self, connector: str, table: Table) -> t.TableSchema:
        """See :meth:`dmesh.Client.describe`."""
        return await self._unary(_calls.get_schema(connector, table))

    async def explain(self, connector: str, sql: str, *, params: Params = None, verbose: bool = False) -> t.Plan:
        """See :meth:`dmesh.Client.explain`."""
        return await self._unary(_calls.explain(connector, sql, params, verbose))

    # Catalog.

    async def schemas(self, connector: str, catalog: str | None = None) -> list[t.SchemaInfo]:
        """See :meth:`dmesh.Client.schemas`."""
        return await self._paged(_calls.list_schemas(connector, catalog))

    async def table_metadata(self, connector: str, table: Table) -> t.TableMetadata:
        """See :meth:`dmesh.Client.table_metadata`."""
        return await self._unary(_calls.table_metadata(connector, table))

    async def search(self, connector: str, text: str) -> list[t.SearchHit]:
        """See :meth:`dmesh.Client.search`."""
        return await self._paged(_calls.search_tables(connector, text))

    async def lineage(self, connector: str, table: Table, *, direction: str = "both", depth: int = 1) -> t.Lineage:
        """See :meth:`dmesh.Client.lineage`."""
        return await self._unary(_calls.lineage(connector, table, direction, depth))

    async def classifications(self, connector: str, table: Table) -> list[t.Classification]:
        """See :meth:`dmesh.Client.classifications`."""
        return await self._unary(_calls.classifications(connector, table))

    # Processing jobs.

    async def submit_job(
        self,
        connector: str,
        job_type: str,
        spec: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> t.Job:
        """See :meth:`dmesh.Client.submit_job`."""
        return await self._unary(_calls.submit_job(connector, job_type, spec, idempotency_key, labels))

    async def job(self, connector: str, job_id: str) -> t.Job:
        """See :meth:`dmesh.Client.job`."""
        return await self._unary(_calls.job_status(connector, job_id))

    async def watch_job(self, connector: str, job_id: str) -> AsyncIterator[t.Job]:
        """See :meth:`dmesh.Client.watch_job`."""
        async for job in self._server_stream("processing", "WatchJob", _calls.watch_job_request(connector, job_id)):
            yield t.Job.from_proto(job)

    async def job_result(self, connector: str, job_id: str) -> t.JobResult:
        """See :meth:`dmesh.Client.job_result`."""
        return await self._unary(_calls.job_result(connector, job_id))

    async def cancel_job(self, connector: str, job_id: str) -> t.Job:
        """See :meth:`dmesh.Client.cancel_job`."""
        return await self._unary(_calls.cancel_job(connector, job_id))

    async def jobs(self, connector: str, states: Iterable[str] | None = None) -> list[t.Job]:
        """See :meth:`dmesh.Client.jobs`."""
        return await self._paged(_calls.list_jobs(connector, states))

    # Storage.

    async def objects(self, connector: str, prefix: str = "", *, delimited: bool = False) -> list[t.ObjectInfo]:
        """See :meth:`dmesh.Client.objects`."""
        return await self._paged(_calls.list_objects(connector, prefix, delimited))

    async def head(self, connector: str, path: str) -> t.ObjectInfo:
        """See :meth:`dmesh.Client.head`."""
        return await self._unary(_calls.head_object(connector, path))

    async def read_chunks(
        self, connector: str, path: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """See :meth:`dmesh.Client.read_chunks`."""
        request = _calls.read_object_request(connector, path, offset, length)
        async for chunk in self._server_stream("storage", "Read", request):
            yield chunk.data

    async def read(self, connector: str, path: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """See :meth:`dmesh.Client.read`."""
        return b"".join([c async for c in self.read_chunks(connector, path, offset=offset, length=length)])

    async def write(
        self,
        connector: str,
        path: str,
        data: bytes | Iterable[bytes] | AsyncIterable[bytes] | Any,
        *,
        if_not_exists: bool = False,
        idempotency_key: str | None = None,
    ) -> t.ObjectInfo:
        """See :meth:`dmesh.Client.write`; ``data`` may also be an async iterable of bytes."""
        header = _calls.write_header(connector, path, if_not_exists, idempotency_key)
        try:
            info = await self._stubs["storage"].Write(
                _requests(header, data), metadata=self._metadata, timeout=self._timeout
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return t.ObjectInfo.from_proto(info)

    async def delete(self, connector: str, path: str) -> None:
        """See :meth:`dmesh.Client.delete`."""
        await self._unary(_calls.delete_object(connector, path))

    async def read_table(
        self, connector: str, path: str, *, format: str | None = None, max_rows: int | None = None
    ) -> pa.Table:
        """See :meth:`dmesh.Client.read_table`."""
        answer = _arrow.ExecuteAnswer(await self._unary(_calls.read_table(connector, path, format, max_rows)))
        return await QueryResult(self, answer).read_all()

    # Access.

    async def whoami(self) -> t.Identity:
        """See :meth:`dmesh.Client.whoami`."""
        return await self._unary(_calls.whoami())

    async def create_token(self, principal: str, roles: Iterable[str] = (), *, ttl: float | None = None) -> t.NewToken:
        """See :meth:`dmesh.Client.create_token`."""
        return await self._unary(_calls.create_token(principal, roles, ttl))

    async def tokens(self) -> list[t.TokenInfo]:
        """See :meth:`dmesh.Client.tokens`."""
        return await self._unary(_calls.list_tokens())

    async def revoke_token(self, token_id: str) -> t.TokenInfo:
        """See :meth:`dmesh.Client.revoke_token`."""
        return await self._unary(_calls.revoke_token(token_id))

    async def roles(self) -> list[t.Role]:
        """See :meth:`dmesh.Client.roles`."""
        return await self._unary(_calls.list_roles())

    async def put_role(self, role: t.Role) -> None:
        """See :meth:`dmesh.Client.put_role`."""
        await self._unary(_calls.put_role(role))

    async def delete_role(self, name: str) -> None:
        """See :meth:`dmesh.Client.delete_role`."""
        await self._unary(_calls.delete_role(name))

    # Status.

    async def status(self) -> t.GatewayStatus:
        """See :meth:`dmesh.Client.status`."""
        return await self._unary(_calls.status())
