import datetime

from . import common_pb2 as _common_pb2
from . import query_pb2 as _query_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineageDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINEAGE_DIRECTION_UNSPECIFIED: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_UPSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_DOWNSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_BOTH: _ClassVar[LineageDirection]
LINEAGE_DIRECTION_UNSPECIFIED: LineageDirection
LINEAGE_DIRECTION_UPSTREAM: LineageDirection
LINEAGE_DIRECTION_DOWNSTREAM: LineageDirection
LINEAGE_DIRECTION_BOTH: LineageDirection

class ListSchemasRequest(_message.Message):
    __slots__ = ("connector", "catalog", "page")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    catalog: str
    page: _common_pb2.PageRequest
    def __init__(self, connector: _Optional[str] = ..., catalog: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SchemaInfo(_message.Message):
    __slots__ = ("catalog", "name", "description")
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    catalog: str
    name: str
    description: str
    def __init__(self, catalog: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListSchemasResponse(_message.Message):
    __slots__ = ("schemas", "next_page_token")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedCompositeFieldContainer[SchemaInfo]
    next_page_token: str
    def __init__(self, schemas: _Optional[_Iterable[_Union[SchemaInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTableMetadataRequest(_message.Message):
    __slots__ = ("connector", "table")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    table: _common_pb2.TableRef
    def __init__(self, connector: _Optional[str] = ..., table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ...) -> None: ...

class ColumnMetadata(_message.Message):
    __slots__ = ("column", "default_expression", "primary_key", "classifications")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    column: _query_pb2.Column
    default_expression: str
    primary_key: bool
    classifications: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, column: _Optional[_Union[_query_pb2.Column, _Mapping]] = ..., default_expression: _Optional[str] = ..., primary_key: _Optional[bool] = ..., classifications: _Optional[_Iterable[str]] = ...) -> None: ...

class ForeignKey(_message.Message):
    __slots__ = ("name", "columns", "referenced_table", "referenced_columns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_TABLE_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    referenced_table: _common_pb2.TableRef
    referenced_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., referenced_table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ..., referenced_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class TableMetadata(_message.Message):
    __slots__ = ("table", "columns", "primary_key", "foreign_keys", "created_at", "updated_at", "owner", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    FOREIGN_KEYS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    table: _query_pb2.TableInfo
    columns: _containers.RepeatedCompositeFieldContainer[ColumnMetadata]
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    foreign_keys: _containers.RepeatedCompositeFieldContainer[ForeignKey]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    owner: str
    properties: _containers.ScalarMap[str, str]
    def __init__(self, table: _Optional[_Union[_query_pb2.TableInfo, _Mapping]] = ..., columns: _Optional[_Iterable[_Union[ColumnMetadata, _Mapping]]] = ..., primary_key: _Optional[_Iterable[str]] = ..., foreign_keys: _Optional[_Iterable[_Union[ForeignKey, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SearchTablesRequest(_message.Message):
    __slots__ = ("connector", "query", "page")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    query: str
    page: _common_pb2.PageRequest
    def __init__(self, connector: _Optional[str] = ..., query: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("table", "score", "matched_columns")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    table: _query_pb2.TableInfo
    score: float
    matched_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, table: _Optional[_Union[_query_pb2.TableInfo, _Mapping]] = ..., score: _Optional[float] = ..., matched_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchTablesResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetLineageRequest(_message.Message):
    __slots__ = ("connector", "table", "direction", "depth")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    connector: str
    table: _common_pb2.TableRef
    direction: LineageDirection
    depth: int
    def __init__(self, connector: _Optional[str] = ..., table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ..., direction: _Optional[_Union[LineageDirection, str]] = ..., depth: _Optional[int] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ("id", "table", "connector")
    ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    table: _common_pb2.TableRef
    connector: str
    def __init__(self, id: _Optional[str] = ..., table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ..., connector: _Optional[str] = ...) -> None: ...

class LineageEdge(_message.Message):
    __slots__ = ("from_id", "to_id", "kind", "via", "columns")
    FROM_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    from_id: str
    to_id: str
    kind: str
    via: str
    columns: _containers.RepeatedCompositeFieldContainer[ColumnLineage]
    def __init__(self, from_id: _Optional[str] = ..., to_id: _Optional[str] = ..., kind: _Optional[str] = ..., via: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[ColumnLineage, _Mapping]]] = ...) -> None: ...

class ColumnLineage(_message.Message):
    __slots__ = ("to_column", "from_columns")
    TO_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FROM_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    to_column: str
    from_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, to_column: _Optional[str] = ..., from_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class Lineage(_message.Message):
    __slots__ = ("nodes", "edges")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[LineageNode]
    edges: _containers.RepeatedCompositeFieldContainer[LineageEdge]
    def __init__(self, nodes: _Optional[_Iterable[_Union[LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[LineageEdge, _Mapping]]] = ...) -> None: ...

class GetClassificationsRequest(_message.Message):
    __slots__ = ("connector", "table")
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    connector: str
    table: _common_pb2.TableRef
    def __init__(self, connector: _Optional[str] = ..., table: _Optional[_Union[_common_pb2.TableRef, _Mapping]] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("column", "label", "confidence", "method")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    column: str
    label: str
    confidence: float
    method: str
    def __init__(self, column: _Optional[str] = ..., label: _Optional[str] = ..., confidence: _Optional[float] = ..., method: _Optional[str] = ...) -> None: ...

class GetClassificationsResponse(_message.Message):
    __slots__ = ("classifications",)
    CLASSIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    classifications: _containers.RepeatedCompositeFieldContainer[Classification]
    def __init__(self, classifications: _Optional[_Iterable[_Union[Classification, _Mapping]]] = ...) -> None: ...
