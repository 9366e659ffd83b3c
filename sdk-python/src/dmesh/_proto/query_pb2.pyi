from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TableType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TABLE_TYPE_UNSPECIFIED: _ClassVar[TableType]
    TABLE_TYPE_TABLE: _ClassVar[TableType]
    TABLE_TYPE_VIEW: _ClassVar[TableType]
    TABLE_TYPE_MATERIALIZED_VIEW: _ClassVar[TableType]
    TABLE_TYPE_EXTERNAL: _ClassVar[TableType]
    TABLE_TYPE_SYSTEM: _ClassVar[TableType]
TABLE_TYPE_UNSPECIFIED: TableType
TABLE_TYPE_TABLE: TableType
TABLE_TYPE_VIEW: TableType
TABLE_TYPE_MATERIALIZED_VIEW: TableType
TABLE_TYPE_EXTERNAL: TableType
TABLE_TYPE_SYSTEM: TableType

class InlinePolicy(_message.Message):
    __slots__ = ("max_rows", "max_bytes")
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_rows: int
    max_bytes: int
    def __init__(self, max_rows: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("connector", "sql", "params", "limits", "inline", "write")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    sql: str
    params: _containers.RepeatedCompositeFieldContainer[_common_pb2.Param]
    limits: _common_pb2.Limits
    inline: InlinePolicy
    write: bool
    def __init__(self, connector: _Optional[str] = ..., sql: _Optional[str] = ..., params: _Optional[_Iterable[_Union[_common_pb2.Param, _Mapping]]] = ..., limits: _Optional[_Union[_common_pb2.Limits, _Mapping]] = ..., inline: _Optional[_Union[InlinePolicy, _Mapping]] = ..., write: _Optional[bool] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("arrow_schema", "ticket", "inline", "query_id")
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    arrow_schema: bytes
    ticket: _common_pb2.Ticket
    inline: InlineResult
    query_id: str
    def __init__(self, arrow_schema: _Optional[bytes] = ..., ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., inline: _Optional[_Union[InlineResult, _Mapping]] = ..., query_id: _Optional[str] = ...) -> None: ...

class InlineResult(_message.Message):
    __slots__ = ("arrow_ipc", "rows", "truncation")
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    rows: int
    truncation: _common_pb2.Truncation
    def __init__(self, arrow_ipc: _Optional[bytes] = ..., rows: _Optional[int] = ..., truncation: _Optional[_Union[_common_pb2.Truncation, _Mapping]] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("connector", "table")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    table: _common_pb2.TableRef
    def __init__(self, connector: _Optional[str] = ..., table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "arrow_type", "source_type", "nullable", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARROW_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    arrow_type: str
    source_type: str
    nullable: bool
    description: str
    def __init__(self, name: _Optional[str] = ..., arrow_type: _Optional[str] = ..., source_type: _Optional[str] = ..., nullable: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("table", "arrow_schema", "columns")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    table: TableInfo
    arrow_schema: bytes
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    def __init__(self, table: _Optional[_Union[TableInfo, _Mapping]] = ..., arrow_schema: _Optional[bytes] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class TableInfo(_message.Message):
    __slots__ = ("table", "table_type", "description", "row_estimate", "location", "format")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    TABLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROW_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    table: _common_pb2.TableRef
    table_type: TableType
    description: str
    row_estimate: int
    location: str
    format: str
    def __init__(self, table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ..., table_type: _Optional[_Union[TableType, str]] = ..., description: _Optional[str] = ..., row_estimate: _Optional[int] = ..., location: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class ListTablesRequest(_message.Message):
    __slots__ = ("connector", "schema", "page")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    schema: str
    page: _common_pb2.PageRequest
    def __init__(self, connector: _Optional[str] = ..., schema: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables", "next_page_token")
    TABLES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[TableInfo]
    next_page_token: str
    def __init__(self, tables: _Optional[_Iterable[_Union[TableInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("connector", "sql", "params", "verbose")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    VERBOSE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    sql: str
    params: _containers.RepeatedCompositeFieldContainer[_common_pb2.Param]
    verbose: bool
    def __init__(self, connector: _Optional[str] = ..., sql: _Optional[str] = ..., params: _Optional[_Iterable[_Union[_common_pb2.Param, _Mapping]]] = ..., verbose: _Optional[bool] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("plan", "sections")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    plan: str
    sections: _containers.RepeatedCompositeFieldContainer[PlanSection]
    def __init__(self, plan: _Optional[str] = ..., sections: _Optional[_Iterable[_Union[PlanSection, _Mapping]]] = ...) -> None: ...

class PlanSection(_message.Message):
    __slots__ = ("name", "plan")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    name: str
    plan: str
    def __init__(self, name: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...
