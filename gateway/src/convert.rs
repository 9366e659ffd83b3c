//! Conversions between the connector API's types and the v1 protobuf messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dmesh_connector_api as api;
use dmesh_proto::v1 as pb;
use prost_types::value::Kind;

use crate::error::{GatewayError, Result};

/// A family as its protobuf enum value.
pub fn family(f: api::Family) -> i32 {
    match f {
        api::Family::Query => pb::Family::Query as i32,
        api::Family::Catalog => pb::Family::Catalog as i32,
        api::Family::Processing => pb::Family::Processing as i32,
        api::Family::Storage => pb::Family::Storage as i32,
    }
}

/// A protobuf family value as a family (`None` for unspecified).
pub fn family_from(v: i32) -> Option<api::Family> {
    match pb::Family::try_from(v).ok()? {
        pb::Family::Query => Some(api::Family::Query),
        pb::Family::Catalog => Some(api::Family::Catalog),
        pb::Family::Processing => Some(api::Family::Processing),
        pb::Family::Storage => Some(api::Family::Storage),
        pb::Family::Unspecified => None,
    }
}

/// Bytes as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A time as a protobuf timestamp.
pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn timestamp_ms(ms: u64) -> prost_types::Timestamp {
    timestamp(UNIX_EPOCH + Duration::from_millis(ms))
}

/// A duration as a protobuf duration.
pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// A protobuf duration as a duration (negative ones are refused).
pub fn duration_from(d: &prost_types::Duration) -> Result<Duration> {
    if d.seconds < 0 || d.nanos < 0 {
        return Err(GatewayError::BadRequest("durations must not be negative".into()));
    }
    Ok(Duration::new(d.seconds as u64, d.nanos as u32))
}

/// A JSON object as a protobuf struct.
pub fn json_to_struct(v: &serde_json::Value) -> prost_types::Struct {
    match json_to_value(v).kind {
        Some(Kind::StructValue(s)) => s,
        _ => prost_types::Struct::default(),
    }
}

fn json_to_value(v: &serde_json::Value) -> prost_types::Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A protobuf struct as a JSON object. Whole numbers become integers, so a
/// port given as `5432` reaches the connector as an integer.
pub fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

