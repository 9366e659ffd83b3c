"""The values the gateway returns, as plain Python dataclasses.

Enumerations become lower-case names (``"query"``, ``"view"``,
``"running"``), timestamps become timezone-aware :class:`datetime.datetime`
values and durations become seconds.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from ._proto import (
    access_pb2,
    catalog_pb2,
    common_pb2,
    processing_pb2,
    query_pb2,
    registry_pb2,
    status_pb2,
    storage_pb2,
)

__all__ = [
    "Classification",
    "Column",
    "ColumnLineage",
    "Connector",
    "ConnectorKind",
    "ConnectorStatus",
    "ForeignKey",
    "GatewayStatus",
    "Grant",
    "HealthCheck",
    "HealthReport",
    "Identity",
    "Job",
    "JobResult",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "NewToken",
    "ObjectInfo",
    "Plan",
    "PoolStatus",
    "Role",
    "RoleLimits",
    "SchemaInfo",
    "SearchHit",
    "TableInfo",
    "TableMetadata",
    "TableRef",
    "TableSchema",
    "TokenInfo",
    "Truncation",
]


def _enum(value: int, enum: Any, prefix: str) -> str:
    """``FAMILY_QUERY`` -> ``"query"``; unknown numbers come back as their digits."""
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return str(value)


def _enum_value(name: str, enum: Any, prefix: str) -> int:
    """``"query"`` -> ``FAMILY_QUERY``'s number; raises ``ValueError`` naming the choices."""
    try:
        return int(enum.Value(prefix + name.upper()))
    except ValueError:
        choices = ", ".join(n.removeprefix(prefix).lower() for n in enum.keys() if not n.endswith("UNSPECIFIED"))
        raise ValueError(f"unknown value {name!r}; expected one of: {choices}") from None


def _time(message: Message, name: str) -> datetime.datetime | None:
    if not message.HasField(name):
        return None
    ts: timestamp_pb2.Timestamp = getattr(message, name)
    when: datetime.datetime = ts.ToDatetime(tzinfo=datetime.timezone.utc)
    return when


def _seconds(message: Message, name: str) -> float | None:
    if not message.HasField(name):
        return None
    d: duration_pb2.Duration = getattr(message, name)
    seconds: float = d.ToTimedelta().total_seconds()
    return seconds


def _struct(message: Message, name: str) -> dict[str, Any]:
    if not message.HasField(name):
        return {}
    s: struct_pb2.Struct = getattr(message, name)
    return dict(json_format.MessageToDict(s))


def schema_from_ipc(data: bytes) -> pa.Schema | None:
    """The schema in an Arrow IPC stream; ``None`` for empty bytes."""
    if not data:
        return None
    return pa.ipc.open_stream(data).schema


def families(values: Any) -> tuple[str, ...]:
    """Family numbers as names: ``("query", "catalog")``."""
    return tuple(_enum(v, common_pb2.Family, "FAMILY_") for v in values)


def family_value(name: str) -> int:
    """A family name as its enum number."""
    return _enum_value(name, common_pb2.Family, "FAMILY_")


def job_state_value(name: str) -> int:
    """A job state name (``"running"``) as its enum number."""
    return _enum_value(name, processing_pb2.JobState, "JOB_STATE_")


def lineage_direction_value(name: str) -> int:
    """A lineage direction (``"upstream"``, ``"downstream"``, ``"both"``) as its enum number."""
    return _enum_value(name, catalog_pb2.LineageDirection, "LINEAGE_DIRECTION_")


@dataclass(frozen=True)
class ConnectorKind:
    """A kind of connector the gateway can build, such as ``files`` or ``postgres``."""

    kind: str
    description: str
    families: tuple[str, ...]
    #: The JSON Schema of the kind's config.
    config_schema: dict[str, Any]

    @classmethod
    def from_proto(cls, m: registry_pb2.ConnectorKind) -> ConnectorKind:
        schema = json.loads(m.config_schema_json) if m.config_schema_json else {}
        return cls(m.kind, m.description, families(m.families), schema)

    @property
    def fields(self) -> dict[str, Any]:
        """The config's fields and their JSON Schemas."""
        return dict(self.config_schema.get("properties", {}))

    @property
    def required(self) -> tuple[str, ...]:
        """The fields every config of this kind must give."""
        return tuple(self.config_schema.get("required", ()))


