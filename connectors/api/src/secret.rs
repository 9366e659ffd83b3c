//! Secret references: `${env:VAR}`, `${file:PATH}` and `${VAR}`.
//!
//! Configs hold references, never values. A reference is resolved on the
//! gateway when an instance is built; the value lives in a [`SecretString`]
//! and is never formatted into a `Debug` string, a log line or a reply.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
pub use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Replaces every `${env:VAR}`, `${VAR}` and `${file:PATH}` in `text` with
/// its value. `$${` writes a literal `${`.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) naming
/// the variable that is not set or the file that cannot be read (never the value).
pub fn resolve_references(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| {
                Error::invalid_argument("unterminated reference: `${` without a closing `}`").with_reason("BAD_REFERENCE")
            })?;
            out.push_str(&resolve_one(&after[..end])?);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_one(reference: &str) -> Result<Cow<'static, str>> {
    if let Some(path) = reference.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid_argument(format!("cannot read secret file `{path}`: {e}")).with_reason("BAD_REFERENCE")
        })?;
        return Ok(Cow::Owned(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    let var = reference.strip_prefix("env:").unwrap_or(reference);
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::invalid_argument(format!(
            "`${{{reference}}}` is not a reference; write ${{env:VAR}}, ${{VAR}} or ${{file:PATH}}"
        ))
        .with_reason("BAD_REFERENCE"));
    }
    std::env::var(var).map(Cow::Owned).map_err(|_| {
        Error::invalid_argument(format!("environment variable `{var}` is not set")).with_reason("BAD_REFERENCE")
    })
}

/// A secret in a config: a reference such as `${env:PGPASSWORD}`, or (not
/// recommended) the literal value.
///
/// It serializes as written, so a stored config keeps the reference; `Debug`
/// shows a reference but never a literal value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRef(String);

impl SecretRef {
    /// A secret from its reference text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Whether it is written as a reference rather than a literal value.
    pub fn is_reference(&self) -> bool {
        self.0.contains("${")
    }

    /// The value.
    ///
    /// # Errors
    /// As [`resolve_references`].
    pub fn resolve(&self) -> Result<SecretString> {
        resolve_references(&self.0).map(SecretString::from)
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_reference() {
            write!(f, "SecretRef({:?})", self.0)
        } else {
            f.write_str("SecretRef([redacted])")
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_reference() {
            s.serialize_str(&self.0)
        } else {
            s.serialize_str("[redacted]")
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A secret, written as a reference: ${env:VAR}, ${VAR} or ${file:PATH}.",
            "x-dmesh-secret": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_file_references_resolve() {
        let path = std::env::var("PATH").expect("PATH is set");
        assert_eq!(resolve_references("${env:PATH}").expect("env"), path);
        assert_eq!(resolve_references("pre-${PATH}-post").expect("bare"), format!("pre-{path}-post"));
        let dir = std::env::temp_dir().join(format!("dmesh-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\n").expect("write");
        let text = format!("${{file:{}}}", file.display());
        assert_eq!(resolve_references(&text).expect("file"), "from-file");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn escapes_and_plain_dollars_stay() {
        assert_eq!(resolve_references("cost $5 and $${literal}").expect("ok"), "cost $5 and ${literal}");
    }

    #[test]
    fn missing_variables_are_named_without_values() {
        let e = resolve_references("${env:DMESH_TEST_SURELY_UNSET}").expect_err("unset");
        assert!(e.message().contains("DMESH_TEST_SURELY_UNSET"), "{e}");
        let e = resolve_references("${not a ref}").expect_err("bad");
        assert!(e.message().contains("not a reference"), "{e}");
        let e = resolve_references("${env:X").expect_err("unterminated");
        assert!(e.message().contains("unterminated"), "{e}");
    }

    #[test]
    fn literal_secrets_never_print() {
        let s = SecretRef::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).expect("json").contains("hunter2"));
        let r = SecretRef::new("${env:PGPASSWORD}");
        assert_eq!(serde_json::to_string(&r).expect("json"), "\"${env:PGPASSWORD}\"");
        assert_eq!(r.resolve().is_ok(), std::env::var("PGPASSWORD").is_ok());
    }
}
