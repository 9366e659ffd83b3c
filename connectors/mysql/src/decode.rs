//! MySQL result columns as Arrow types, and row values into Arrow columns.
//!
//! Rows come over the binary protocol (prepared statements), so integers,
//! floats, dates and times arrive as numbers, not text; decimals, strings
//! and bits arrive as bytes. Text-protocol values (which arrive as text for
//! every type) are parsed by the same rules.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use dmesh_connector_sql::batch::days_from_civil;
use dmesh_connector_sql::{ArrowColumn, BatchBuilder};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value};

/// The character set number of binary strings.
const BINARY_CHARSET: u16 = 63;

/// How a column's values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decode {
    /// As the value says (numbers, text, bytes).
    Plain,
    /// BIT(n): big-endian bytes into an unsigned integer.
    Bit,
    /// Exact decimals as text, rescaled.
    Decimal,
    /// DATE.
    Date,
    /// DATETIME, TIMESTAMP.
    Timestamp,
    /// TIME: a signed length of time.
    Time,
}

/// The Arrow type of a result column, and how its values are read.
pub(crate) fn arrow_type(c: &Column) -> (DataType, Decode) {
    let flags = c.flags();
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.character_set() == BINARY_CHARSET;
    use ColumnType as T;
    let plain = |t| (t, Decode::Plain);
    match c.column_type() {
        T::MYSQL_TYPE_TINY => plain(if unsigned { DataType::UInt8 } else { DataType::Int8 }),
        T::MYSQL_TYPE_SHORT => plain(if unsigned { DataType::UInt16 } else { DataType::Int16 }),
        T::MYSQL_TYPE_INT24 | T::MYSQL_TYPE_LONG => plain(if unsigned { DataType::UInt32 } else { DataType::Int32 }),
        T::MYSQL_TYPE_LONGLONG => plain(if unsigned { DataType::UInt64 } else { DataType::Int64 }),
        T::MYSQL_TYPE_YEAR => plain(DataType::UInt16),
        T::MYSQL_TYPE_FLOAT => plain(DataType::Float32),
        T::MYSQL_TYPE_DOUBLE => plain(DataType::Float64),
        T::MYSQL_TYPE_DECIMAL | T::MYSQL_TYPE_NEWDECIMAL => {
            let scale = c.decimals();
            // The display length counts the sign (when signed) and the point.
            let length = c.column_length() as i64;
            let digits = length - i64::from(scale > 0) - i64::from(!unsigned);
            let precision = digits.clamp(1, 76) as u8;
            if precision <= 38 {
                (DataType::Decimal128(precision.max(scale), scale as i8), Decode::Decimal)
            } else {
                (DataType::Utf8, Decode::Decimal)
            }
        }
        T::MYSQL_TYPE_BIT => (DataType::UInt64, Decode::Bit),
        T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE => (DataType::Date32, Decode::Date),
        T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2 => {
            (DataType::Timestamp(TimeUnit::Microsecond, None), Decode::Timestamp)
        }
        // TIMESTAMP values are instants; sessions run in UTC.
        T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2 => {
            (DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC"))), Decode::Timestamp)
        }
        T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2 => (DataType::Duration(TimeUnit::Microsecond), Decode::Time),
        T::MYSQL_TYPE_NULL => plain(DataType::Null),
        T::MYSQL_TYPE_GEOMETRY => plain(DataType::Binary),
        T::MYSQL_TYPE_JSON => plain(DataType::Utf8),
        // VARCHAR, CHAR, TEXT, BLOB, ENUM, SET: bytes when the column is binary.
        _ => plain(if binary { DataType::Binary } else { DataType::Utf8 }),
    }
}

/// The shape of a result: its Arrow schema and how each column is read.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub schema: SchemaRef,
    pub decode: Vec<Decode>,
}

impl Shape {
    /// The shape of `columns`.
    pub(crate) fn of(columns: &[Column]) -> Self {
        let mut fields = Vec::with_capacity(columns.len());
        let mut decode = Vec::with_capacity(columns.len());
        for c in columns {
            let (ty, d) = arrow_type(c);
            let nullable = !c.flags().contains(ColumnFlags::NOT_NULL_FLAG) || ty == DataType::Null;
            fields.push(Field::new(c.name_str(), ty, nullable));
            decode.push(d);
        }
        Self {
            schema: Arc::new(Schema::new(fields)),
            decode,
        }
    }

    /// The shape of a statement without a result: its count of changed rows.
    pub(crate) fn rows_affected() -> Self {
        Self {
            schema: Arc::new(Schema::new(vec![Field::new("rows_affected", DataType::UInt64, false)])),
            decode: vec![Decode::Plain],
        }
    }