@dataclass(frozen=True)
class Connector:
    """A named connector instance on the gateway."""

    name: str
    kind: str
    families: tuple[str, ...]
    #: The config as given, without ``type``; secrets show as references or ``[redacted]``.
    config: dict[str, Any]
    #: ``"builtin"``, ``"config_file"`` or ``"runtime"``.
    origin: str
    description: str
    created_at: datetime.datetime | None

    @classmethod
    def from_proto(cls, m: registry_pb2.Connector) -> Connector:
        return cls(
            name=m.name,
            kind=m.kind,
            families=families(m.families),
            config=_struct(m, "config"),
            origin=_enum(m.origin, registry_pb2.Origin, "ORIGIN_"),
            description=m.description,
            created_at=_time(m, "created_at"),
        )


@dataclass(frozen=True)
class HealthCheck:
    """One step of a connector test, e.g. ``"path readable"`` or ``"select 1"``."""

    name: str
    ok: bool
    detail: str
    #: Seconds.
    latency: float | None

    @classmethod
    def from_proto(cls, m: registry_pb2.HealthCheck) -> HealthCheck:
        return cls(m.name, m.ok, m.detail, _seconds(m, "latency"))


@dataclass(frozen=True)
class HealthReport:
    """What a connector test found."""

    healthy: bool
    #: A one-line summary; when unhealthy, the precise reason.
    message: str
    #: Seconds for the whole test.
    latency: float | None
    checks: tuple[HealthCheck, ...]

    @classmethod
    def from_proto(cls, m: registry_pb2.TestConnectorResponse) -> HealthReport:
        return cls(m.healthy, m.message, _seconds(m, "latency"), tuple(HealthCheck.from_proto(c) for c in m.checks))


@dataclass(frozen=True)
class TableRef:
    """A table within one connector: ``name``, ``schema.name`` or ``catalog.schema.name``."""

    name: str
    schema: str = ""
    catalog: str = ""

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """``"orders"``, ``"public.orders"`` or ``"db.public.orders"``."""
        parts = text.split(".")
        if len(parts) > 3 or not all(parts):
            raise ValueError(f"{text!r} is not a table name; write name, schema.name or catalog.schema.name")
        parts = [""] * (3 - len(parts)) + parts
        return cls(name=parts[2], schema=parts[1], catalog=parts[0])

    @classmethod
    def of(cls, table: str | TableRef) -> TableRef:
        """A ``TableRef`` as given, or parsed from text."""
        return table if isinstance(table, TableRef) else cls.parse(table)

    @classmethod
    def from_proto(cls, m: common_pb2.TableRef) -> TableRef:
        return cls(name=m.name, schema=m.schema, catalog=m.catalog)

    def to_proto(self) -> common_pb2.TableRef:
        """The protobuf message."""
        return common_pb2.TableRef(catalog=self.catalog, schema=self.schema, name=self.name)

    def __str__(self) -> str:
        return ".".join(p for p in (self.catalog, self.schema, self.name) if p)


@dataclass(frozen=True)
class TableInfo:
    """A table as listings show it."""

    table: TableRef
    #: ``"table"``, ``"view"``, ``"materialized_view"``, ``"external"`` or ``"system"``.
    type: str
    description: str
    #: Estimated rows, when the source knows it cheaply.
    row_estimate: int | None
    #: Where the data lives (a file path, a URL), when that means something.
    location: str
    #: The storage format (``"parquet"``), when there is one.
    format: str

    @classmethod
    def from_proto(cls, m: query_pb2.TableInfo) -> TableInfo:
        return cls(
            table=TableRef.from_proto(m.table),
            type=_enum(m.table_type, query_pb2.TableType, "TABLE_TYPE_"),
            description=m.description,
            row_estimate=m.row_estimate if m.HasField("row_estimate") else None,
            location=m.location,
            format=m.format,
        )

    @property
    def name(self) -> str:
        """The qualified name, e.g. ``public.orders``."""
        return str(self.table)


