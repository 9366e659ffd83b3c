"""Arrow Flight's DoGet over the SDK's own gRPC channel.

``QueryService.Execute`` answers with a ticket; the rows come from
``arrow.flight.protocol.FlightService/DoGet`` on the same endpoint. The SDK
calls DoGet through grpcio so that one channel, one set of credentials and one
error path (status, ``ErrorInfo``, ``RetryInfo``, ``dmesh-retryable``) serve
every call, and so that the async client streams without threads.

Only two Flight messages are needed. They are built from a descriptor in a
private pool, so they cannot collide with another library's copy of Arrow's
``Flight.proto`` in the default pool.
"""

from __future__ import annotations

import collections
import struct
from typing import Any

import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from .types import Truncation

DO_GET = "/arrow.flight.protocol.FlightService/DoGet"

_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL


def _messages() -> tuple[Any, Any]:
    """``Ticket`` and ``FlightData`` with Arrow's field numbers (FlightData's descriptor, field 1, is skipped)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="arrow/flight/Flight.proto", package="arrow.flight.protocol", syntax="proto3"
    )
    file.message_type.add(name="Ticket").field.add(name="ticket", number=1, type=_BYTES, label=_OPTIONAL)
    data = file.message_type.add(name="FlightData")
    for name, number in (("data_header", 2), ("app_metadata", 3), ("data_body", 1000)):
        data.field.add(name=name, number=number, type=_BYTES, label=_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("arrow.flight.protocol.Ticket")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("arrow.flight.protocol.FlightData")),
    )


Ticket, FlightData = _messages()


def serialize_ticket(ticket: bytes) -> bytes:
    """A ``Ticket`` message holding ``ticket``."""
    return bytes(Ticket(ticket=ticket).SerializeToString())


def parse_flight_data(data: bytes) -> Any:
    """A ``FlightData`` message from its bytes."""
    return FlightData.FromString(data)


_CONTINUATION = b"\xff\xff\xff\xff"
#: ``MessageHeader.RecordBatch`` in Arrow's ``Message.fbs``.
_RECORD_BATCH = 3


def _header_type(header: bytes) -> int:
    """The ``header_type`` of an IPC ``Message`` flatbuffer (field 1 of its root table)."""
    (table,) = struct.unpack_from("<I", header, 0)
    (vtable_back,) = struct.unpack_from("<i", header, table)
    vtable = table - vtable_back
    (vtable_size,) = struct.unpack_from("<H", header, vtable)
    if vtable_size < 6:
        return 0
    (offset,) = struct.unpack_from("<H", header, vtable + 6)
    return header[table + offset] if offset else 0


class FlightDecoder:
    """Turns FlightData messages into record batches, one message at a time.

    Each message's header and body are framed as an Arrow IPC stream message
    and handed to pyarrow's stream reader, which so handles dictionaries and
    every Arrow type. The reader is only asked for a batch once a whole record
    batch message is buffered, so it never waits for data.
    """

    def __init__(self) -> None:
        self._segments: collections.deque[memoryview] = collections.deque()
        self._reader: pa.ipc.RecordBatchStreamReader | None = None
        #: The app_metadata of the last message that had any.
        self.app_metadata: bytes = b""

    @property
    def schema(self) -> pa.Schema | None:
        """The stream's schema, once its first message arrived."""
        return self._reader.schema if self._reader is not None else None

    def push(self, data: Any) -> pa.RecordBatch | None:
        """Takes one FlightData message; returns the batch it completes, if any."""
        if data.app_metadata:
            self.app_metadata = bytes(data.app_metadata)
        header = bytes(data.data_header)
        if not header:
            return None
        padding = -len(header) % 8
        prefix = _CONTINUATION + struct.pack("<i", len(header) + padding) + header + b"\x00" * padding
        body = data.data_body
        self._segments.append(memoryview(prefix))
        if body:
            self._segments.append(memoryview(body))
        if self._reader is None:
            self._reader = pa.ipc.open_stream(self)
            return None
        if _header_type(header) != _RECORD_BATCH:
            return None
        return self._reader.read_next_batch()

    def truncation(self) -> Truncation | None:
        """What the stream's last note said about a limit cutting it, once the stream has ended."""
        return Truncation.from_app_metadata(self.app_metadata)

    # The file interface pyarrow's stream reader reads from.

    closed = False

    def read(self, size: int = -1) -> bytes | memoryview:
        """Up to ``size`` buffered bytes (whole segments are handed over without copying)."""
        if not self._segments:
            return b""
        first = self._segments[0]
        if size < 0 or size == len(first):
            return self._segments.popleft()
        if size < len(first):
            self._segments[0] = first[size:]
            return first[:size]
        out = bytearray()
        while self._segments and len(out) < size:
            out += self.read(size - len(out))
        return bytes(out)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._segments.clear()