    /// A builder of batches of this shape.
    pub(crate) fn builder(&self, rows: usize, bytes: usize) -> BatchBuilder<ArrowColumn> {
        let kinds = self.schema.fields().iter().map(|f| f.data_type().clone()).collect();
        BatchBuilder::new(self.schema.clone(), kinds, rows, bytes)
    }
}

/// The bytes a value took on the wire, about.
pub(crate) fn wire_size(v: &Value) -> usize {
    match v {
        Value::NULL => 1,
        Value::Bytes(b) => b.len() + 1,
        Value::Int(_) | Value::UInt(_) | Value::Double(_) => 8,
        Value::Float(_) => 4,
        Value::Date(..) => 11,
        Value::Time(..) => 12,
    }
}

fn text(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|e| format!("the server sent text that is not UTF-8: {e}"))
}

/// Appends one value to its column.
pub(crate) fn push(column: &mut ArrowColumn, decode: Decode, v: &Value) -> Result<(), String> {
    match (decode, v) {
        (_, Value::NULL) => {
            column.push_null();
            Ok(())
        }
        (Decode::Plain, Value::Int(i)) => column.push_i64(*i),
        (Decode::Plain, Value::UInt(u)) => column.push_u64(*u),
        (Decode::Plain, Value::Float(f)) => column.push_f64(f64::from(*f)),
        (Decode::Plain, Value::Double(f)) => column.push_f64(*f),
        (Decode::Plain, Value::Bytes(b)) => match column {
            ArrowColumn::Text(_) | ArrowColumn::Bytes(_) => column.push_bytes(b),
            ArrowColumn::F32(_) | ArrowColumn::F64(_) => {
                column.push_f64(text(b)?.parse().map_err(|_| format!("{:?} is not a number", String::from_utf8_lossy(b)))?)
            }
            ArrowColumn::U64(_) => {
                column.push_u64(text(b)?.parse().map_err(|_| format!("{:?} is not an integer", String::from_utf8_lossy(b)))?)
            }
            _ => column.push_i64(text(b)?.parse().map_err(|_| format!("{:?} is not an integer", String::from_utf8_lossy(b)))?),
        },
        (Decode::Decimal, Value::Bytes(b)) => column.push_decimal_text(text(b)?),
        (Decode::Decimal, Value::Int(i)) => column.push_i64(*i),
        (Decode::Bit, Value::Bytes(b)) => {
            if b.len() > 8 {
                return Err(format!("a BIT value of {} bytes", b.len()));
            }
            column.push_u64(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
        }
        (Decode::Bit, Value::UInt(u)) => column.push_u64(*u),
        (Decode::Bit, Value::Int(i)) => column.push_i64(*i),
        (Decode::Date, Value::Date(y, m, d, ..)) => match zero_date(*y, *m, *d) {
            true => {
                column.push_null();
                Ok(())
            }
            false => column.push_date(days_from_civil(i32::from(*y), u32::from(*m), u32::from(*d))),
        },
        (Decode::Timestamp, Value::Date(y, m, d, h, mi, s, us)) => {
            if zero_date(*y, *m, *d) {
                column.push_null();
                return Ok(());
            }
            let days = i64::from(days_from_civil(i32::from(*y), u32::from(*m), u32::from(*d)));
            let secs = days * 86_400 + i64::from(*h) * 3600 + i64::from(*mi) * 60 + i64::from(*s);
            column.push_timestamp(secs * 1_000_000 + i64::from(*us))
        }
        (Decode::Time, Value::Time(negative, days, h, m, s, us)) => {
            let secs = i64::from(*days) * 86_400 + i64::from(*h) * 3600 + i64::from(*m) * 60 + i64::from(*s);
            let micros = secs * 1_000_000 + i64::from(*us);
            column.push_duration(if *negative { -micros } else { micros })
        }
        (Decode::Date | Decode::Timestamp | Decode::Time, Value::Bytes(b)) => push_temporal_text(column, decode, text(b)?),
        (_, other) => Err(format!("the server sent {other:?} for this column")),
    }
}

/// MySQL's zero dates (`0000-00-00`), which name no day, read as NULL.
fn zero_date(y: u16, m: u8, d: u8) -> bool {
    let _ = y;
    m == 0 || d == 0
}

/// A temporal value sent as text (text protocol): `2024-05-01`,
/// `2024-05-01 12:00:00.5`, `-838:59:59`.
fn push_temporal_text(column: &mut ArrowColumn, decode: Decode, t: &str) -> Result<(), String> {
    let bad = || format!("{t:?} is not a MySQL date or time");
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let fraction = |s: &str| -> Result<u32, String> {
        let digits: String = s.chars().chain(std::iter::repeat('0')).take(6).collect();
        digits.parse::<u32>().map_err(|_| bad())
    };
    match decode {
        Decode::Time => {
            let (negative, rest) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
            let (clock, frac) = rest.split_once('.').unwrap_or((rest, ""));
            let parts: Vec<&str> = clock.split(':').collect();
            let [h, m, s] = parts.as_slice() else { return Err(bad()) };
            let micros = (i64::from(num(h)?) * 3600 + i64::from(num(m)?) * 60 + i64::from(num(s)?)) * 1_000_000
                + i64::from(fraction(frac)?);
            column.push_duration(if negative { -micros } else { micros })
        }
        _ => {
            let (date, clock) = t.split_once(' ').unwrap_or((t, "00:00:00"));
            let d: Vec<&str> = date.split('-').collect();
            let [y, mo, da] = d.as_slice() else { return Err(bad()) };
            let (y, mo, da) = (num(y)?, num(mo)?, num(da)?);
            if mo == 0 || da == 0 {
                column.push_null();
                return Ok(());
            }
            let days = days_from_civil(i32::try_from(y).map_err(|_| bad())?, mo, da);
            if decode == Decode::Date {
                return column.push_date(days);
            }
            let (clock, frac) = clock.split_once('.').unwrap_or((clock, ""));
            let c: Vec<&str> = clock.split(':').collect();
            let [h, mi, s] = c.as_slice() else { return Err(bad()) };
            let secs = i64::from(days) * 86_400 + i64::from(num(h)?) * 3600 + i64::from(num(mi)?) * 60 + i64::from(num(s)?);
            column.push_timestamp(secs * 1_000_000 + i64::from(fraction(frac)?))
        }
    }
}

/// A request parameter as a MySQL value.
pub(crate) fn param_value(p: &dmesh_connector_api::ParamValue) -> Value {
    use dmesh_connector_api::ParamValue as P;
    let civil = |days: i64| {
        // Days since the epoch back to a civil date (inverse of days_from_civil).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as u16;
        (y, m, d)
    };
    match p {
        P::Null => Value::NULL,
        P::Bool(b) => Value::Int(i64::from(*b)),
        P::Int64(i) => Value::Int(*i),
        P::UInt64(u) => Value::UInt(*u),
        P::Float64(f) => Value::Double(*f),
        P::Utf8(s) | P::Decimal(s) => Value::Bytes(s.clone().into_bytes()),
        P::Binary(b) => Value::Bytes(b.clone()),
        P::Date32(d) => {
            let (y, m, d) = civil(i64::from(*d));
            Value::Date(y, m, d, 0, 0, 0, 0)
        }
        P::TimestampMicros(us) => {
            let secs = us.div_euclid(1_000_000);
            let micros = us.rem_euclid(1_000_000) as u32;
            let (y, m, d) = civil(secs.div_euclid(86_400));
            let t = secs.rem_euclid(86_400);
            Value::Date(y, m, d, (t / 3600) as u8, (t % 3600 / 60) as u8, (t % 60) as u8, micros)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmesh_connector_api::ParamValue;
    use dmesh_connector_sql::Column as _;

    #[test]
    fn text_temporals_parse() {
        let mut c = ArrowColumn::new(&DataType::Duration(TimeUnit::Microsecond), 4, 0);
        assert!(push_temporal_text(&mut c, Decode::Time, "-838:59:59.5").is_ok());
        let mut c = ArrowColumn::new(&DataType::Timestamp(TimeUnit::Microsecond, None), 4, 0);
        assert!(push_temporal_text(&mut c, Decode::Timestamp, "2024-05-01 12:00:00.25").is_ok());
        assert!(push_temporal_text(&mut c, Decode::Timestamp, "0000-00-00 00:00:00").is_ok());
        assert!(push_temporal_text(&mut c, Decode::Timestamp, "yesterday").is_err());
    }

    #[test]
    fn parameters_round_trip_dates() {
        assert_eq!(param_value(&ParamValue::Date32(0)), Value::Date(1970, 1, 1, 0, 0, 0, 0));
        assert_eq!(param_value(&ParamValue::Date32(19_844)), Value::Date(2024, 5, 1, 0, 0, 0, 0));
        assert_eq!(
            param_value(&ParamValue::TimestampMicros(1_714_564_800_250_000)),
            Value::Date(2024, 5, 1, 12, 0, 0, 250_000)
        );
        assert_eq!(param_value(&ParamValue::Date32(-1)), Value::Date(1969, 12, 31, 0, 0, 0, 0));
    }
}
