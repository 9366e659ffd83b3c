//! Request parameters bound by the server in its binary formats.
//!
//! The statement says what type each `$n` is; a value is encoded as that type
//! when it converts exactly (an integer into `int4` when it fits, a decimal
//! string into `numeric`, `2024-05-01` into `date`), and refused otherwise
//! with the parameter's number and both types named. Values are never
//! spliced into SQL text.

use dmesh_connector_sql::batch::days_from_civil;
use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use dmesh_connector_api::{Error, Param, ParamValue, Result};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

/// One parameter, ready to bind.
#[derive(Debug)]
pub(crate) struct Bound<'a> {
    index: usize,
    value: &'a ParamValue,
}

type Encoded = std::result::Result<IsNull, Box<dyn StdError + Sync + Send>>;

/// Checks the count and wraps each value for binding.
pub(crate) fn bind<'a>(params: &'a [Param], types: &[Type]) -> Result<Vec<Bound<'a>>> {
    if params.iter().any(|p| p.name.is_some()) {
        return Err(Error::invalid_argument(
            "PostgreSQL parameters are positional ($1, $2, ...); send them without names",
        )
        .with_reason("BAD_PARAMETER"));
    }
    if params.len() != types.len() {
        return Err(Error::invalid_argument(format!(
            "the statement has {} parameter(s) and the request sent {}",
            types.len(),
            params.len()
        ))
        .with_reason("BAD_PARAMETER"));
    }
    Ok(params
        .iter()
        .enumerate()
        .map(|(i, p)| Bound {
            index: i + 1,
            value: &p.value,
        })
        .collect())
}

