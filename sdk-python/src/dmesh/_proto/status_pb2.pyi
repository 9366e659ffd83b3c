import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConnectorStatus(_message.Message):
    __slots__ = ("name", "kind", "available", "problem", "queries_in_flight", "pool")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    QUERIES_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    available: bool
    problem: str
    queries_in_flight: int
    pool: PoolStatus
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., available: _Optional[bool] = ..., problem: _Optional[str] = ..., queries_in_flight: _Optional[int] = ..., pool: _Optional[_Union[PoolStatus, _Mapping]] = ...) -> None: ...

class PoolStatus(_message.Message):
    __slots__ = ("open", "max", "in_use", "waiters", "retries")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    WAITERS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    open: int
    max: int
    in_use: int
    waiters: int
    retries: int
    def __init__(self, open: _Optional[int] = ..., max: _Optional[int] = ..., in_use: _Optional[int] = ..., waiters: _Optional[int] = ..., retries: _Optional[int] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("version", "started_at", "uptime", "queries_in_flight", "authenticated", "connectors")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    QUERIES_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    CONNECTORS_FIELD_NUMBER: _ClassVar[int]
    version: str
    started_at: _timestamp_pb2.Timestamp
    uptime: _duration_pb2.Duration
    queries_in_flight: int
    authenticated: bool
    connectors: _containers.RepeatedCompositeFieldContainer[ConnectorStatus]
    def __init__(self, version: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., queries_in_flight: _Optional[int] = ..., authenticated: _Optional[bool] = ..., connectors: _Optional[_Iterable[_Union[ConnectorStatus, _Mapping]]] = ...) -> None: ...
