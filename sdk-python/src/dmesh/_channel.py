"""Endpoints, credentials and call metadata shared by the sync and async clients."""

from __future__ import annotations

import copy
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Union
from urllib.parse import urlsplit

import grpc

from . import _calls, _flight
from ._version import __version__

#: Where the CLI looks when no endpoint is given, and so does the SDK.
DEFAULT_ENDPOINT = "http://127.0.0.1:50051"

#: PEM data, or the path of a file holding it.
Pem = Union[bytes, str, "os.PathLike[str]", None]

_PLAIN = {"http", "grpc", "grpc+tcp"}
_TLS = {"https", "grpc+tls"}

#: Channel options: results arrive in messages of up to a few MiB, but one
#: large value may make a message bigger, so received messages are not capped.
OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.primary_user_agent", f"dmesh-python/{__version__}"),
]


@dataclass(frozen=True)
class Endpoint:
    """Where the gateway listens and whether to speak TLS."""

    target: str
    tls: bool

    @classmethod
    def parse(cls, endpoint: str) -> Endpoint:
        """Parses an endpoint.

        Accepted: ``http://host:port`` (as the CLI takes it), ``grpc://`` or
        ``grpc+tls://`` (as Flight users write it), ``https://``, or ``host:port``.
        """
        text = endpoint.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _PLAIN | _TLS or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(
                f"{endpoint!r} is not a gateway endpoint; write it like http://127.0.0.1:50051, "
                "grpc://127.0.0.1:50051 or grpc+tls://gateway.example.com:50051"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or (443 if scheme in _TLS else 50051)
        return cls(f"{host}:{port}", scheme in _TLS)


def resolve_endpoint(endpoint: str | None) -> str:
    """The endpoint given, else ``$DMESH_ENDPOINT``, else the CLI's default."""
    return endpoint or os.environ.get("DMESH_ENDPOINT") or DEFAULT_ENDPOINT


def resolve_token(token: str | None) -> str | None:
    """The token given, else ``$DMESH_TOKEN``, else none."""
    return token if token is not None else (os.environ.get("DMESH_TOKEN") or None)


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata sent with every call: the bearer token, when there is one."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def _pem(value: Pem) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    return pathlib.Path(value).read_bytes()


def credentials(root_certificates: Pem, client_certificate: Pem, client_key: Pem) -> grpc.ChannelCredentials:
    """TLS credentials: the CAs to trust (the system's when ``None``).

    For mutual TLS, also a client certificate and its key.
    """
    if (client_certificate is None) != (client_key is None):
        raise ValueError("mutual TLS needs both client_certificate and client_key")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(root_certificates),
        private_key=_pem(client_key),
        certificate_chain=_pem(client_certificate),
    )


class ClientBase:
    """The connection state the sync and async clients share; ``_grpc`` is ``grpc`` or ``grpc.aio``."""

    _grpc: Any = grpc

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
        root_certificates: Pem = None,
        client_certificate: Pem = None,
        client_key: Pem = None,
    ) -> None:
        #: The endpoint as given (or found in the environment).
        self.endpoint: str = resolve_endpoint(endpoint)
        target = Endpoint.parse(self.endpoint)
        if target.tls:
            creds = credentials(root_certificates, client_certificate, client_key)
            self._channel = self._grpc.secure_channel(target.target, creds, options=OPTIONS)
        else:
            self._channel = self._grpc.insecure_channel(target.target, options=OPTIONS)
        self._stubs = _calls.stubs(self._channel)
        self._do_get = self._channel.unary_stream(
            _flight.DO_GET,
            request_serializer=_flight.serialize_ticket,
            response_deserializer=_flight.parse_flight_data,
        )
        self._metadata = call_metadata(resolve_token(token))
        self._timeout = timeout

    def with_token(self, token: str | None) -> Any:
        """A client on the same connection that authenticates with ``token`` instead.

        Closing either client closes the shared connection.
        """
        other = copy.copy(self)
        other._metadata = call_metadata(token)
        return other

    def __repr__(self) -> str:
        return f"{type(self).__module__.replace('.client', '')}.{type(self).__name__}({self.endpoint!r})"