@dataclass(frozen=True)
class Column:
    """A column: its name, Arrow type and, when the source has them, its own type and a description."""

    name: str
    #: The Arrow type as Arrow writes it, e.g. ``Int64`` or ``Timestamp(µs, "UTC")``.
    arrow_type: str
    #: The source's own type name (``varchar(20)``), when it has one.
    source_type: str
    nullable: bool
    description: str

    @classmethod
    def from_proto(cls, m: query_pb2.Column) -> Column:
        return cls(m.name, m.arrow_type, m.source_type, m.nullable, m.description)


@dataclass(frozen=True)
class TableSchema:
    """A table's description: what it is, its Arrow schema and its columns."""

    table: TableInfo
    schema: pa.Schema
    columns: tuple[Column, ...]

    @classmethod
    def from_proto(cls, m: query_pb2.GetSchemaResponse) -> TableSchema:
        schema = schema_from_ipc(m.arrow_schema) or pa.schema([])
        return cls(TableInfo.from_proto(m.table), schema, tuple(Column.from_proto(c) for c in m.columns))


@dataclass(frozen=True)
class Plan:
    """How a query would run."""

    #: The plan as the source prints it.
    text: str
    #: Named sections (``"logical_plan"``, ``"physical_plan"``), when the source has several.
    sections: dict[str, str]

    @classmethod
    def from_proto(cls, m: query_pb2.ExplainResponse) -> Plan:
        return cls(m.plan, {s.name: s.plan for s in m.sections})

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Truncation:
    """Why a result stopped before the source ran out of rows."""

    #: The limit that cut it: ``"max_rows"`` or ``"max_bytes"``.
    limit: str
    #: The value of that limit.
    value: int

    @classmethod
    def from_proto(cls, m: common_pb2.Truncation) -> Truncation | None:
        return cls(m.limit, m.value) if m.truncated else None

    @classmethod
    def from_app_metadata(cls, data: bytes) -> Truncation | None:
        """From the JSON note on the last Flight message: ``{"truncated": true, "limit": ..., "value": ...}``."""
        try:
            note = json.loads(data)
        except ValueError:
            return None
        if not isinstance(note, dict) or note.get("truncated") is not True:
            return None
        return cls(str(note.get("limit", "")), int(note.get("value", 0)))


@dataclass(frozen=True)
class SchemaInfo:
    """A schema (namespace of tables) in a connector."""

    name: str
    catalog: str
    description: str

    @classmethod
    def from_proto(cls, m: catalog_pb2.SchemaInfo) -> SchemaInfo:
        return cls(m.name, m.catalog, m.description)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key from some columns of a table to another table's."""

    name: str
    columns: tuple[str, ...]
    referenced_table: TableRef
    referenced_columns: tuple[str, ...]

    @classmethod
    def from_proto(cls, m: catalog_pb2.ForeignKey) -> ForeignKey:
        return cls(m.name, tuple(m.columns), TableRef.from_proto(m.referenced_table), tuple(m.referenced_columns))


