//! `--field value` flags of `dmesh connector add`, checked against the kind's
//! config JSON Schema.

use anyhow::{anyhow, bail};
use serde_json::{Map, Value};

/// Merges `--field value` flags into `base`, checking each against `schema`:
/// unknown fields, missing required ones and values of the wrong type are
/// named. Path fields are made absolute from the current directory, since the
/// gateway may run elsewhere.
pub fn parse(kind: &str, schema: &Value, base: Value, args: &[String]) -> anyhow::Result<Value> {
    let props = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let field_list = || {
        let mut names: Vec<String> = props.keys().map(|k| format!("--{}", k.replace('_', "-"))).collect();
        names.sort();
        names.join(", ")
    };
    let mut config: Map<String, Value> = match base {
        Value::Object(m) => m,
        _ => bail!("--config-json must be a JSON object"),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(flag) = arg.strip_prefix("--") else {
            bail!("unexpected `{arg}`: give fields as --FIELD VALUE (fields of `{kind}`: {})", field_list());
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        let key = name.replace('-', "_");
        let Some(prop) = props.get(&key) else {
            bail!("unknown field --{name} for a `{kind}` connector; its fields are: {}", field_list());
        };
        let ty = type_of(prop, schema);
        let raw = match inline {
            Some(v) => v,
            None if ty == "boolean" && args.get(i + 1).is_none_or(|n| n.starts_with("--")) => "true".to_owned(),
            None => {
                i += 1;
                args.get(i).cloned().ok_or_else(|| anyhow!("--{name} needs a value"))?
            }
        };
        let value = coerce(name, &ty, prop, &raw)?;
        config.insert(key, value);
        i += 1;
    }
    let required = schema.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
    let missing: Vec<String> = required
        .iter()
        .filter_map(Value::as_str)
        .filter(|r| !config.contains_key(*r))
        .map(|r| format!("--{}", r.replace('_', "-")))
        .collect();
    if !missing.is_empty() {
        bail!("missing required field {} for a `{kind}` connector", missing.join(", "));
    }
    Ok(Value::Object(config))
}

/// The JSON type a property takes (`string` when it may be several).
fn type_of(prop: &Value, root: &Value) -> String {
    match prop.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        _ => {
            let reference = prop
                .get("$ref")
                .or_else(|| prop.get("anyOf").and_then(|a| a.get(0)).and_then(|a| a.get("$ref")))
                .and_then(Value::as_str);
            match reference.and_then(|r| r.strip_prefix("#/")).map(|p| p.split('/').collect::<Vec<_>>()) {
                Some(path) => {
                    let mut target = root;
                    for part in path {
                        target = target.get(part).unwrap_or(&Value::Null);
                    }
                    type_of(target, root)
                }
                None => "string".to_owned(),
            }
        }
    }
}

fn coerce(name: &str, ty: &str, prop: &Value, raw: &str) -> anyhow::Result<Value> {
    Ok(match ty {
        "integer" => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| anyhow!("--{name} expects a whole number, got `{raw}`"))?,
        "number" => raw
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| anyhow!("--{name} expects a number, got `{raw}`"))?,
        "boolean" => match raw {
            "true" | "yes" | "on" | "1" => Value::Bool(true),
            "false" | "no" | "off" | "0" => Value::Bool(false),
            _ => bail!("--{name} expects true or false, got `{raw}`"),
        },
        "object" | "array" => serde_json::from_str(raw).map_err(|e| anyhow!("--{name} expects JSON: {e}"))?,
        _ if prop.get("x-dmesh-path").and_then(Value::as_bool) == Some(true)
            && !raw.starts_with(':')
            && !raw.starts_with("file:") =>
        {
            let path = std::path::Path::new(raw);
            let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            Value::String(abs.display().to_string())
        }
        _ => Value::String(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        serde_json::json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "x-dmesh-path": true},
                "format": {"anyOf": [{"$ref": "#/$defs/FileFormat"}, {"type": "null"}]},
                "csv_has_header": {"type": "boolean"},
                "pool_size": {"type": "integer"},
                "description": {"type": ["string", "null"]}
            },
            "required": ["path"],
            "$defs": {"FileFormat": {"type": "string", "enum": ["csv", "parquet"]}}
        })
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn fields_are_typed_from_the_schema() {
        let c = parse(
            "files",
            &schema(),
            serde_json::json!({}),
            &args(&["--path", "/data", "--csv-has-header=false", "--pool-size", "4", "--format", "csv"]),
        )
        .expect("parses");
        assert_eq!(
            c,
            serde_json::json!({"path": "/data", "csv_has_header": false, "pool_size": 4, "format": "csv"})
        );
    }

    #[test]
    fn relative_paths_become_absolute_and_bare_booleans_are_true() {
        let c = parse("files", &schema(), serde_json::json!({}), &args(&["--path", "data", "--csv-has-header"])).expect("parses");
        let path = c["path"].as_str().expect("string");
        assert!(path.starts_with('/') && path.ends_with("/data"), "{path}");
        assert_eq!(c["csv_has_header"], true);
    }

    #[test]
    fn bad_fields_are_named() {
        let s = schema();
        let e = parse("files", &s, serde_json::json!({}), &args(&["--pth", "/x"])).expect_err("unknown");
        assert!(e.to_string().contains("unknown field --pth") && e.to_string().contains("--path"), "{e}");
        let e = parse("files", &s, serde_json::json!({}), &args(&["--format", "csv"])).expect_err("missing");
        assert!(e.to_string().contains("missing required field --path"), "{e}");
        let e = parse("files", &s, serde_json::json!({}), &args(&["--path", "/x", "--pool-size", "many"])).expect_err("type");
        assert!(e.to_string().contains("--pool-size expects a whole number"), "{e}");
        let e = parse("files", &s, serde_json::json!({}), &args(&["--path"])).expect_err("no value");
        assert!(e.to_string().contains("--path needs a value"), "{e}");
    }
}
