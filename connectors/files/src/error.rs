//! DataFusion's errors in the connector API's terms.

use datafusion::error::DataFusionError;
use dmesh_connector_api::Error;

/// Maps a DataFusion error to a connector error with the right status.
pub(crate) fn from_datafusion(e: DataFusionError) -> Error {
    let message = e.to_string();
    let root = e.find_root();
    match root {
        DataFusionError::External(inner) => {
            if let Some(err) = inner.downcast_ref::<Error>() {
                return Error::new(err.kind(), err.message()).with_reason(err.reason());
            }
            Error::internal(message)
        }
        DataFusionError::ArrowError(inner, _) => {
            if let arrow::error::ArrowError::ExternalError(x) = inner.as_ref()
                && let Some(err) = x.downcast_ref::<Error>()
            {
                return Error::new(err.kind(), err.message()).with_reason(err.reason());
            }
            Error::invalid_argument(message).with_reason("QUERY_FAILED")
        }
        DataFusionError::SQL(parser, _) => {
            use datafusion::sql::sqlparser::parser::ParserError as P;
            let detail = match parser.as_ref() {
                P::ParserError(m) | P::TokenizerError(m) => m.clone(),
                P::RecursionLimitExceeded => "the query nests too deeply".to_owned(),
            };
            Error::invalid_argument(format!("SQL syntax error: {detail}")).with_reason("SQL_SYNTAX")
        }
        DataFusionError::NotImplemented(m) if m.contains("single SQL statement") => Error::permission_denied(
            "only one statement per request is allowed; this request holds several (statement lists are refused)",
        )
        .with_reason("MULTIPLE_STATEMENTS"),
        DataFusionError::Plan(m) if m.starts_with("table '") && m.ends_with("' not found") => {
            let name = &m["table '".len()..m.len() - "' not found".len()];
            let name = name.strip_prefix("files.public.").unwrap_or(name);
            Error::not_found(format!("table `{name}` not found; `dmesh tables CONNECTOR` lists the tables"))
                .with_reason("TABLE_NOT_FOUND")
        }
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) | DataFusionError::Configuration(_) => {
            Error::invalid_argument(message).with_reason("SQL_INVALID")
        }
        DataFusionError::Execution(_) => Error::invalid_argument(message).with_reason("QUERY_FAILED"),
        DataFusionError::ResourcesExhausted(_) => Error::resource_exhausted(message)
            .with_reason("MEMORY_LIMIT")
            .with_retryable(false),
        DataFusionError::NotImplemented(_) => {
            Error::new(dmesh_connector_api::ErrorKind::Unsupported, message).with_reason("SQL_UNSUPPORTED")
        }
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) | DataFusionError::ParquetError(_) => {
            Error::unavailable(format!("reading files failed: {message}")).with_reason("READ_FAILED")
        }
        _ => Error::internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmesh_connector_api::ErrorKind;

    #[test]
    fn statuses_follow_the_cause() {
        assert_eq!(
            from_datafusion(DataFusionError::Plan("no table".into())).kind(),
            ErrorKind::InvalidArgument
        );
        let missing = from_datafusion(DataFusionError::Plan("table 'files.public.nope' not found".into()));
        assert_eq!((missing.kind(), missing.reason()), (ErrorKind::NotFound, "TABLE_NOT_FOUND"));
        assert!(missing.message().contains("`nope`") && !missing.message().contains("files.public"));
        let e = from_datafusion(DataFusionError::ResourcesExhausted("pool".into()));
        assert_eq!(e.kind(), ErrorKind::ResourceExhausted);
        assert!(!e.is_retryable());
        let wrapped = DataFusionError::Context(
            "while planning".into(),
            Box::new(DataFusionError::External(Box::new(Error::permission_denied("read-only")))),
        );
        assert_eq!(from_datafusion(wrapped).kind(), ErrorKind::PermissionDenied);
    }
}
