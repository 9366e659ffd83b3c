//! MySQL's errors as dmesh errors: the server's message and error number,
//! the right status, and whether a retry can help. Nothing from the config
//! (the password) ever enters a message.

use dmesh_connector_api::{Error, ErrorKind};
use mysql_async::{DriverError, ServerError};

pub(crate) use dmesh_connector_sql::Target;

/// Maps a driver error.
pub(crate) fn from_mysql(e: &mysql_async::Error, target: &Target) -> Error {
    match e {
        mysql_async::Error::Server(s) => from_server(s, target),
        mysql_async::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("TLS") || text.contains("tls") || text.contains("certificate") || text.contains("Tls") {
                return Error::unavailable(format!(
                    "TLS with MySQL at {} failed: {text}; check `tls_mode` and `tls_root_cert`",
                    target.address
                ))
                .with_reason("SOURCE_TLS_FAILED")
                .with_retryable(false);
            }
            Error::unavailable(format!("cannot reach MySQL at {}: {text}", target.address)).with_reason("SOURCE_UNAVAILABLE")
        }
        mysql_async::Error::Driver(d) => from_driver(d, target),
        other => Error::unavailable(format!("MySQL at {}: {other}", target.address)).with_reason("SOURCE_ERROR"),
    }
}

fn from_driver(d: &DriverError, target: &Target) -> Error {
    match d {
        DriverError::StmtParamsMismatch { required, supplied } => Error::invalid_argument(format!(
            "the statement has {required} parameters (`?`) and {supplied} values were bound"
        ))
        .with_reason("BAD_PARAMETER"),
        DriverError::ConnectionClosed | DriverError::PoolDisconnected => Error::unavailable(format!(
            "the connection to MySQL at {} closed; the server may be restarting",
            target.address
        ))
        .with_reason("SOURCE_UNAVAILABLE"),
        DriverError::NoClientSslFlagFromServer => Error::unavailable(format!(
            "MySQL at {} does not offer TLS; set `tls_mode = \"disable\"` only on a trusted network, or enable TLS on \
             the server",
            target.address
        ))
        .with_reason("SOURCE_TLS_FAILED")
        .with_retryable(false),
        other => Error::unavailable(format!("MySQL at {}: {other}", target.address)).with_reason("SOURCE_ERROR"),
    }
}

fn from_server(s: &ServerError, target: &Target) -> Error {
    let message = format!("MySQL: {} (error {}, SQLSTATE {})", s.message, s.code, s.state);
    match s.code {
        // Access denied for the login.
        1045 | 1698 => Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "{message}; MySQL at {} refused user `{}`: check the connector's `user` and `password`",
                target.address, target.user
            ),
        )
        .with_reason("SOURCE_AUTH_FAILED"),
        1049 => Error::not_found(format!("{message}; check the connector's `database`")).with_reason("DATABASE_NOT_FOUND"),
        1146 => Error::not_found(message).with_reason("TABLE_NOT_FOUND"),
        1064 | 1149 => Error::invalid_argument(message).with_reason("SQL_SYNTAX"),
        // Read-only transaction or server, and grants.
        1792 | 1290 | 1836 => Error::permission_denied(format!("{message}; this request is read-only")).with_reason("READ_ONLY"),
        1044 | 1142 | 1143 | 1227 | 1370 => Error::permission_denied(message).with_reason("SOURCE_PERMISSION_DENIED"),
        // max_execution_time (MySQL) / max_statement_time (MariaDB).
        3024 | 1969 => Error::new(ErrorKind::DeadlineExceeded, format!("{message}: the statement ran past its time limit"))
            .with_reason("TIMEOUT"),
        1317 => Error::new(ErrorKind::Cancelled, message).with_reason("CANCELLED"),
        // Lock waits and deadlocks: the transaction may succeed again.
        1205 | 1213 => Error::new(ErrorKind::Aborted, message).with_reason("SOURCE_CONFLICT"),
        // Too many connections, server shutting down, lost connection.
        1040 | 1053 | 2006 | 2013 | 1927 => Error::unavailable(message).with_reason("SOURCE_UNAVAILABLE"),
        1052..=1060 | 1166 | 1247 | 1305 | 1582 | 1583 | 1584 => {
            Error::invalid_argument(message).with_reason("SOURCE_REJECTED")
        }
        1365 | 1264 | 1366 | 1406 | 1292 => Error::invalid_argument(message).with_reason("BAD_VALUE"),
        _ => Error::invalid_argument(message).with_reason("SOURCE_REJECTED"),
    }
}