fn value_to_json(v: &prost_types::Value) -> serde_json::Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => (*b).into(),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                (*n as i64).into()
            } else {
                serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => s.clone().into(),
        Some(Kind::ListValue(l)) => l.values.iter().map(value_to_json).collect(),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// Request limits from protobuf.
pub fn limits(l: Option<&pb::Limits>) -> Result<api::Limits> {
    let Some(l) = l else {
        return Ok(api::Limits::default());
    };
    Ok(api::Limits {
        max_rows: (l.max_rows > 0).then_some(l.max_rows),
        max_bytes: (l.max_bytes > 0).then_some(l.max_bytes),
        timeout: l.timeout.as_ref().map(duration_from).transpose()?.filter(|d| !d.is_zero()),
    })
}

/// Statement parameters from protobuf.
pub fn params(ps: &[pb::Param]) -> Result<Vec<api::Param>> {
    ps.iter()
        .enumerate()
        .map(|(i, p)| {
            use pb::value::Kind as K;
            let value = match p.value.as_ref().and_then(|v| v.kind.as_ref()) {
                None | Some(K::Null(_)) => api::ParamValue::Null,
                Some(K::BoolValue(b)) => api::ParamValue::Bool(*b),
                Some(K::Int64Value(v)) => api::ParamValue::Int64(*v),
                Some(K::Uint64Value(v)) => api::ParamValue::UInt64(*v),
                Some(K::DoubleValue(v)) => api::ParamValue::Float64(*v),
                Some(K::StringValue(v)) => api::ParamValue::Utf8(v.clone()),
                Some(K::BytesValue(v)) => api::ParamValue::Binary(v.clone()),
                Some(K::DateValue(v)) => api::ParamValue::Date32(*v),
                Some(K::TimestampValue(t)) => {
                    let micros = t
                        .seconds
                        .checked_mul(1_000_000)
                        .and_then(|s| s.checked_add(i64::from(t.nanos) / 1000))
                        .ok_or_else(|| GatewayError::BadRequest(format!("parameter {} is out of range", i + 1)))?;
                    api::ParamValue::TimestampMicros(micros)
                }
                Some(K::DecimalValue(v)) => api::ParamValue::Decimal(v.clone()),
            };
            Ok(api::Param {
                name: (!p.name.is_empty()).then(|| p.name.clone()),
                value,
            })
        })
        .collect()
}

/// A table reference from protobuf.
pub fn table_ref_from(t: Option<&pb::TableRef>) -> Result<api::TableRef> {
    let t = t.ok_or_else(|| GatewayError::BadRequest("`table` is missing".into()))?;
    if t.name.is_empty() {
        return Err(GatewayError::BadRequest("`table.name` is empty".into()));
    }
    Ok(api::TableRef {
        catalog: (!t.catalog.is_empty()).then(|| t.catalog.clone()),
        schema: (!t.schema.is_empty()).then(|| t.schema.clone()),
        name: t.name.clone(),
    })
}

/// A table reference as protobuf.
pub fn table_ref(t: &api::TableRef) -> pb::TableRef {
    pb::TableRef {
        catalog: t.catalog.clone().unwrap_or_default(),
        schema: t.schema.clone().unwrap_or_default(),
        name: t.name.clone(),
    }
}

/// A table listing entry as protobuf.
pub fn table_info(t: &api::TableInfo) -> pb::TableInfo {
    let table_type = match t.table_type {
        api::TableType::Table => pb::TableType::Table,
        api::TableType::View => pb::TableType::View,
        api::TableType::MaterializedView => pb::TableType::MaterializedView,
        api::TableType::External => pb::TableType::External,
        api::TableType::System => pb::TableType::System,
    };
    pb::TableInfo {
        table: Some(table_ref(&t.table)),
        table_type: table_type as i32,
        description: t.description.clone().unwrap_or_default(),
        row_estimate: t.row_estimate,
        location: t.location.clone().unwrap_or_default(),
        format: t.format.clone().unwrap_or_default(),
    }
}

/// A truncation as protobuf.
pub fn truncation(t: Option<&crate::engine::Truncation>) -> Option<pb::Truncation> {
    t.map(|t| pb::Truncation {
        truncated: true,
        limit: t.limit.to_owned(),
        value: t.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_round_trip_with_integers_kept() {
        let json = serde_json::json!({"path": "/x", "port": 5432, "ratio": 0.5, "on": true, "tags": ["a"], "n": null, "o": {"k": 1}});
        assert_eq!(struct_to_json(&json_to_struct(&json)), json);
    }

    #[test]
    fn params_convert_with_their_types() {
        use pb::value::Kind as K;
        let ps = vec![
            pb::Param {
                name: String::new(),
                value: Some(pb::Value {
                    kind: Some(K::Int64Value(7)),
                }),
            },
            pb::Param {
                name: "n".into(),
                value: None,
            },
            pb::Param {
                name: String::new(),
                value: Some(pb::Value {
                    kind: Some(K::TimestampValue(prost_types::Timestamp {
                        seconds: 1,
                        nanos: 5000,
                    })),
                }),
            },
        ];
        let out = params(&ps).expect("converts");
        assert_eq!(out[0].value, api::ParamValue::Int64(7));
        assert_eq!(out[1].name.as_deref(), Some("n"));
        assert_eq!(out[1].value, api::ParamValue::Null);
        assert_eq!(out[2].value, api::ParamValue::TimestampMicros(1_000_005));
    }

    #[test]
    fn limits_treat_zero_as_unset_and_refuse_negative_time() {
        let l = limits(Some(&pb::Limits {
            max_rows: 0,
            max_bytes: 10,
            timeout: None,
        }))
        .expect("ok");
        assert_eq!(l.max_rows, None);
        assert_eq!(l.max_bytes, Some(10));
        assert!(
            limits(Some(&pb::Limits {
                timeout: Some(prost_types::Duration { seconds: -1, nanos: 0 }),
                ..Default::default()
            }))
            .is_err()
        );
    }
}
