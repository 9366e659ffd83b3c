"""Python client for the dmesh connector gateway.

Queries run on the gateway and their results stream back as Apache Arrow::

    import dmesh

    client = dmesh.Client("http://127.0.0.1:50051")
    orders = client.query("demo", "SELECT * FROM orders LIMIT 10")

:class:`Client` is synchronous; :class:`dmesh.aio.Client` is its asyncio twin.
:mod:`dmesh.agent` offers the gateway's read-only abilities as LLM tools, and
``python -m dmesh.mcp`` serves them over MCP.
"""

from __future__ import annotations

from . import types
from ._version import __version__
from .client import Client, QueryResult
from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    DmeshError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .types import (
    Column,
    Connector,
    ConnectorKind,
    ConnectorStatus,
    GatewayStatus,
    Grant,
    HealthReport,
    Plan,
    PoolStatus,
    Role,
    RoleLimits,
    TableInfo,
    TableRef,
    TableSchema,
    Truncation,
)

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "Client",
    "Column",
    "Connector",
    "ConnectorKind",
    "ConnectorStatus",
    "DeadlineExceeded",
    "DmeshError",
    "FailedPrecondition",
    "GatewayStatus",
    "Grant",
    "HealthReport",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Plan",
    "PoolStatus",
    "QueryResult",
    "ResourceExhausted",
    "Role",
    "RoleLimits",
    "TableInfo",
    "TableRef",
    "TableSchema",
    "Truncation",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "__version__",
    "types",
]
