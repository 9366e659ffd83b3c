"""Errors the gateway reports, as Python exceptions.

Every failed call raises a :class:`DmeshError`, or the subclass named for its
gRPC status (:class:`NotFound`, :class:`PermissionDenied`, ...), so callers can
catch exactly the failures they can handle::

    try:
        client.query("demo", "SELECT * FROM nope")
    except dmesh.NotFound as e:
        print(e.message, e.reason)   # "table ... not found", "NOT_FOUND"
    except dmesh.DmeshError as e:
        if e.retryable:
            ...
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Tuple, Union

import grpc
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "DmeshError",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]

#: The trailer in which the gateway says whether repeating a call can help.
RETRYABLE_TRAILER = "dmesh-retryable"
#: The trailer that carries a serialized ``google.rpc.Status`` with details.
STATUS_DETAILS_TRAILER = "grpc-status-details-bin"
#: The domain of the ``google.rpc.ErrorInfo`` the gateway attaches.
ERROR_DOMAIN = "dmesh.dev"

Metadata = Sequence[Tuple[str, Union[str, bytes]]]


class DmeshError(Exception):
    """A call the gateway refused or could not complete.

    Attributes:
        code: The gRPC status name, e.g. ``"INVALID_ARGUMENT"`` or ``"NOT_FOUND"``.
        message: The gateway's explanation, written for the person or agent
            that made the call.
        reason: The gateway's stable machine-readable reason (the
            ``google.rpc.ErrorInfo`` reason, e.g. ``"CONNECTOR_NOT_FOUND"``),
            or ``None`` when the failure happened before the gateway answered.
        retryable: Whether repeating the same call later may succeed. The
            gateway says so for each error; a gateway that could not be
            reached at all (``UNAVAILABLE`` without an answer) counts as
            retryable.
        retry_delay: How long the gateway suggests waiting before a retry, in
            seconds, when it suggests one.
        metadata: The ``google.rpc.ErrorInfo`` metadata the gateway attached.
    """

    #: The status name this class stands for; ``None`` on the base class.
    status: str | None = None

    def __init__(
        self,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        retryable: bool = False,
        retry_delay: float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        hint = "; retrying may help" if retryable else ""
        super().__init__(f"{message} [{code}{hint}]")
        self.code = code
        self.message = message
        self.reason = reason
        self.retryable = retryable
        self.retry_delay = retry_delay
        self.metadata = dict(metadata or {})


class InvalidArgument(DmeshError):
    """The request is wrong: bad SQL, a malformed field, an unknown kind."""

    status = "INVALID_ARGUMENT"


class NotFound(DmeshError):
    """No connector, table, job or object has the name asked for."""

    status = "NOT_FOUND"


class AlreadyExists(DmeshError):
    """Something of that name exists already (a connector, an object)."""

    status = "ALREADY_EXISTS"


class PermissionDenied(DmeshError):
    """The caller may not do this: a write, a connector outside its allow-list, an admin call."""

    status = "PERMISSION_DENIED"


class Unauthenticated(DmeshError):
    """The gateway requires a token and got none, or one it does not know."""

    status = "UNAUTHENTICATED"


class ResourceExhausted(DmeshError):
    """The gateway or the source is at capacity; the retry hint says whether waiting helps."""

    status = "RESOURCE_EXHAUSTED"


class FailedPrecondition(DmeshError):
    """The system is not in a state that allows the call (an expired ticket, a built-in connector)."""

    status = "FAILED_PRECONDITION"


class Aborted(DmeshError):
    """The source aborted the operation, e.g. on a conflict."""

    status = "ABORTED"


class Unavailable(DmeshError):
    """The gateway or the source cannot be reached right now."""

    status = "UNAVAILABLE"


class DeadlineExceeded(DmeshError):
    """The call ran out of time."""

    status = "DEADLINE_EXCEEDED"


class Cancelled(DmeshError):
    """The call was cancelled."""

    status = "CANCELLED"


class Unimplemented(DmeshError):
    """The gateway or the connector does not offer this ability."""

    status = "UNIMPLEMENTED"


class Internal(DmeshError):
    """A bug in the gateway or a connector; worth reporting."""

    status = "INTERNAL"


_BY_STATUS = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        Unimplemented,
        Internal,
    )
}


def error(code: str, message: str, **details: Any) -> DmeshError:
    """The exception for a status name: its subclass, or :class:`DmeshError` for other names.

    ``details`` are :class:`DmeshError`'s keyword arguments.
    """
    return _BY_STATUS.get(code, DmeshError)(code, message, **details)


def from_status(code: grpc.StatusCode, details: str | None, trailers: Metadata | None) -> DmeshError:
    """The exception for a failed call, from its status and trailing metadata.

    Reads the ``google.rpc.ErrorInfo`` and ``google.rpc.RetryInfo`` in
    ``grpc-status-details-bin`` and the ``dmesh-retryable`` trailer.
    """
    name = code.name if code is not None else "UNKNOWN"
    message = details or name
    reason: str | None = None
    retry_delay: float | None = None
    info_metadata: dict[str, str] = {}
    retryable: bool | None = None
    for key, value in trailers or ():
        if key == RETRYABLE_TRAILER:
            text = value.decode() if isinstance(value, bytes) else value
            retryable = text.strip().lower() == "true"
        elif key == STATUS_DETAILS_TRAILER and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason or None
                    info_metadata = dict(info.metadata)
                elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    hint = error_details_pb2.RetryInfo()
                    detail.Unpack(hint)
                    retry_delay = hint.retry_delay.ToTimedelta().total_seconds()
    if retryable is None:
        retryable = info_metadata.get("retryable") == "true" or (reason is None and name == "UNAVAILABLE")
    return error(name, message, reason=reason, retryable=retryable, retry_delay=retry_delay, metadata=info_metadata)


def from_rpc_error(e: grpc.RpcError) -> DmeshError:
    """The exception for a ``grpc.RpcError`` (sync or ``grpc.aio``)."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = e.details() if hasattr(e, "details") else str(e)
    trailers = e.trailing_metadata() if hasattr(e, "trailing_metadata") else None
    return from_status(code, details, trailers)
