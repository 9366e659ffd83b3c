"""The gateway's calls, described once for the sync and the async client.

Each function returns what to call (service, method, request) and how to turn
the answer into SDK values; :mod:`dmesh.client` and :mod:`dmesh.aio` only
differ in how they send it.
"""

from __future__ import annotations

import datetime
import decimal
import os
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar, Union

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from . import types as t
from ._proto import (
    access_pb2,
    access_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    processing_pb2,
    processing_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    status_pb2,
    status_pb2_grpc,
    storage_pb2,
    storage_pb2_grpc,
)

T = TypeVar("T")
Item = TypeVar("Item")

#: Statement parameters: positional (``$1``, ``$2``, ...) as a sequence, or named as a mapping.
Params = Union[Sequence[Any], Mapping[str, Any], None]
#: A table: ``"name"``, ``"schema.name"``, ``"catalog.schema.name"`` or a :class:`~dmesh.types.TableRef`.
Table = Union[str, t.TableRef]

#: Service name -> stub class, for building stubs on a channel.
STUBS: dict[str, Any] = {
    "registry": registry_pb2_grpc.ConnectorRegistryStub,
    "query": query_pb2_grpc.QueryServiceStub,
    "catalog": catalog_pb2_grpc.CatalogServiceStub,
    "processing": processing_pb2_grpc.ProcessingServiceStub,
    "storage": storage_pb2_grpc.StorageServiceStub,
    "access": access_pb2_grpc.AccessServiceStub,
    "status": status_pb2_grpc.StatusServiceStub,
}

#: Items asked for per page when walking a listing.
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Unary(Generic[T]):
    """One request, one answer."""

    service: str
    method: str
    request: Any
    convert: Callable[[Any], T]


@dataclass(frozen=True)
class Paged(Generic[Item]):
    """A listing walked page by page until the gateway gives no next token."""

    service: str
    method: str
    request: Callable[[common_pb2.PageRequest], Any]
    items: Callable[[Any], Iterable[Item]]


def stubs(channel: Any) -> dict[str, Any]:
    """A stub per service on ``channel`` (a ``grpc.Channel`` or ``grpc.aio.Channel``)."""
    return {name: cls(channel) for name, cls in STUBS.items()}


def page(token: str) -> common_pb2.PageRequest:
    """The request for the page after ``token`` (empty for the first page)."""
    return common_pb2.PageRequest(page_size=PAGE_SIZE, page_token=token)


def duration(seconds: float) -> duration_pb2.Duration:
    """Seconds as a protobuf Duration."""
    d = duration_pb2.Duration()
    d.FromTimedelta(datetime.timedelta(seconds=seconds))
    return d