impl ToSql for Bound<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Encoded {
        encode(self.value, ty, out).map_err(|why| {
            format!("parameter ${} ({}) cannot be sent as `{}`: {why}", self.index, describe(self.value), ty.name()).into()
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn describe(v: &ParamValue) -> &'static str {
    match v {
        ParamValue::Null => "null",
        ParamValue::Bool(_) => "a boolean",
        ParamValue::Int64(_) | ParamValue::UInt64(_) => "an integer",
        ParamValue::Float64(_) => "a double",
        ParamValue::Utf8(_) => "text",
        ParamValue::Binary(_) => "bytes",
        ParamValue::Date32(_) => "a date",
        ParamValue::TimestampMicros(_) => "a timestamp",
        ParamValue::Decimal(_) => "a decimal",
    }
}

fn encode(v: &ParamValue, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, String> {
    if let Kind::Domain(base) = ty.kind() {
        return encode(v, base, out);
    }
    if let ParamValue::Null = v {
        return Ok(IsNull::Yes);
    }
    let text_like = matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON)
        || matches!(ty.kind(), Kind::Enum(_));
    match (v, ty) {
        (ParamValue::Bool(b), &Type::BOOL) => out.put_u8(u8::from(*b)),
        (ParamValue::Int64(_) | ParamValue::UInt64(_), _) => {
            let n: i128 = match v {
                ParamValue::Int64(n) => i128::from(*n),
                ParamValue::UInt64(n) => i128::from(*n),
                _ => 0,
            };
            encode_integer(n, ty, out)?;
        }
        (ParamValue::Float64(f), &Type::FLOAT8) => out.put_f64(*f),
        (ParamValue::Float64(f), &Type::FLOAT4) => out.put_f32(*f as f32),
        (ParamValue::Float64(f), &Type::NUMERIC) => {
            if !f.is_finite() {
                return Err("not a finite number".into());
            }
            encode_numeric(&f.to_string(), out)?;
        }
        (ParamValue::Decimal(s), &Type::NUMERIC) => encode_numeric(s, out)?,
        (ParamValue::Decimal(s), &Type::FLOAT8) => out.put_f64(s.trim().parse().map_err(|_| "not a number")?),
        (ParamValue::Decimal(s), &Type::FLOAT4) => out.put_f32(s.trim().parse().map_err(|_| "not a number")?),
        (ParamValue::Binary(b), &Type::BYTEA) => out.put_slice(b),
        (ParamValue::Date32(d), &Type::DATE) => out.put_i32(d - 10_957),
        (ParamValue::Date32(d), &Type::TIMESTAMP | &Type::TIMESTAMPTZ) => {
            out.put_i64(i64::from(*d) * 86_400_000_000 - 946_684_800_000_000);
        }
        (ParamValue::TimestampMicros(t), &Type::TIMESTAMP | &Type::TIMESTAMPTZ) => {
            out.put_i64(t.checked_sub(946_684_800_000_000).ok_or("out of range")?);
        }
        (ParamValue::Utf8(s), _) if text_like => out.put_slice(s.as_bytes()),
        (ParamValue::Decimal(s), _) if text_like => out.put_slice(s.as_bytes()),
        (ParamValue::Utf8(s), _) => encode_from_text(s, ty, out)?,
        _ => return Err("the types do not convert exactly".into()),
    }
    Ok(IsNull::No)
}

fn encode_integer(n: i128, ty: &Type, out: &mut BytesMut) -> std::result::Result<(), String> {
    let range = || format!("{n} is out of range");
    match *ty {
        Type::INT2 => out.put_i16(i16::try_from(n).map_err(|_| range())?),
        Type::INT4 => out.put_i32(i32::try_from(n).map_err(|_| range())?),
        Type::INT8 => out.put_i64(i64::try_from(n).map_err(|_| range())?),
        Type::OID => out.put_u32(u32::try_from(n).map_err(|_| range())?),
        Type::FLOAT8 => out.put_f64(n as f64),
        Type::FLOAT4 => out.put_f32(n as f32),
        Type::NUMERIC => encode_numeric(&n.to_string(), out)?,
        Type::TEXT | Type::VARCHAR | Type::UNKNOWN => out.put_slice(n.to_string().as_bytes()),
        _ => return Err("the types do not convert exactly".into()),
    }
    Ok(())
}

/// Text into the binary form of types whose text form is unambiguous.
fn encode_from_text(s: &str, ty: &Type, out: &mut BytesMut) -> std::result::Result<(), String> {
    let t = s.trim();
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            let n: i128 = t.parse().map_err(|_| format!("{t:?} is not an integer"))?;
            encode_integer(n, ty, out)?;
        }
        Type::FLOAT4 => out.put_f32(t.parse().map_err(|_| format!("{t:?} is not a number"))?),
        Type::FLOAT8 => out.put_f64(t.parse().map_err(|_| format!("{t:?} is not a number"))?),
        Type::NUMERIC => encode_numeric(t, out)?,
        Type::BOOL => out.put_u8(match t.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "on" | "1" => 1,
            "false" | "f" | "no" | "off" | "0" => 0,
            _ => return Err(format!("{t:?} is not a boolean")),
        }),
        Type::JSONB => {
            out.put_u8(1);
            out.put_slice(s.as_bytes());
        }
        Type::UUID => {
            let hex: String = t.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 {
                return Err(format!("{t:?} is not a UUID"));
            }
            for i in 0..16 {
                let byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| format!("{t:?} is not a UUID"))?;
                out.put_u8(byte);
            }
        }
        Type::DATE => out.put_i32(parse_date(t).ok_or_else(|| format!("{t:?} is not a date (YYYY-MM-DD)"))? - 10_957),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let micros = parse_timestamp(t, *ty == Type::TIMESTAMPTZ)
                .ok_or_else(|| format!("{t:?} is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM|Z])"))?;
            out.put_i64(micros - 946_684_800_000_000);
        }
        Type::BYTEA => out.put_slice(s.as_bytes()),
        _ => return Err("send it as text and cast in SQL, e.g. `$1::text::TYPE`".into()),
    }
    Ok(())
}