@dataclass(frozen=True)
class TableMetadata:
    """Everything the catalog knows about one table."""

    table: TableInfo
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    #: Column name -> labels such as ``"pii.email"``.
    classifications: dict[str, tuple[str, ...]]
    #: Column name -> its default expression, for columns that have one.
    defaults: dict[str, str]
    owner: str
    properties: dict[str, str]
    created_at: datetime.datetime | None
    updated_at: datetime.datetime | None

    @classmethod
    def from_proto(cls, m: catalog_pb2.TableMetadata) -> TableMetadata:
        return cls(
            table=TableInfo.from_proto(m.table),
            columns=tuple(Column.from_proto(c.column) for c in m.columns),
            primary_key=tuple(m.primary_key),
            foreign_keys=tuple(ForeignKey.from_proto(f) for f in m.foreign_keys),
            classifications={c.column.name: tuple(c.classifications) for c in m.columns if c.classifications},
            defaults={c.column.name: c.default_expression for c in m.columns if c.HasField("default_expression")},
            owner=m.owner,
            properties=dict(m.properties),
            created_at=_time(m, "created_at"),
            updated_at=_time(m, "updated_at"),
        )


@dataclass(frozen=True)
class SearchHit:
    """A table that matched a search, with the columns that matched."""

    table: TableInfo
    #: Higher is better; comparable within one search only.
    score: float
    matched_columns: tuple[str, ...]

    @classmethod
    def from_proto(cls, m: catalog_pb2.SearchHit) -> SearchHit:
        return cls(TableInfo.from_proto(m.table), m.score, tuple(m.matched_columns))


@dataclass(frozen=True)
class LineageNode:
    """A dataset in a lineage graph."""

    id: str
    table: TableRef
    connector: str

    @classmethod
    def from_proto(cls, m: catalog_pb2.LineageNode) -> LineageNode:
        return cls(m.id, TableRef.from_proto(m.table), m.connector)


@dataclass(frozen=True)
class ColumnLineage:
    """Which source columns a column is made from."""

    to_column: str
    from_columns: tuple[str, ...]

    @classmethod
    def from_proto(cls, m: catalog_pb2.ColumnLineage) -> ColumnLineage:
        return cls(m.to_column, tuple(m.from_columns))


@dataclass(frozen=True)
class LineageEdge:
    """Data flowing from one node to another."""

    from_id: str
    to_id: str
    #: ``"view"``, ``"job"``, ``"query"`` or ``"declared"``.
    kind: str
    via: str
    columns: tuple[ColumnLineage, ...]

    @classmethod
    def from_proto(cls, m: catalog_pb2.LineageEdge) -> LineageEdge:
        return cls(m.from_id, m.to_id, m.kind, m.via, tuple(ColumnLineage.from_proto(c) for c in m.columns))


@dataclass(frozen=True)
class Lineage:
    """Where a table's data comes from and where it goes."""

    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]

    @classmethod
    def from_proto(cls, m: catalog_pb2.Lineage) -> Lineage:
        return cls(tuple(LineageNode.from_proto(n) for n in m.nodes), tuple(LineageEdge.from_proto(e) for e in m.edges))


@dataclass(frozen=True)
class Classification:
    """A label on a column, such as ``pii.email``."""

    column: str
    label: str
    #: 0..1; 1 for a declared label.
    confidence: float
    #: ``"declared"``, ``"name"`` or ``"sample"``.
    method: str

    @classmethod
    def from_proto(cls, m: catalog_pb2.Classification) -> Classification:
        return cls(m.column, m.label, m.confidence, m.method)


@dataclass(frozen=True)
class Job:
    """A job on a processing engine, followed by id."""

    id: str
    connector: str
    job_type: str
    #: ``"pending"``, ``"running"``, ``"succeeded"``, ``"failed"`` or ``"cancelled"``.
    state: str
    message: str
    #: 0..1, where the engine reports progress.
    progress: float | None
    submitted_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    labels: dict[str, str] = field(default_factory=dict)
    external_id: str = ""
    external_url: str = ""

    @classmethod
    def from_proto(cls, m: processing_pb2.Job) -> Job:
        return cls(
            id=m.id,
            connector=m.connector,
            job_type=m.job_type,
            state=_enum(m.state, processing_pb2.JobState, "JOB_STATE_"),
            message=m.message,
            progress=m.progress if m.HasField("progress") else None,
            submitted_at=_time(m, "submitted_at"),
            started_at=_time(m, "started_at"),
            finished_at=_time(m, "finished_at"),
            labels=dict(m.labels),
            external_id=m.external_id,
            external_url=m.external_url,
        )

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.state in ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class JobResult:
    """What a finished job produced."""

    job: Job
    #: The schema of the table the job produced, if it produced one.
    schema: pa.Schema | None
    #: A Flight ticket for that table, if the gateway offers one.
    ticket: bytes
    #: Output meant for people (a run summary, a log tail).
    output: str
    metrics: dict[str, Any]

    @classmethod
    def from_proto(cls, m: processing_pb2.JobResult) -> JobResult:
        return cls(
            job=Job.from_proto(m.job),
            schema=schema_from_ipc(m.arrow_schema),
            ticket=m.ticket.ticket,
            output=m.output,
            metrics=_struct(m, "metrics"),
        )


