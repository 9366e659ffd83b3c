"""Python client for the dmesh connector gateway.

Queries run on the gateway and their results stream back as Apache Arrow over
Arrow Flight::

    import dmesh

    client = dmesh.Client("grpc://127.0.0.1:50051")
    table = client.query("demo", "SELECT * FROM orders LIMIT 10")
"""

from __future__ import annotations

import json
import re
from typing import Iterator, Optional

import pyarrow as pa
import pyarrow.flight as flight

__all__ = ["Client", "DmeshError", "__version__"]

__version__ = "0.1.0"


class DmeshError(Exception):
    """A call the gateway refused or could not complete.

    ``code`` is the gRPC status name (``INVALID_ARGUMENT``, ``NOT_FOUND``, ...)
    when the gateway sent one, and ``message`` is the gateway's explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message


_CODES = {
    "invalid argument": "INVALID_ARGUMENT",
    "not found": "NOT_FOUND",
    "already exists": "ALREADY_EXISTS",
    "unauthorized": "PERMISSION_DENIED",
    "unauthenticated": "UNAUTHENTICATED",
    "unavailable": "UNAVAILABLE",
    "timed out": "DEADLINE_EXCEEDED",
    "cancelled": "CANCELLED",
    "unimplemented": "UNIMPLEMENTED",
    "failed precondition": "FAILED_PRECONDITION",
    "resource exhausted": "RESOURCE_EXHAUSTED",
    "internal": "INTERNAL",
}
_FLIGHT_MESSAGE = re.compile(r"Flight returned (?P<kind>[a-z ]+?) error, with message: (?P<message>.*)", re.S)


def _error(e: Exception) -> DmeshError:
    """Turns a pyarrow Flight failure into a DmeshError with the gRPC status name."""
    text = str(e)
    m = _FLIGHT_MESSAGE.search(text)
    if m is None:
        return DmeshError("UNKNOWN", text)
    message = re.split(r"\. (?:gRPC client debug context|Client context|Detail):", m.group("message"))[0]
    return DmeshError(_CODES.get(m.group("kind"), "UNKNOWN"), message.strip())


class Client:
    """A connection to one dmesh gateway.

    ``endpoint`` is written as Flight users write it (``grpc://host:port`` or
    ``grpc+tls://host:port``) or as the CLI takes it (``http://host:port``).
    """

    def __init__(self, endpoint: str = "grpc://127.0.0.1:50051") -> None:
        if endpoint.startswith("http://"):
            endpoint = "grpc://" + endpoint[len("http://"):]
        elif endpoint.startswith("https://"):
            endpoint = "grpc+tls://" + endpoint[len("https://"):]
        self.endpoint = endpoint
        self._flight = flight.connect(endpoint)

    def close(self) -> None:
        """Closes the connection."""
        self._flight.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reader(self, connector: str, sql: str, max_rows: Optional[int]) -> flight.FlightStreamReader:
        command = {"connector": connector, "sql": sql}
        if max_rows is not None:
            command["max_rows"] = int(max_rows)
        try:
            info = self._flight.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(command)))
            return self._flight.do_get(info.endpoints[0].ticket)
        except pa.ArrowException as e:
            raise _error(e) from None

    def query(self, connector: str, sql: str, max_rows: Optional[int] = None) -> pa.Table:
        """Runs ``sql`` on the connector instance ``connector`` and returns the whole result."""
        reader = self._reader(connector, sql, max_rows)
        try:
            return reader.read_all()
        except pa.ArrowException as e:
            raise _error(e) from None

    def query_batches(self, connector: str, sql: str, max_rows: Optional[int] = None) -> Iterator[pa.RecordBatch]:
        """Runs ``sql`` and yields its record batches as they arrive."""
        reader = self._reader(connector, sql, max_rows)
        try:
            for chunk in reader:
                if chunk.data is not None:
                    yield chunk.data
        except pa.ArrowException as e:
            raise _error(e) from None