/// A decimal string as a binary numeric.
pub(crate) fn encode_numeric(text: &str, out: &mut BytesMut) -> std::result::Result<(), String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a decimal number");
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let int_part = int_part.trim_start_matches('0');
    let dscale = u16::try_from(frac_part.len()).map_err(|_| bad())?;
    // Pad the integer part on the left and the fraction on the right to
    // whole groups of four digits.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let digits: String = "0".repeat(int_pad) + int_part + frac_part + &"0".repeat(frac_pad);
    let mut groups: Vec<u16> = digits
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
        .collect();
    let int_groups = (int_part.len() + int_pad) / 4;
    let mut weight = int_groups as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_u16(u16::try_from(groups.len()).map_err(|_| bad())?);
    out.put_i16(i16::try_from(weight).map_err(|_| bad())?);
    out.put_u16(if negative && !groups.is_empty() { 0x4000 } else { 0 });
    out.put_u16(dscale);
    for g in groups {
        out.put_u16(g);
    }
    Ok(())
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
fn parse_date(t: &str) -> Option<i32> {
    let mut parts = t.splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Microseconds since 1970-01-01T00:00:00Z of an ISO timestamp. An offset
/// (`Z`, `+02:00`) is applied when `with_zone`; without one the time is UTC.
fn parse_timestamp(t: &str, with_zone: bool) -> Option<i64> {
    let (date, rest) = t.split_at(t.find([' ', 'T'])?);
    let rest = &rest[1..];
    let days = i64::from(parse_date(date)?);
    let zone_at = rest.find(['Z', 'z', '+']).or_else(|| rest.rfind('-'));
    let (clock, zone) = match zone_at {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let sec_text = hms.next().unwrap_or("0");
    let (s, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let s: i64 = s.parse().ok()?;
    if h > 23 || mi > 59 || s > 60 || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros_frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    let offset_secs: i64 = match zone {
        "" | "Z" | "z" => 0,
        z if with_zone => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let body = &z[1..];
            let (oh, om) = body.split_once(':').unwrap_or((body, "0"));
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + mi * 60 + s - offset_secs) * 1_000_000 + micros_frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{numeric_to_i128, numeric_to_string};

    fn roundtrip(text: &str) -> String {
        let mut out = BytesMut::new();
        encode_numeric(text, &mut out).expect("encodes");
        numeric_to_string(&out).expect("decodes")
    }

    #[test]
    fn decimal_text_encodes_to_the_same_numeric() {
        for t in ["0", "1", "-1", "12345.6789", "0.05", "-0.0005", "100000000", "123.450", "99999999999999999999.99"] {
            assert_eq!(roundtrip(t), t, "{t}");
        }
        assert_eq!(roundtrip("007.10"), "7.10");
        let mut out = BytesMut::new();
        encode_numeric("-12.34", &mut out).expect("encodes");
        assert_eq!(numeric_to_i128(&out, 2).expect("decodes"), -1234);
        assert!(encode_numeric("1e5", &mut BytesMut::new()).is_err());
        assert!(encode_numeric("", &mut BytesMut::new()).is_err());
    }

    #[test]
    fn dates_and_timestamps_parse() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-01-01"), Some(10_957));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5", false), Some(1_500_000));
        assert_eq!(parse_timestamp("1970-01-01T02:00:00+02:00", true), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z", true), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00+02:00", false), None);
    }

    #[test]
    fn integers_must_fit_the_parameter_type() {
        let mut out = BytesMut::new();
        assert!(encode(&ParamValue::Int64(70_000), &Type::INT2, &mut out).is_err());
        assert!(encode(&ParamValue::Int64(7), &Type::INT2, &mut out).is_ok());
        assert_eq!(&out[..], &7i16.to_be_bytes());
        assert!(encode(&ParamValue::Utf8("x".into()), &Type::INT4, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn counts_and_names_are_checked() {
        let params = vec![Param {
            name: None,
            value: ParamValue::Int64(1),
        }];
        assert!(bind(&params, &[Type::INT4, Type::INT4]).is_err());
        assert_eq!(bind(&params, &[Type::INT4]).expect("binds").len(), 1);
    }
}