@dataclass(frozen=True)
class ObjectInfo:
    """A file or object, or a prefix standing for several."""

    path: str
    size: int
    last_modified: datetime.datetime | None
    etag: str
    version: str
    is_prefix: bool

    @classmethod
    def from_proto(cls, m: storage_pb2.ObjectInfo) -> ObjectInfo:
        return cls(m.path, m.size, _time(m, "last_modified"), m.etag, m.version, m.is_prefix)


@dataclass(frozen=True)
class Grant:
    """Rights on one connector (or ``"*"``), optionally narrowed to tables."""

    connector: str
    #: ``schema.table`` patterns (``*`` matches any name); empty: the whole connector.
    tables: tuple[str, ...] = ()
    #: ``"read"``, ``"write"``, ``"ddl"``, ``"jobs"``, ``"admin"``.
    rights: tuple[str, ...] = ("read",)

    @classmethod
    def from_proto(cls, m: access_pb2.Grant) -> Grant:
        return cls(m.connector, tuple(m.tables), tuple(m.rights))

    def to_proto(self) -> access_pb2.Grant:
        """The protobuf message."""
        return access_pb2.Grant(connector=self.connector, tables=list(self.tables), rights=list(self.rights))


@dataclass(frozen=True)
class RoleLimits:
    """Caps on each request of a role's principals; ``None``: no cap from this role."""

    max_rows: int | None = None
    max_bytes: int | None = None
    #: Seconds a statement may run.
    statement_timeout: float | None = None
    #: Queries a principal may run at once.
    max_concurrent: int | None = None

    @classmethod
    def from_proto(cls, m: access_pb2.RoleLimits) -> RoleLimits:
        def opt(name: str) -> Any:
            return getattr(m, name) if m.HasField(name) else None

        timeout_ms = opt("statement_timeout_ms")
        return cls(
            opt("max_rows"), opt("max_bytes"), None if timeout_ms is None else timeout_ms / 1000, opt("max_concurrent")
        )

    def to_proto(self) -> access_pb2.RoleLimits:
        """The protobuf message."""
        m = access_pb2.RoleLimits()
        if self.max_rows is not None:
            m.max_rows = self.max_rows
        if self.max_bytes is not None:
            m.max_bytes = self.max_bytes
        if self.statement_timeout is not None:
            m.statement_timeout_ms = round(self.statement_timeout * 1000)
        if self.max_concurrent is not None:
            m.max_concurrent = self.max_concurrent
        return m