def value(v: Any) -> common_pb2.Value:
    """A Python value as a statement parameter value.

    ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
    :class:`datetime.date`, :class:`datetime.datetime` (naive means UTC) and
    :class:`decimal.Decimal` are accepted.
    """
    if v is None:
        return common_pb2.Value(null=True)
    if isinstance(v, bool):
        return common_pb2.Value(bool_value=v)
    if isinstance(v, int):
        if v > 2**63 - 1:
            return common_pb2.Value(uint64_value=v)
        return common_pb2.Value(int64_value=v)
    if isinstance(v, float):
        return common_pb2.Value(double_value=v)
    if isinstance(v, str):
        return common_pb2.Value(string_value=v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return common_pb2.Value(bytes_value=bytes(v))
    if isinstance(v, decimal.Decimal):
        return common_pb2.Value(decimal_value=str(v))
    if isinstance(v, datetime.datetime):
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(v if v.tzinfo else v.replace(tzinfo=datetime.timezone.utc))
        return common_pb2.Value(timestamp_value=ts)
    if isinstance(v, datetime.date):
        return common_pb2.Value(date_value=(v - datetime.date(1970, 1, 1)).days)
    raise TypeError(f"cannot bind a {type(v).__name__} as a statement parameter")


def params(p: Params) -> list[common_pb2.Param]:
    """Statement parameters as protobuf messages."""
    if p is None:
        return []
    if isinstance(p, Mapping):
        return [common_pb2.Param(name=str(k), value=value(v)) for k, v in p.items()]
    if isinstance(p, (str, bytes)):
        raise TypeError("params must be a sequence of values or a mapping of names to values, not a string")
    return [common_pb2.Param(value=value(v)) for v in p]


def limits(max_rows: int | None, max_bytes: int | None, timeout: float | None) -> common_pb2.Limits:
    """Caps on one query; ``None`` leaves a cap to the gateway."""
    out = common_pb2.Limits(max_rows=max_rows or 0, max_bytes=max_bytes or 0)
    if timeout is not None:
        out.timeout.CopyFrom(duration(timeout))
    return out


def struct(config: Mapping[str, Any]) -> struct_pb2.Struct:
    """A JSON-like mapping as a protobuf Struct."""
    s = struct_pb2.Struct()
    json_format.ParseDict(dict(config), s)
    return s


# Connector registry


def list_kinds() -> Unary[list[t.ConnectorKind]]:
    return Unary(
        "registry",
        "ListKinds",
        registry_pb2.ListKindsRequest(),
        lambda r: [t.ConnectorKind.from_proto(k) for k in r.kinds],
    )


def add_connector(
    name: str, kind: str, config: Mapping[str, Any] | None, fields: Mapping[str, Any], validate_only: bool
) -> Unary[t.Connector]:
    merged = {**(config or {}), **fields}
    merged = {k: os.path.abspath(v) if isinstance(v, os.PathLike) else v for k, v in merged.items()}
    request = registry_pb2.AddConnectorRequest(name=name, kind=kind, config=struct(merged), validate_only=validate_only)
    return Unary("registry", "AddConnector", request, lambda r: t.Connector.from_proto(r.connector))


def list_connectors(family: str | None) -> Unary[list[t.Connector]]:
    request = registry_pb2.ListConnectorsRequest(family=t.family_value(family) if family else 0)  # type: ignore[arg-type]
    return Unary("registry", "ListConnectors", request, lambda r: [t.Connector.from_proto(c) for c in r.connectors])


def get_connector(name: str) -> Unary[t.Connector]:
    return Unary("registry", "GetConnector", registry_pb2.GetConnectorRequest(name=name), t.Connector.from_proto)


def test_connector(name: str) -> Unary[t.HealthReport]:
    return Unary("registry", "TestConnector", registry_pb2.TestConnectorRequest(name=name), t.HealthReport.from_proto)


def remove_connector(name: str) -> Unary[None]:
    return Unary("registry", "RemoveConnector", registry_pb2.RemoveConnectorRequest(name=name), lambda r: None)


# Queries


def execute(
    connector: str,
    sql: str,
    p: Params,
    max_rows: int | None,
    max_bytes: int | None,
    timeout: float | None,
    inline_rows: int,
    write: bool,
) -> Unary[query_pb2.ExecuteResponse]:
    request = query_pb2.ExecuteRequest(
        connector=connector,
        sql=sql,
        params=params(p),
        limits=limits(max_rows, max_bytes, timeout),
        inline=query_pb2.InlinePolicy(max_rows=inline_rows),
        write=write,
    )
    return Unary("query", "Execute", request, lambda r: r)


def list_tables(connector: str, schema: str | None) -> Paged[t.TableInfo]:
    return Paged(
        "query",
        "ListTables",
        lambda pg: query_pb2.ListTablesRequest(connector=connector, schema=schema or "", page=pg),
        lambda r: [t.TableInfo.from_proto(x) for x in r.tables],
    )


def get_schema(connector: str, table: Table) -> Unary[t.TableSchema]:
    request = query_pb2.GetSchemaRequest(connector=connector, table=t.TableRef.of(table).to_proto())
    return Unary("query", "GetSchema", request, t.TableSchema.from_proto)


def explain(connector: str, sql: str, p: Params, verbose: bool) -> Unary[t.Plan]:
    request = query_pb2.ExplainRequest(connector=connector, sql=sql, params=params(p), verbose=verbose)
    return Unary("query", "Explain", request, t.Plan.from_proto)


# Catalog


def list_schemas(connector: str, catalog: str | None) -> Paged[t.SchemaInfo]:
    return Paged(
        "catalog",
        "ListSchemas",
        lambda pg: catalog_pb2.ListSchemasRequest(connector=connector, catalog=catalog or "", page=pg),
        lambda r: [t.SchemaInfo.from_proto(s) for s in r.schemas],
    )


def table_metadata(connector: str, table: Table) -> Unary[t.TableMetadata]:
    request = catalog_pb2.GetTableMetadataRequest(connector=connector, table=t.TableRef.of(table).to_proto())
    return Unary("catalog", "GetTableMetadata", request, t.TableMetadata.from_proto)


def search_tables(connector: str, text: str) -> Paged[t.SearchHit]:
    return Paged(
        "catalog",
        "SearchTables",
        lambda pg: catalog_pb2.SearchTablesRequest(connector=connector, query=text, page=pg),
        lambda r: [t.SearchHit.from_proto(h) for h in r.hits],
    )


def lineage(connector: str, table: Table, direction: str, depth: int) -> Unary[t.Lineage]:
    request = catalog_pb2.GetLineageRequest(
        connector=connector,
        table=t.TableRef.of(table).to_proto(),
        direction=t.lineage_direction_value(direction),  # type: ignore[arg-type]
        depth=depth,
    )
    return Unary("catalog", "GetLineage", request, t.Lineage.from_proto)


def classifications(connector: str, table: Table) -> Unary[list[t.Classification]]:
    request = catalog_pb2.GetClassificationsRequest(connector=connector, table=t.TableRef.of(table).to_proto())
    return Unary(
        "catalog", "GetClassifications", request, lambda r: [t.Classification.from_proto(c) for c in r.classifications]
    )


# Processing


def submit_job(
    connector: str,
    job_type: str,
    spec: Mapping[str, Any] | None,
    idempotency_key: str | None,
    labels: Mapping[str, str] | None,
) -> Unary[t.Job]:
    request = processing_pb2.SubmitJobRequest(
        connector=connector,
        job_type=job_type,
        spec=struct(spec or {}),
        idempotency_key=idempotency_key or "",
        labels=dict(labels or {}),
    )
    return Unary("processing", "SubmitJob", request, t.Job.from_proto)


def job_status(connector: str, job_id: str) -> Unary[t.Job]:
    return Unary(
        "processing",
        "GetJobStatus",
        processing_pb2.GetJobStatusRequest(connector=connector, job_id=job_id),
        t.Job.from_proto,
    )


def watch_job_request(connector: str, job_id: str) -> processing_pb2.GetJobStatusRequest:
    return processing_pb2.GetJobStatusRequest(connector=connector, job_id=job_id)


def job_result(connector: str, job_id: str) -> Unary[t.JobResult]:
    request = processing_pb2.GetJobResultRequest(connector=connector, job_id=job_id)
    return Unary("processing", "GetJobResult", request, t.JobResult.from_proto)


def cancel_job(connector: str, job_id: str) -> Unary[t.Job]:
    return Unary(
        "processing", "CancelJob", processing_pb2.CancelJobRequest(connector=connector, job_id=job_id), t.Job.from_proto
    )


def list_jobs(connector: str, states: Iterable[str] | None) -> Paged[t.Job]:
    numbers = [t.job_state_value(s) for s in states or ()]
    return Paged(
        "processing",
        "ListJobs",
        lambda pg: processing_pb2.ListJobsRequest(connector=connector, states=numbers, page=pg),  # type: ignore[arg-type]
        lambda r: [t.Job.from_proto(j) for j in r.jobs],
    )


# Storage


def list_objects(connector: str, prefix: str, delimited: bool) -> Paged[t.ObjectInfo]:
    return Paged(
        "storage",
        "List",
        lambda pg: storage_pb2.ListObjectsRequest(connector=connector, prefix=prefix, delimited=delimited, page=pg),
        lambda r: [t.ObjectInfo.from_proto(o) for o in r.objects],
    )


def head_object(connector: str, path: str) -> Unary[t.ObjectInfo]:
    return Unary(
        "storage", "Head", storage_pb2.HeadObjectRequest(connector=connector, path=path), t.ObjectInfo.from_proto
    )


def read_object_request(connector: str, path: str, offset: int, length: int | None) -> storage_pb2.ReadObjectRequest:
    return storage_pb2.ReadObjectRequest(connector=connector, path=path, offset=offset, length=length or 0)


def write_header(
    connector: str, path: str, if_not_exists: bool, idempotency_key: str | None
) -> storage_pb2.WriteObjectChunk:
    header = storage_pb2.WriteObjectHeader(
        connector=connector, path=path, if_not_exists=if_not_exists, idempotency_key=idempotency_key or ""
    )
    return storage_pb2.WriteObjectChunk(header=header)


def write_data(data: bytes) -> storage_pb2.WriteObjectChunk:
    return storage_pb2.WriteObjectChunk(data=data)


def delete_object(connector: str, path: str) -> Unary[None]:
    return Unary("storage", "Delete", storage_pb2.DeleteObjectRequest(connector=connector, path=path), lambda r: None)


def read_table(
    connector: str, path: str, fmt: str | None, max_rows: int | None
) -> Unary[storage_pb2.ReadTableResponse]:
    request = storage_pb2.ReadTableRequest(
        connector=connector, path=path, format=fmt or "", limits=limits(max_rows, None, None)
    )
    return Unary("storage", "ReadTable", request, lambda r: r)


#: Bytes per message when uploading an object.
WRITE_CHUNK = 1 << 20


def chunks(data: bytes | Iterable[bytes] | Any) -> Iterable[bytes]:
    """Upload data as chunks: bytes, an iterable of bytes, or a binary file object."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        return (bytes(view[i : i + WRITE_CHUNK]) for i in range(0, len(view), WRITE_CHUNK))
    if hasattr(data, "read"):
        return iter(lambda: data.read(WRITE_CHUNK), b"")
    return data


# Access


def whoami() -> Unary[t.Identity]:
    return Unary("access", "WhoAmI", access_pb2.WhoAmIRequest(), t.Identity.from_proto)


def create_token(principal: str, roles: Iterable[str], ttl: float | None) -> Unary[t.NewToken]:
    request = access_pb2.CreateTokenRequest(principal=principal, roles=list(roles), ttl_seconds=round(ttl or 0))
    return Unary("access", "CreateToken", request, t.NewToken.from_proto)


def list_tokens() -> Unary[list[t.TokenInfo]]:
    return Unary(
        "access", "ListTokens", access_pb2.ListTokensRequest(), lambda r: [t.TokenInfo.from_proto(x) for x in r.tokens]
    )


def revoke_token(token_id: str) -> Unary[t.TokenInfo]:
    return Unary(
        "access", "RevokeToken", access_pb2.RevokeTokenRequest(id=token_id), lambda r: t.TokenInfo.from_proto(r.info)
    )


def list_roles() -> Unary[list[t.Role]]:
    return Unary(
        "access", "ListRoles", access_pb2.ListRolesRequest(), lambda r: [t.Role.from_proto(x) for x in r.roles]
    )


def put_role(role: t.Role) -> Unary[None]:
    return Unary("access", "PutRole", access_pb2.PutRoleRequest(role=role.to_proto()), lambda r: None)


def delete_role(name: str) -> Unary[None]:
    return Unary("access", "DeleteRole", access_pb2.DeleteRoleRequest(name=name), lambda r: None)


# Status


def status() -> Unary[t.GatewayStatus]:
    return Unary("status", "GetStatus", status_pb2.GetStatusRequest(), t.GatewayStatus.from_proto)
