//! The audit log: one JSON line per query, written when the query ends.
//!
//! Each line holds the time, the principal, the call, the connector, the
//! statement's SHA-256 and text, the verdict, rows, bytes, duration and the
//! final status. Lines go to the `dmesh::audit` log target (denials at warn
//! level) and, when `server.audit_log` names a file, are appended to it.
//! Parameter values are not recorded.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Longest statement text kept in a line; longer text is cut (the hash
/// covers all of it).
const MAX_STATEMENT: usize = 4096;

/// Where audit lines go.
#[derive(Debug, Default)]
pub struct AuditLog {
    file: Option<Mutex<std::fs::File>>,
}

/// One audited call.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    /// RFC 3339 UTC.
    pub time: String,
    /// Who called; `anonymous` until authentication is configured.
    pub principal: String,
    /// The API call, e.g. `DoGet`.
    pub call: &'static str,
    /// The connector instance.
    pub connector: String,
    /// Hex SHA-256 of the statement text.
    pub statement_sha256: String,
    /// The statement, cut at 4 KiB.
    pub statement: String,
    /// `allowed`, `denied` or `failed`.
    pub verdict: &'static str,
    /// Rows returned.
    pub rows: u64,
    /// Bytes of Arrow data returned.
    pub bytes: u64,
    /// Wall time from start to end.
    pub duration_ms: u64,
    /// The gRPC status the call ended with, e.g. `OK`.
    pub status: &'static str,
    /// Whether a limit cut the result.
    pub truncated: bool,
}

impl AuditEntry {
    /// An entry for `sql` on `connector`, to be completed by the caller.
    pub fn new(call: &'static str, connector: &str, sql: &str) -> Self {
        let hash = Sha256::digest(sql.as_bytes());
        let mut statement = sql.to_owned();
        if statement.len() > MAX_STATEMENT {
            let cut = (0..=MAX_STATEMENT).rev().find(|&i| statement.is_char_boundary(i)).unwrap_or(0);
            statement.truncate(cut);
        }
        Self {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            principal: "anonymous".to_owned(),
            call,
            connector: connector.to_owned(),
            statement_sha256: crate::convert::hex(&hash),
            statement,
            verdict: "allowed",
            rows: 0,
            bytes: 0,
            duration_ms: 0,
            status: "OK",
            truncated: false,
        }
    }

    /// Sets the outcome from an error kind's gRPC name.
    pub fn failed(&mut self, status: &'static str) {
        self.status = status;
        self.verdict = if matches!(status, "PERMISSION_DENIED" | "UNAUTHENTICATED") { "denied" } else { "failed" };
    }

    /// Sets the duration from the time the call started.
    pub fn took(&mut self, elapsed: Duration) {
        self.duration_ms = elapsed.as_millis() as u64;
    }
}

impl AuditLog {
    /// Audit lines to the log target only.
    pub fn to_log() -> Self {
        Self::default()
    }

    /// Audit lines also appended to `path` (created if missing).
    ///
    /// # Errors
    /// When the file cannot be opened for appending.
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Some(Mutex::new(file)),
        })
    }

    /// Records one entry.
    pub fn record(&self, entry: &AuditEntry) {
        let line = serde_json::to_string(entry).unwrap_or_default();
        if entry.verdict == "denied" {
            tracing::warn!(target: "dmesh::audit", "{line}");
        } else {
            tracing::info!(target: "dmesh::audit", "{line}");
        }
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
            && let Err(e) = writeln!(f, "{line}")
        {
            tracing::error!(error = %e, "the audit log could not be written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hash_the_whole_statement_and_cut_long_text() {
        let long = "SELECT ".to_owned() + &"x".repeat(10_000);
        let e = AuditEntry::new("DoGet", "demo", &long);
        assert_eq!(e.statement.len(), MAX_STATEMENT);
        assert_eq!(e.statement_sha256.len(), 64);
        assert_ne!(AuditEntry::new("DoGet", "demo", "SELECT 1").statement_sha256, e.statement_sha256);
        let mut denied = AuditEntry::new("Execute", "demo", "DROP TABLE t");
        denied.failed("PERMISSION_DENIED");
        assert_eq!(denied.verdict, "denied");
    }

    #[test]
    fn lines_are_appended_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit/audit.jsonl");
        let log = AuditLog::to_file(&path).expect("opens");
        log.record(&AuditEntry::new("DoGet", "demo", "SELECT 1"));
        log.record(&AuditEntry::new("DoGet", "demo", "SELECT 2"));
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["statement"], "SELECT 2");
        assert_eq!(lines[0]["principal"], "anonymous");
    }
}
