"""The synchronous client.

::

    import dmesh

    client = dmesh.Client("http://127.0.0.1:50051")
    orders = client.query("demo", "SELECT * FROM orders LIMIT 10")
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, Literal, Mapping, overload

import grpc
import pyarrow as pa

from . import _arrow, _calls, _channel, _flight
from . import types as t
from ._calls import Params, Table
from .errors import from_rpc_error

__all__ = ["Client", "QueryResult"]


class QueryResult(_arrow.ResultBase):
    """A planned query whose rows can be read once: as batches, a reader or a table.

    Returned by :meth:`Client.execute`. The rows stream from the gateway as
    they are read; stopping early cancels the query at the source.
    """

    def __init__(self, client: Client, answer: _arrow.ExecuteAnswer) -> None:
        super().__init__(answer)
        self._client = client

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        """The record batches, as they arrive."""
        self._start()
        if self._answer.inline_ipc is not None:
            batches: Iterable[pa.RecordBatch] = self._answer.inline_batches()
        else:
            batches = self._client._stream_ticket(self._answer.ticket, self)
        for batch in batches:
            yield self._conform(batch)

    def reader(self) -> pa.RecordBatchReader:
        """A ``pyarrow.RecordBatchReader`` over the rows (DuckDB, Polars and pyarrow consume it as a stream)."""
        return pa.RecordBatchReader.from_batches(self.schema, iter(self))

    def read_all(self) -> pa.Table:
        """All rows as one ``pyarrow.Table``."""
        return _arrow.table(self.schema, self)

    def to_pandas(self) -> Any:
        """All rows as a ``pandas.DataFrame`` (needs pandas)."""
        return _arrow.to_pandas(self.read_all())

    def to_polars(self) -> Any:
        """All rows as a ``polars.DataFrame`` (needs polars)."""
        return _arrow.to_polars(self.read_all())


class Client(_channel.ClientBase):
    """A connection to one dmesh gateway.

    Args:
        endpoint: Where the gateway listens, written as the CLI takes it
            (``http://host:port``) or as Flight users write it (``grpc://host:port``,
            ``grpc+tls://host:port``); ``https://`` also means TLS. Default:
            ``$DMESH_ENDPOINT``, else ``http://127.0.0.1:50051``.
        token: The API token, sent as ``authorization: Bearer <token>`` on every
            call (Flight included). Default: ``$DMESH_TOKEN``, else none.
        timeout: Seconds allowed for each call other than reading rows; ``None``
            waits as long as the call takes.
        root_certificates: For TLS, the CA certificates to trust (PEM bytes, or a
            file path); the system's CAs when ``None``.
        client_certificate: For mutual TLS, the client's certificate chain (PEM bytes or a path).
        client_key: For mutual TLS, the client's private key (PEM bytes or a path).

    The client is safe to share between threads. Use it as a context manager,
    or call :meth:`close`, to release the connection.
    """

    def close(self) -> None:
        """Closes the connection; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Sending calls.

    def _unary(self, call: _calls.Unary[_calls.T]) -> _calls.T:
        method = getattr(self._stubs[call.service], call.method)
        try:
            response = method(call.request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return call.convert(response)

    def _paged(self, call: _calls.Paged[_calls.Item]) -> list[_calls.Item]:
        method = getattr(self._stubs[call.service], call.method)
        items: list[_calls.Item] = []
        token = ""
        while True:
            try:
                response = method(call.request(_calls.page(token)), metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as e:
                raise from_rpc_error(e) from None
            items.extend(call.items(response))
            token = response.next_page_token
            if not token:
                return items

    def _server_stream(self, service: str, method: str, request: Any) -> Iterator[Any]:
        call = getattr(self._stubs[service], method)(request, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            call.cancel()

    def _stream_ticket(self, ticket: bytes, result: _arrow.ResultBase | None = None) -> Iterator[pa.RecordBatch]:
        """Redeems a Flight ticket with DoGet and yields its batches; records any truncation on ``result``."""
        decoder = _flight.FlightDecoder()
        call = self._do_get(ticket, metadata=self._metadata)
        try:
            for message in call:
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

    def kinds(self) -> list[t.ConnectorKind]:
        """The kinds of connector this gateway can build, with their config JSON Schemas."""
        return self._unary(_calls.list_kinds())

    def add(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any] | None = None,
        *,
        validate_only: bool = False,
        **fields: Any,
    ) -> t.Connector:
        """Adds a connector instance; it is kept by the gateway across restarts.

        ``config`` and ``fields`` together give the kind's config (see
        :meth:`kinds`), e.g. ``client.add("sales", "files", path="/data/sales")``.
        Paths given as :class:`os.PathLike` are made absolute here; text is sent as it is.
        With ``validate_only`` the gateway checks and builds the instance but keeps nothing.

        Raises:
            InvalidArgument: an unknown kind, a bad name or a config the kind refuses.
            AlreadyExists: an instance of that name exists.
            PermissionDenied: the caller is not an admin.
        """
        return self._unary(_calls.add_connector(name, kind, config, fields, validate_only))

    def connectors(self, family: str | None = None) -> list[t.Connector]:
        """The connector instances the caller may use, in name order.

        With ``family`` (``"query"``, ``"catalog"``, ``"processing"``, ``"storage"``),
        only those serving it.
        """
        return self._unary(_calls.list_connectors(family))

    def connector(self, name: str) -> t.Connector:
        """One connector instance and its config (secrets stay references)."""
        return self._unary(_calls.get_connector(name))

    def test(self, name: str) -> t.HealthReport:
        """Checks that a connector can reach its source, and how fast. An unhealthy source is reported, not raised."""
        return self._unary(_calls.test_connector(name))

    def remove(self, name: str) -> None:
        """Removes a connector instance added at run time.

        Raises:
            NotFound: no such instance.
            FailedPrecondition: the instance comes from the config file or is built in.
        """
        self._unary(_calls.remove_connector(name))

    # Queries.

    def execute(
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
        """Plans a query and returns its result, ready to be read once.

        Args:
            connector: The connector instance.
            sql: One read-only SQL statement in the source's dialect.
            params: Values for ``$1``, ``$2``, ... (a sequence) or named parameters (a mapping).
            max_rows: Stop after this many rows; :attr:`QueryResult.truncation` then says so.
            max_bytes: Stop after about this many bytes of Arrow data.
            timeout: Seconds the statement may run at the source.
            inline_rows: Let the gateway send results of at most this many rows
                in its answer, saving a round trip (0: always stream).
            write: Run the statement as a change. It needs the ``write`` right
                (rows) or ``ddl`` (schema) and a connector that allows writes;
                without it every statement runs read-only.

        Raises:
            InvalidArgument: bad SQL or parameters.
            NotFound: an unknown connector or table.
            PermissionDenied: a statement that writes without ``write`` or the right to,
                or a connector the caller may not use.
        """
        call = _calls.execute(connector, sql, params, max_rows, max_bytes, timeout, inline_rows, write)
        return QueryResult(self, _arrow.ExecuteAnswer(self._unary(call)))

    @overload
    def query(
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
    def query(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = ...,
        max_rows: int | None = ...,
        max_bytes: int | None = ...,
        timeout: float | None = ...,
        stream: Literal[True],
    ) -> pa.RecordBatchReader: ...

    def query(
        self,
        connector: str,
        sql: str,
        *,
        params: Params = None,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> pa.Table | pa.RecordBatchReader:
        """Runs ``sql`` on ``connector``: all rows as a ``pyarrow.Table``, or with
        ``stream=True`` a ``pyarrow.RecordBatchReader`` that yields batches as they arrive.

        The arguments are those of :meth:`execute`, which also tells whether a
        limit cut the result.
        """
        result = self.execute(connector, sql, params=params, max_rows=max_rows, max_bytes=max_bytes, timeout=timeout)
        return result.reader() if stream else result.read_all()

    def to_pandas(self, connector: str, sql: str, **kwargs: Any) -> Any:
        """:meth:`query` as a ``pandas.DataFrame`` (needs pandas)."""
        return self.execute(connector, sql, **kwargs).to_pandas()

    def to_polars(self, connector: str, sql: str, **kwargs: Any) -> Any:
        """:meth:`query` as a ``polars.DataFrame`` (needs polars)."""
        return self.execute(connector, sql, **kwargs).to_polars()

    def tables(self, connector: str, schema: str | None = None) -> list[t.TableInfo]:
        """The connector's tables; only those in ``schema`` if given."""
        return self._paged(_calls.list_tables(connector, schema))

    def describe(self, connector: str, table: Table) -> t.TableSchema:
        """A table's columns and Arrow schema; ``table`` is ``name``, ``schema.name`` or a :class:`TableRef`."""
        return self._unary(_calls.get_schema(connector, table))

    def explain(self, connector: str, sql: str, *, params: Params = None, verbose: bool = False) -> t.Plan:
        """How a query would run, without running it; ``verbose`` shows every planning stage."""
        return self._unary(_calls.explain(connector, sql, params, verbose))

    # Catalog.

    def schemas(self, connector: str, catalog: str | None = None) -> list[t.SchemaInfo]:
        """The connector's schemas; only those of ``catalog`` if given."""
        return self._paged(_calls.list_schemas(connector, catalog))

    def table_metadata(self, connector: str, table: Table) -> t.TableMetadata:
        """Everything the catalog knows about a table: columns, keys, labels, owner, properties."""
        return self._unary(_calls.table_metadata(connector, table))

    def search(self, connector: str, text: str) -> list[t.SearchHit]:
        """Tables whose names, columns or descriptions match the words in ``text``, best first."""
        return self._paged(_calls.search_tables(connector, text))

    def lineage(self, connector: str, table: Table, *, direction: str = "both", depth: int = 1) -> t.Lineage:
        """Where a table's data comes from (``"upstream"``) and goes (``"downstream"``), ``depth`` hops away."""
        return self._unary(_calls.lineage(connector, table, direction, depth))

    def classifications(self, connector: str, table: Table) -> list[t.Classification]:
        """The labels on a table's columns, such as ``pii.email``."""
        return self._unary(_calls.classifications(connector, table))

    # Processing jobs.

    def submit_job(
        self,
        connector: str,
        job_type: str,
        spec: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> t.Job:
        """Starts a job on a processing connector.

        Submitting twice with one ``idempotency_key`` returns the first job.
        """
        return self._unary(_calls.submit_job(connector, job_type, spec, idempotency_key, labels))

    def job(self, connector: str, job_id: str) -> t.Job:
        """A job's current state."""
        return self._unary(_calls.job_status(connector, job_id))

    def watch_job(self, connector: str, job_id: str) -> Iterator[t.Job]:
        """The job's state each time it changes, ending when the job ends."""
        for job in self._server_stream("processing", "WatchJob", _calls.watch_job_request(connector, job_id)):
            yield t.Job.from_proto(job)

    def job_result(self, connector: str, job_id: str) -> t.JobResult:
        """What a finished job produced."""
        return self._unary(_calls.job_result(connector, job_id))

    def cancel_job(self, connector: str, job_id: str) -> t.Job:
        """Asks the engine to cancel a job; returns its state after asking."""
        return self._unary(_calls.cancel_job(connector, job_id))

    def jobs(self, connector: str, states: Iterable[str] | None = None) -> list[t.Job]:
        """The connector's jobs; only those in ``states`` (``"running"``, ``"failed"``, ...) if given."""
        return self._paged(_calls.list_jobs(connector, states))

    # Storage.

    def objects(self, connector: str, prefix: str = "", *, delimited: bool = False) -> list[t.ObjectInfo]:
        """Files and objects under ``prefix``; with ``delimited``, one level down with sub-prefixes as entries."""
        return self._paged(_calls.list_objects(connector, prefix, delimited))

    def head(self, connector: str, path: str) -> t.ObjectInfo:
        """One object's size, time and version, without its bytes."""
        return self._unary(_calls.head_object(connector, path))

    def read_chunks(self, connector: str, path: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """An object's bytes (or ``length`` of them from ``offset``) in chunks, as they arrive."""
        request = _calls.read_object_request(connector, path, offset, length)
        for chunk in self._server_stream("storage", "Read", request):
            yield chunk.data

    def read(self, connector: str, path: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """An object's bytes, or ``length`` of them from ``offset``."""
        return b"".join(self.read_chunks(connector, path, offset=offset, length=length))

    def write(
        self,
        connector: str,
        path: str,
        data: bytes | Iterable[bytes] | Any,
        *,
        if_not_exists: bool = False,
        idempotency_key: str | None = None,
    ) -> t.ObjectInfo:
        """Writes an object from bytes, an iterable of bytes or a binary file.

        Raises:
            AlreadyExists: ``if_not_exists`` and the object exists.
        """
        header = _calls.write_header(connector, path, if_not_exists, idempotency_key)
        requests = itertools.chain([header], (_calls.write_data(c) for c in _calls.chunks(data)))
        try:
            info = self._stubs["storage"].Write(requests, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return t.ObjectInfo.from_proto(info)

    def delete(self, connector: str, path: str) -> None:
        """Deletes an object."""
        self._unary(_calls.delete_object(connector, path))

    def read_table(
        self, connector: str, path: str, *, format: str | None = None, max_rows: int | None = None
    ) -> pa.Table:
        """Reads a file (Parquet, CSV, JSON lines, Avro, Arrow IPC) as a table.

        ``format`` is detected from the file's extension when ``None``.
        """
        answer = _arrow.ExecuteAnswer(self._unary(_calls.read_table(connector, path, format, max_rows)))
        return QueryResult(self, answer).read_all()

    # Access.

    def whoami(self) -> t.Identity:
        """Who the gateway takes this client for: its principal, roles, grants and limits."""
        return self._unary(_calls.whoami())

    def create_token(self, principal: str, roles: Iterable[str] = (), *, ttl: float | None = None) -> t.NewToken:
        """Mints an API token for ``principal`` holding ``roles``; valid for ``ttl`` seconds, or until revoked.

        The token is in the answer only (the gateway keeps its hash). Needs the ``admin`` right on ``*``.
        """
        return self._unary(_calls.create_token(principal, roles, ttl))

    def tokens(self) -> list[t.TokenInfo]:
        """Every API token (from the config file and minted), revoked ones included; never the tokens themselves."""
        return self._unary(_calls.list_tokens())

    def revoke_token(self, token_id: str) -> t.TokenInfo:
        """Revokes a token at once, with every Flight SQL session opened with it."""
        return self._unary(_calls.revoke_token(token_id))

    def roles(self) -> list[t.Role]:
        """Every role: built in, from the config file, or defined at run time."""
        return self._unary(_calls.list_roles())

    def put_role(self, role: t.Role) -> None:
        """Defines or replaces a run-time role."""
        self._unary(_calls.put_role(role))

    def delete_role(self, name: str) -> None:
        """Removes a run-time role."""
        self._unary(_calls.delete_role(name))

    # Status.

    def status(self) -> t.GatewayStatus:
        """How the gateway is doing: its version, uptime and queries in flight, and each
        connector the caller may use, whether it is available and how its pool is.

        Cheap: no source is contacted; :meth:`test` checks that one can be reached.
        """
        return self._unary(_calls.status())
