//! PostgreSQL's errors as dmesh errors: the server's message and SQLSTATE,
//! the right status, and whether a retry can help. Nothing from the config
//! (password, URL) ever enters a message.

use dmesh_connector_api::{Error, ErrorKind};
use tokio_postgres::error::SqlState;

pub(crate) use dmesh_connector_sql::Target;

/// Maps a driver error.
pub(crate) fn from_pg(e: &tokio_postgres::Error, target: &Target) -> Error {
    if let Some(db) = e.as_db_error() {
        let mut message = format!("PostgreSQL: {} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            message.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!("; hint: {hint}"));
        }
        return from_sqlstate(db.code(), message, target);
    }
    if e.is_closed() {
        return Error::unavailable(format!(
            "the connection to PostgreSQL at {} closed; the server may be restarting",
            target.address
        ))
        .with_reason("SOURCE_UNAVAILABLE");
    }
    let text = e.to_string();
    if text.starts_with("error serializing parameter") {
        let why = std::error::Error::source(e).map_or(text.clone(), ToString::to_string);
        return Error::invalid_argument(why).with_reason("BAD_PARAMETER");
    }
    if text.contains("TLS") || text.contains("SSL") || text.contains("certificate") {
        let why = std::error::Error::source(e).map_or(String::new(), |s| format!(": {s}"));
        return Error::unavailable(format!(
            "TLS with PostgreSQL at {} failed: {text}{why}; check `tls_mode` and `tls_root_cert`",
            target.address
        ))
        .with_reason("SOURCE_TLS_FAILED")
        .with_retryable(false);
    }
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    if io.is_some() || text.contains("error connecting") || text.contains("timeout") {
        return Error::unavailable(format!("cannot reach PostgreSQL at {}: {text}", target.address))
            .with_reason("SOURCE_UNAVAILABLE");
    }
    if text.contains("password") || text.contains("authentication") {
        return Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "PostgreSQL at {} did not accept the credentials of role `{}`: {text}; check the connector's `password`",
                target.address, target.user
            ),
        )
        .with_reason("SOURCE_AUTH_FAILED");
    }
    Error::unavailable(format!("PostgreSQL at {}: {text}", target.address)).with_reason("SOURCE_ERROR")
}

fn from_sqlstate(code: &SqlState, message: String, target: &Target) -> Error {
    let c = code.code();
    let class = &c[..2.min(c.len())];
    if *code == SqlState::INVALID_PASSWORD || class == "28" {
        return Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "{message}; PostgreSQL at {} refused role `{}`: check the connector's `user` and `password`",
                target.address, target.user
            ),
        )
        .with_reason("SOURCE_AUTH_FAILED");
    }
    if *code == SqlState::INVALID_CATALOG_NAME {
        return Error::not_found(format!(
            "{message}; database `{}` does not exist on {}: check the connector's `database`",
            target.database, target.address
        ))
        .with_reason("DATABASE_NOT_FOUND");
    }
    if *code == SqlState::TOO_MANY_CONNECTIONS {
        return Error::unavailable(message).with_reason("SOURCE_BUSY");
    }
    if *code == SqlState::ADMIN_SHUTDOWN || *code == SqlState::CRASH_SHUTDOWN || *code == SqlState::CANNOT_CONNECT_NOW {
        return Error::unavailable(message).with_reason("SOURCE_RESTARTING");
    }
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return Error::new(ErrorKind::Aborted, message).with_reason("SERIALIZATION_FAILURE");
    }
    if *code == SqlState::QUERY_CANCELED {
        if message.contains("statement timeout") {
            return Error::new(ErrorKind::DeadlineExceeded, message).with_reason("STATEMENT_TIMEOUT");
        }
        return Error::new(ErrorKind::Cancelled, message).with_reason("QUERY_CANCELLED");
    }
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        return Error::permission_denied(format!(
            "{message}; this connector runs statements read-only (set `allow_writes` to let writers change data)"
        ))
        .with_reason("READ_ONLY");
    }
    if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        return Error::permission_denied(message).with_reason("SOURCE_PERMISSION_DENIED");
    }
    if *code == SqlState::UNDEFINED_TABLE {
        return Error::invalid_argument(message).with_reason("TABLE_NOT_FOUND");
    }
    match class {
        "08" => Error::unavailable(message).with_reason("SOURCE_UNAVAILABLE"),
        "53" => Error::resource_exhausted(message).with_reason("SOURCE_RESOURCES"),
        "57" | "58" => Error::unavailable(message).with_reason("SOURCE_UNAVAILABLE"),
        "40" => Error::new(ErrorKind::Aborted, message).with_reason("TRANSACTION_ROLLBACK"),
        "XX" => Error::unavailable(message).with_reason("SOURCE_INTERNAL").with_retryable(false),
        _ => Error::invalid_argument(message).with_reason("SOURCE_REJECTED"),
    }
}
