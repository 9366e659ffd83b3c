"""Arrow helpers shared by the sync and async results."""

from __future__ import annotations

import datetime
import importlib
from typing import Any, Iterable

import pyarrow as pa

from ._proto import query_pb2
from .errors import DmeshError
from .types import Truncation, schema_from_ipc


def require(module: str, extra: str) -> Any:
    """Imports an optional dependency, or says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{module} is not installed; install it (pip install {module}), or the SDK's `{extra}` extra"
        ) from None


def to_pandas(table: pa.Table) -> Any:
    """A ``pandas.DataFrame`` (needs pandas)."""
    require("pandas", "pandas")
    return table.to_pandas()


def to_polars(table: pa.Table) -> Any:
    """A ``polars.DataFrame`` (needs polars)."""
    return require("polars", "polars").from_arrow(table)


def table(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> pa.Table:
    """The batches as one table of ``schema``."""
    return pa.Table.from_batches(list(batches), schema=schema)


class ExecuteAnswer:
    """What ``QueryService.Execute`` (or ``StorageService.ReadTable``) answered.

    The schema, the Flight ticket and its expiry, and the rows when they came inline.
    """

    def __init__(self, response: Any) -> None:
        self.schema: pa.Schema = schema_from_ipc(response.arrow_schema) or pa.schema([])
        self.ticket: bytes = response.ticket.ticket
        self.expires_at: datetime.datetime | None = (
            response.ticket.expires_at.ToDatetime(tzinfo=datetime.timezone.utc)
            if response.ticket.HasField("expires_at")
            else None
        )
        self.query_id: str = getattr(response, "query_id", "")
        inline = (
            response.inline if isinstance(response, query_pb2.ExecuteResponse) and response.HasField("inline") else None
        )
        self.inline_ipc: bytes | None = inline.arrow_ipc if inline is not None else None
        self.inline_truncation: Truncation | None = (
            Truncation.from_proto(inline.truncation) if inline is not None else None
        )

    def inline_batches(self) -> list[pa.RecordBatch]:
        """The inline rows' batches (the answer must have inline rows)."""
        assert self.inline_ipc is not None
        return list(pa.ipc.open_stream(self.inline_ipc))


class ResultBase:
    """What the sync and async query results share: the answer's facts and the read-once rule."""

    def __init__(self, answer: ExecuteAnswer) -> None:
        self._answer = answer
        self._read = False
        #: The result's Arrow schema.
        self.schema: pa.Schema = answer.schema
        #: Identifies the query in the gateway's logs and audit log.
        self.query_id: str = answer.query_id
        #: The Flight ticket for the rows; any Flight client on the endpoint can redeem it until ``expires_at``.
        self.ticket: bytes = answer.ticket
        self.expires_at: datetime.datetime | None = answer.expires_at
        #: Why the rows stopped early, once that is known: at once for inline
        #: results, after the last batch for streamed ones. ``None`` when the
        #: result is whole.
        self.truncation: Truncation | None = answer.inline_truncation

    @property
    def inline(self) -> bool:
        """Whether the rows came back in the Execute answer itself."""
        return self._answer.inline_ipc is not None

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch under the result's schema.

        The gateway's rows can differ from the schema Execute announced in
        nullability or field metadata (DataFusion infers a plan's nullability
        more loosely than its batches carry it). Such batches are relabelled,
        which leaves the data as it is; a batch whose types differ is an error.
        """
        if batch.schema.equals(self.schema):
            return batch
        if batch.schema.types != self.schema.types:
            raise DmeshError(
                "INTERNAL",
                f"the gateway sent rows of schema {batch.schema} for a result of schema {self.schema}",
            )
        return pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)

    def _start(self) -> None:
        if self._read:
            raise RuntimeError("a query result can be read once; run the query again to read it again")
        self._read = True
