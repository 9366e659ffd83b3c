//! Statement parameters as DataFusion scalars.

use datafusion::scalar::ScalarValue;
use dmesh_connector_api::{Error, Param, ParamValue, Result};

/// The scalars for `$1, $2, ...` in order. Named parameters are refused:
/// DataFusion binds by position.
pub(crate) fn to_scalars(params: &[Param]) -> Result<Vec<ScalarValue>> {
    params
        .iter()
        .map(|p| {
            if let Some(name) = &p.name {
                return Err(Error::invalid_argument(format!(
                    "the files connector binds parameters by position ($1, $2, ...); remove the name `{name}`"
                ))
                .with_reason("NAMED_PARAMETER"));
            }
            to_scalar(&p.value)
        })
        .collect()
}

fn to_scalar(v: &ParamValue) -> Result<ScalarValue> {
    Ok(match v {
        ParamValue::Null => ScalarValue::Null,
        ParamValue::Bool(b) => ScalarValue::Boolean(Some(*b)),
        ParamValue::Int64(i) => ScalarValue::Int64(Some(*i)),
        ParamValue::UInt64(u) => ScalarValue::UInt64(Some(*u)),
        ParamValue::Float64(f) => ScalarValue::Float64(Some(*f)),
        ParamValue::Utf8(s) => ScalarValue::Utf8(Some(s.clone())),
        ParamValue::Binary(b) => ScalarValue::Binary(Some(b.clone())),
        ParamValue::Date32(d) => ScalarValue::Date32(Some(*d)),
        ParamValue::TimestampMicros(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some("UTC".into())),
        ParamValue::Decimal(text) => decimal(text)?,
    })
}

/// `-12.340` as Decimal128(precision, 3).
fn decimal(text: &str) -> Result<ScalarValue> {
    let bad = || {
        Error::invalid_argument(format!("`{text}` is not a decimal number (write digits with an optional sign and point)"))
            .with_reason("BAD_PARAMETER")
    };
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    let precision = trimmed.len().max(frac.len()).max(1);
    if precision > 38 {
        return Err(bad());
    }
    let mut value: i128 = if trimmed.is_empty() { 0 } else { trimmed.parse().map_err(|_| bad())? };
    if neg {
        value = -value;
    }
    let scale = i8::try_from(frac.len()).map_err(|_| bad())?;
    let precision = u8::try_from(precision).map_err(|_| bad())?;
    Ok(ScalarValue::Decimal128(Some(value), precision, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(decimal("-12.340").expect("ok"), ScalarValue::Decimal128(Some(-12340), 5, 3));
        assert_eq!(decimal("0.05").expect("ok"), ScalarValue::Decimal128(Some(5), 2, 2));
        assert_eq!(decimal("7").expect("ok"), ScalarValue::Decimal128(Some(7), 1, 0));
        assert!(decimal("1e5").is_err());
        assert!(decimal(".").is_err());
    }

    #[test]
    fn named_parameters_are_refused() {
        let p = Param {
            name: Some("x".into()),
            value: ParamValue::Int64(1),
        };
        assert!(to_scalars(&[p]).is_err());
    }
}
