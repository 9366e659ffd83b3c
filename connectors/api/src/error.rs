//! The one error type every connector returns.

use std::fmt;

/// What kind of failure an [`Error`] is. Each maps to one gRPC status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is wrong and will stay wrong: bad SQL, a bad config field.
    InvalidArgument,
    /// A named thing (table, connector, file, job) does not exist.
    NotFound,
    /// The thing being created exists already.
    AlreadyExists,
    /// The caller, or the connector's read-only mode, does not allow this.
    PermissionDenied,
    /// The caller is not authenticated.
    Unauthenticated,
    /// A limit was reached: rows, bytes, memory, concurrency.
    ResourceExhausted,
    /// The system is not in a state to do this (an expired ticket, a job that already ended).
    FailedPrecondition,
    /// The operation was aborted, typically by a conflict; retrying the whole transaction may help.
    Aborted,
    /// The source cannot be reached right now.
    Unavailable,
    /// The operation ran out of time.
    DeadlineExceeded,
    /// The caller cancelled.
    Cancelled,
    /// The connector does not offer this ability.
    Unsupported,
    /// A bug in dmesh or a connector. Never used for a user's mistake.
    Internal,
}

impl ErrorKind {
    /// Whether this kind of failure is, by default, worth retrying.
    pub fn retryable_by_default(self) -> bool {
        matches!(self, Self::Unavailable | Self::Aborted | Self::ResourceExhausted)
    }

    /// The gRPC status code name, e.g. `INVALID_ARGUMENT`.
    pub fn grpc_name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Aborted => "ABORTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::Cancelled => "CANCELLED",
            Self::Unsupported => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
        }
    }
}

/// A connector failure: what kind it is, a message a user can act on, a
/// stable reason code, and whether retrying can help.
///
/// Messages never hold secrets: connectors build them from their own words and
/// the source's error text, never from a DSN or a config dump.
pub struct Error {
    kind: ErrorKind,
    reason: &'static str,
    message: String,
    retryable: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The result type of every connector call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`; retryable when the kind usually is.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason: default_reason(kind),
            message: message.into(),
            retryable: kind.retryable_by_default(),
            source: None,
        }
    }

    /// The request is wrong and will stay wrong.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// A named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Not allowed for this caller or in this connector's mode.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// The source cannot be reached now; a retry may help.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A limit was reached.
    pub fn resource_exhausted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceExhausted, message)
    }

    /// A bug. Use only when no user action could have caused it.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The connector does not offer `ability` (e.g. "lineage").
    pub fn unsupported(ability: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("this connector does not support {ability}"),
        )
    }

    /// Sets the stable reason code (upper snake case, e.g. `TABLE_NOT_FOUND`).
    #[must_use]
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    /// Overrides whether a retry can help.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Keeps the underlying error for logs (it is not sent to clients).
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with what was being done, e.g. "reading table orders".
    #[must_use]
    pub fn context(mut self, doing: impl fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable reason code.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the same request may succeed if repeated later.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

fn default_reason(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::AlreadyExists => "ALREADY_EXISTS",
        ErrorKind::PermissionDenied => "PERMISSION_DENIED",
        ErrorKind::Unauthenticated => "UNAUTHENTICATED",
        ErrorKind::ResourceExhausted => "RESOURCE_EXHAUSTED",
        ErrorKind::FailedPrecondition => "FAILED_PRECONDITION",
        ErrorKind::Aborted => "ABORTED",
        ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::DeadlineExceeded => "DEADLINE_EXCEEDED",
        ErrorKind::Cancelled => "CANCELLED",
        ErrorKind::Unsupported => "UNSUPPORTED",
        ErrorKind::Internal => "INTERNAL",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("message", &self.message)
            .field("retryable", &self.retryable)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        use arrow::error::ArrowError as A;
        match e {
            A::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(err) => *err,
                Err(other) => Self::internal(format!("arrow: {other}")),
            },
            A::MemoryError(m) => Self::resource_exhausted(m),
            A::CastError(m)
            | A::ParseError(m)
            | A::InvalidArgumentError(m)
            | A::ComputeError(m)
            | A::SchemaError(m)
            | A::CsvError(m)
            | A::JsonError(m)
            | A::AvroError(m) => Self::invalid_argument(m),
            A::DivideByZero => Self::invalid_argument("division by zero"),
            A::ArithmeticOverflow(m) => Self::invalid_argument(m),
            other => Self::internal(format!("arrow: {other}")),
        }
    }
}

impl From<Error> for arrow::error::ArrowError {
    fn from(e: Error) -> Self {
        arrow::error::ArrowError::ExternalError(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_is_retryable_invalid_argument_is_not() {
        assert!(Error::unavailable("down").is_retryable());
        assert!(!Error::invalid_argument("bad sql").is_retryable());
        assert!(!Error::internal("bug").is_retryable());
    }

    #[test]
    fn retry_hint_and_reason_can_be_overridden() {
        let e = Error::resource_exhausted("too many rows")
            .with_retryable(false)
            .with_reason("ROW_LIMIT");
        assert!(!e.is_retryable());
        assert_eq!(e.reason(), "ROW_LIMIT");
        assert_eq!(e.kind().grpc_name(), "RESOURCE_EXHAUSTED");
    }

    #[test]
    fn context_prefixes_the_message() {
        let e = Error::not_found("no such file").context("reading table orders");
        assert_eq!(e.to_string(), "reading table orders: no such file");
    }

    #[test]
    fn unsupported_maps_to_unimplemented() {
        let e = Error::unsupported("lineage");
        assert_eq!(e.kind().grpc_name(), "UNIMPLEMENTED");
        assert!(e.message().contains("lineage"));
    }

    #[test]
    fn errors_survive_a_round_trip_through_arrow() {
        let arrow: arrow::error::ArrowError = Error::permission_denied("read-only").into();
        let back = Error::from(arrow);
        assert_eq!(back.kind(), ErrorKind::PermissionDenied);
        assert_eq!(back.message(), "read-only");
    }
}
