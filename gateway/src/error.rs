//! The gateway's errors, and the one conversion of an error to a gRPC status.

use std::collections::HashMap;
use std::time::Duration;

use dmesh_connector_api::{Error as ConnectorError, ErrorKind, Family};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every `google.rpc.ErrorInfo` dmesh sends.
pub const ERROR_DOMAIN: &str = "dmesh.dev";

/// The trailer that says whether a retry can help (`true` or `false`).
pub const RETRYABLE_HEADER: &str = "dmesh-retryable";

/// A gateway failure.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No connector instance has this name.
    #[error("connector `{name}` not found; {known}")]
    ConnectorNotFound {
        /// The name asked for.
        name: String,
        /// The names there are, as a phrase.
        known: String,
    },

    /// An instance of this name exists already.
    #[error("connector `{0}` already exists; remove it first or choose another name")]
    ConnectorExists(String),

    /// The name cannot be used for an instance.
    #[error(
        "invalid connector name `{0}`: use lower-case letters, digits, `_` and `-`, starting with a letter, at most 63 characters"
    )]
    InvalidName(String),

    /// The instance was not added at run time, so it cannot be removed at run time.
    #[error("connector `{name}` {origin}; it cannot be removed at run time")]
    NotRemovable {
        /// The instance.
        name: String,
        /// Where it came from, as a phrase.
        origin: &'static str,
    },

    /// The instance does not serve the family the call belongs to.
    #[error("connector `{connector}` (kind `{kind}`) does not serve the {family} family; it serves: {serves}")]
    FamilyNotServed {
        /// The instance.
        connector: String,
        /// Its kind.
        kind: String,
        /// The family asked for.
        family: Family,
        /// The families it serves, as a phrase.
        serves: String,
    },

    /// The instance could not be built and is not usable until it can.
    #[error("connector `{name}` is unavailable: {reason}; `dmesh connector test {name}` retries it")]
    ConnectorUnavailable {
        /// The instance.
        name: String,
        /// Why it could not be built.
        reason: String,
    },

    /// A ticket that this gateway did not issue, or that was altered.
    #[error("unknown ticket: it was not issued by this gateway (or by one sharing its ticket key); call Execute for a new one")]
    UnknownTicket,

    /// A ticket past its expiry.
    #[error("ticket expired {0} ago; tickets are valid for a short time, so call Execute again for a fresh one")]
    ExpiredTicket(String),

    /// A malformed request field.
    #[error("invalid request: {0}")]
    BadRequest(String),

    /// The state store failed.
    #[error("state store failed: {0}")]
    State(String),

    /// A connector's error, passed through with its status and retry hint.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// A status code's name as gRPC writes it, e.g. `PERMISSION_DENIED`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Results of gateway operations.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

impl GatewayError {
    /// The gRPC status code.
    pub fn code(&self) -> Code {
        match self {
            Self::ConnectorNotFound { .. } => Code::NotFound,
            Self::ConnectorExists(_) => Code::AlreadyExists,
            Self::InvalidName(_) | Self::BadRequest(_) => Code::InvalidArgument,
            Self::NotRemovable { .. } | Self::ExpiredTicket(_) => Code::FailedPrecondition,
            Self::FamilyNotServed { .. } => Code::Unimplemented,
            Self::ConnectorUnavailable { .. } => Code::Unavailable,
            Self::UnknownTicket => Code::NotFound,
            Self::State(_) => Code::Internal,
            Self::Connector(e) => code_of(e.kind()),
        }
    }

    /// The status code's name as gRPC writes it, e.g. `PERMISSION_DENIED`.
    pub fn grpc_name(&self) -> &'static str {
        code_name(self.code())
    }

    /// A stable reason code for clients to match on.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ConnectorNotFound { .. } => "CONNECTOR_NOT_FOUND",
            Self::ConnectorExists(_) => "CONNECTOR_EXISTS",
            Self::InvalidName(_) => "INVALID_CONNECTOR_NAME",
            Self::NotRemovable { .. } => "CONNECTOR_NOT_REMOVABLE",
            Self::FamilyNotServed { .. } => "FAMILY_NOT_SERVED",
            Self::ConnectorUnavailable { .. } => "CONNECTOR_UNAVAILABLE",
            Self::UnknownTicket => "UNKNOWN_TICKET",
            Self::ExpiredTicket(_) => "EXPIRED_TICKET",
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::State(_) => "STATE_STORE",
            Self::Connector(e) => e.reason(),
        }
    }

    /// Whether repeating the request later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Self::ConnectorUnavailable { .. } => true,
            Self::Connector(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// The gRPC code for a connector error kind.
pub fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::Aborted => Code::Aborted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Unsupported => Code::Unimplemented,
        _ => Code::Internal,
    }
}

impl From<GatewayError> for tonic::Status {
    fn from(e: GatewayError) -> Self {
        let code = e.code();
        let retryable = e.retryable();
        if code == Code::Internal {
            tracing::error!(error = %e, "internal error");
        }
        let mut metadata = HashMap::new();
        metadata.insert("retryable".to_owned(), retryable.to_string());
        let mut details = ErrorDetails::with_error_info(e.reason(), ERROR_DOMAIN, metadata);
        if retryable {
            details.set_retry_info(Some(Duration::from_millis(200)));
        }
        let mut status = tonic::Status::with_error_details(code, e.to_string(), details);
        status
            .metadata_mut()
            .insert(RETRYABLE_HEADER, tonic::metadata::MetadataValue::from_static(if retryable { "true" } else { "false" }));
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_code_reason_and_retry_hint() {
        let status: tonic::Status = GatewayError::Connector(ConnectorError::unavailable("refused")).into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "refused");
        assert_eq!(status.metadata().get(RETRYABLE_HEADER).map(|v| v.to_str().ok()), Some(Some("true")));
        let details = status.get_error_details();
        assert_eq!(details.error_info().map(|i| i.reason.as_str()), Some("UNAVAILABLE"));
        assert!(details.retry_info().is_some());

        let status: tonic::Status = GatewayError::ConnectorNotFound {
            name: "nope".into(),
            known: "known connectors: demo".into(),
        }
        .into();
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains("`nope`") && status.message().contains("demo"));
        assert_eq!(status.metadata().get(RETRYABLE_HEADER).map(|v| v.to_str().ok()), Some(Some("false")));
        assert!(status.get_error_details().retry_info().is_none());
    }

    #[test]
    fn unsupported_abilities_are_unimplemented() {
        let status: tonic::Status = GatewayError::from(ConnectorError::unsupported("lineage")).into();
        assert_eq!(status.code(), Code::Unimplemented);
    }
}