@dataclass(frozen=True)
class Role:
    """A named set of grants and limits that tokens hold."""

    name: str
    grants: tuple[Grant, ...] = ()
    limits: RoleLimits = field(default_factory=RoleLimits)
    #: ``"builtin"``, ``"config"`` or ``"runtime"``.
    source: str = ""

    @classmethod
    def from_proto(cls, m: access_pb2.Role) -> Role:
        return cls(m.name, tuple(Grant.from_proto(g) for g in m.grants), RoleLimits.from_proto(m.limits), m.source)

    def to_proto(self) -> access_pb2.Role:
        """The protobuf message."""
        return access_pb2.Role(
            name=self.name,
            grants=[g.to_proto() for g in self.grants],
            limits=self.limits.to_proto(),
            source=self.source,
        )


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the gateway keeps it: never the token itself."""

    #: The public id, for revoking.
    id: str
    principal: str
    roles: tuple[str, ...]
    #: ``"config"`` or ``"runtime"``.
    source: str
    created_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None

    @classmethod
    def from_proto(cls, m: access_pb2.TokenInfo) -> TokenInfo:
        return cls(
            id=m.id,
            principal=m.principal,
            roles=tuple(m.roles),
            source=m.source,
            created_at=_time(m, "created_at"),
            expires_at=_time(m, "expires_at"),
            revoked_at=_time(m, "revoked_at"),
        )


@dataclass(frozen=True)
class NewToken:
    """A token just minted: ``token`` is shown this once, only its hash is kept."""

    token: str
    info: TokenInfo

    @classmethod
    def from_proto(cls, m: access_pb2.CreateTokenResponse) -> NewToken:
        return cls(m.token, TokenInfo.from_proto(m.info))


@dataclass(frozen=True)
class Identity:
    """Who the gateway takes the caller for, and what it may do."""

    #: ``"anonymous"`` when calls are not authenticated.
    principal: str
    authenticated: bool
    roles: tuple[str, ...]
    grants: tuple[Grant, ...]
    #: The tightest limits of the principal's roles.
    limits: RoleLimits

    @classmethod
    def from_proto(cls, m: access_pb2.WhoAmIResponse) -> Identity:
        return cls(
            m.principal,
            m.authenticated,
            tuple(m.roles),
            tuple(Grant.from_proto(g) for g in m.grants),
            RoleLimits.from_proto(m.limits),
        )


@dataclass(frozen=True)
class PoolStatus:
    """A connector's connection pool at the moment the gateway was asked."""

    #: Connections open, idle or in use.
    open: int
    #: The most connections the pool may open.
    max: int
    in_use: int
    #: Callers waiting for a connection.
    waiters: int
    #: Attempts repeated after transient failures since the connector was built.
    retries: int

    @classmethod
    def from_proto(cls, m: status_pb2.PoolStatus) -> PoolStatus:
        return cls(m.open, m.max, m.in_use, m.waiters, m.retries)


@dataclass(frozen=True)
class ConnectorStatus:
    """How one connector is doing, as :meth:`dmesh.Client.status` shows it."""

    name: str
    kind: str
    #: Built and usable; when not, ``problem`` says why.
    available: bool
    problem: str
    #: Queries streaming from this connector now.
    queries_in_flight: int
    #: ``None`` for connectors without a connection pool (such as ``files``).
    pool: PoolStatus | None

    @classmethod
    def from_proto(cls, m: status_pb2.ConnectorStatus) -> ConnectorStatus:
        return cls(
            name=m.name,
            kind=m.kind,
            available=m.available,
            problem=m.problem,
            queries_in_flight=m.queries_in_flight,
            pool=PoolStatus.from_proto(m.pool) if m.HasField("pool") else None,
        )


@dataclass(frozen=True)
class GatewayStatus:
    """How the gateway is doing: what ``dmesh status`` shows."""

    version: str
    started_at: datetime.datetime | None
    #: Seconds since the gateway started.
    uptime: float | None
    #: Queries streaming now, over every connector.
    queries_in_flight: int
    #: Whether calls must authenticate.
    authenticated: bool
    #: The connectors the caller may use, in name order.
    connectors: tuple[ConnectorStatus, ...]

    @classmethod
    def from_proto(cls, m: status_pb2.GetStatusResponse) -> GatewayStatus:
        return cls(
            version=m.version,
            started_at=_time(m, "started_at"),
            uptime=_seconds(m, "uptime"),
            queries_in_flight=m.queries_in_flight,
            authenticated=m.authenticated,
            connectors=tuple(ConnectorStatus.from_proto(c) for c in m.connectors),
        )
