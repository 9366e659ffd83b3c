//! PostgreSQL's binary wire format decoded straight into Arrow builders.
//!
//! Every value arrives in the type's binary "send" format, both in result
//! rows of the extended protocol and in `COPY ... (FORMAT binary)` tuples, so
//! one decoder serves both paths. Values go from the received bytes into the
//! column's builder: no strings, no per-value allocation for fixed-width types.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, FixedSizeBinaryBuilder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, IntervalMonthDayNanoBuilder, ListArray, NullBuilder,
    StringArray, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt32Builder,
};
use arrow::array::NullBufferBuilder;
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, IntervalMonthDayNano, IntervalUnit, Schema, SchemaRef, TimeUnit};
use dmesh_connector_api::{Error, Result};
use tokio_postgres::types::{Kind, Type};

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Numerics wider than Decimal128 holds are sent as text.
const MAX_DECIMAL128_PRECISION: i32 = 38;

/// How one PostgreSQL type becomes Arrow.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Oid,
    /// Text-like: text, varchar, char(n), name, xml, json, enums, citext.
    Text,
    /// The single-byte `"char"` type.
    Char,
    /// jsonb: a version byte, then text.
    Jsonb,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    /// numeric(p, s) with p <= 38.
    Decimal { precision: u8, scale: i8 },
    /// numeric without a precision, or wider than 38 digits: exact decimal text.
    NumericText,
    /// A one-dimensional array.
    List(Box<PgKind>, FieldRef),
    /// `void`, what functions such as `pg_sleep` return: always NULL.
    Void,
}

/// Maps a result column's type to Arrow.
///
/// `typmod` is the column's type modifier (precision and scale for numeric).
///
/// # Errors
/// `InvalidArgument` naming the column and its type, with a cast to suggest,
/// for types dmesh does not map.
pub(crate) fn map_type(column: &str, ty: &Type, typmod: i32) -> Result<(PgKind, DataType, Option<&'static str>)> {
    let kind = kind_of(ty, typmod).ok_or_else(|| {
        Error::invalid_argument(format!(
            "column `{column}` has PostgreSQL type `{}`, which dmesh does not map to Arrow; \
             cast it in the query, e.g. `{column}::text`",
            ty.name()
        ))
        .with_reason("UNSUPPORTED_TYPE")
    })?;
    let extension = match *ty {
        Type::UUID => Some("arrow.uuid"),
        Type::JSON | Type::JSONB => Some("arrow.json"),
        _ => None,
    };
    let dt = data_type(&kind);
    Ok((kind, dt, extension))
}

fn kind_of(ty: &Type, typmod: i32) -> Option<PgKind> {
    let k = match *ty {
        Type::BOOL => PgKind::Bool,
        Type::INT2 => PgKind::Int2,
        Type::INT4 => PgKind::Int4,
        Type::INT8 => PgKind::Int8,
        Type::FLOAT4 => PgKind::Float4,
        Type::FLOAT8 => PgKind::Float8,
        Type::OID | Type::REGCLASS | Type::REGTYPE | Type::REGPROC => PgKind::Oid,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::XML | Type::JSON | Type::UNKNOWN => PgKind::Text,
        Type::CHAR => PgKind::Char,
        Type::JSONB => PgKind::Jsonb,
        Type::BYTEA => PgKind::Bytea,
        Type::DATE => PgKind::Date,
        Type::TIME => PgKind::Time,
        Type::TIMESTAMP => PgKind::Timestamp,
        Type::TIMESTAMPTZ => PgKind::TimestampTz,
        Type::INTERVAL => PgKind::Interval,
        Type::UUID => PgKind::Uuid,
        Type::NUMERIC => numeric_kind(typmod),
        Type::VOID => PgKind::Void,
        _ => match ty.kind() {
            Kind::Enum(_) => PgKind::Text,
            Kind::Domain(base) => kind_of(base, typmod)?,
            Kind::Array(elem) => {
                let inner = kind_of(elem, typmod)?;
                if matches!(inner, PgKind::List(..)) {
                    return None;
                }
                let field = Arc::new(Field::new("item", data_type(&inner), true));
                PgKind::List(Box::new(inner), field)
            }
            Kind::Simple if ty.name() == "citext" => PgKind::Text,
            _ => return None,
        },
    };
    Some(k)
}

/// numeric's type modifier holds `((precision << 16) | scale) + 4`.
fn numeric_kind(typmod: i32) -> PgKind {
    if typmod < 4 {
        return PgKind::NumericText;
    }
    let precision = ((typmod - 4) >> 16) & 0xffff;
    let scale = (typmod - 4) & 0x7ff;
    // Scales above 1000 encode negative scales (PostgreSQL 15+).
    let scale = if scale > 1000 { scale - 2048 } else { scale };
    if !(1..=MAX_DECIMAL128_PRECISION).contains(&precision) || scale > precision || scale < -(MAX_DECIMAL128_PRECISION) {
        return PgKind::NumericText;
    }
    PgKind::Decimal {
        precision: precision as u8,
        scale: scale as i8,
    }
}

fn data_type(kind: &PgKind) -> DataType {
    match kind {
        PgKind::Bool => DataType::Boolean,
        PgKind::Int2 => DataType::Int16,
        PgKind::Int4 => DataType::Int32,
        PgKind::Int8 => DataType::Int64,
        PgKind::Float4 => DataType::Float32,
        PgKind::Float8 => DataType::Float64,
        PgKind::Oid => DataType::UInt32,
        PgKind::Text | PgKind::Char | PgKind::Jsonb | PgKind::NumericText => DataType::Utf8,
        PgKind::Bytea => DataType::Binary,
        PgKind::Date => DataType::Date32,
        PgKind::Time => DataType::Time64(TimeUnit::Microsecond),
        PgKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        PgKind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        PgKind::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        PgKind::Uuid => DataType::FixedSizeBinary(16),
        PgKind::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
        PgKind::List(_, field) => DataType::List(field.clone()),
        PgKind::Void => DataType::Null,
    }
}

/// The columns of a result: names, how each decodes, and the Arrow schema.
#[derive(Clone, Debug)]
pub(crate) struct ResultShape {
    pub kinds: Vec<PgKind>,
    pub schema: SchemaRef,
}

impl ResultShape {
    /// The shape of a prepared statement's result.
    pub(crate) fn of(columns: &[tokio_postgres::Column]) -> Result<Self> {
        let mut kinds = Vec::with_capacity(columns.len());
        let mut fields = Vec::with_capacity(columns.len());
        for c in columns {
            let (kind, dt, extension) = map_type(c.name(), c.type_(), c.type_modifier())?;
            let mut field = Field::new(c.name(), dt, true);
            let mut meta = std::collections::HashMap::from([("dmesh:source_type".to_owned(), c.type_().name().to_owned())]);
            if let Some(ext) = extension {
                meta.insert("ARROW:extension:name".to_owned(), ext.to_owned());
                meta.insert("ARROW:extension:metadata".to_owned(), String::new());
            }
            field = field.with_metadata(meta);
            kinds.push(kind);
            fields.push(field);
        }
        Ok(Self {
            kinds,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

/// A value that could not be decoded, before the column is known.
#[derive(Debug)]
pub(crate) struct DecodeError(String);

type Decoded<T = ()> = std::result::Result<T, DecodeError>;

fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError(what.into())
}

fn fixed<const N: usize>(raw: &[u8]) -> Decoded<[u8; N]> {
    raw.try_into()
        .map_err(|_| bad(format!("expected {N} bytes, the server sent {}", raw.len())))
}

/// One column's builder.
pub(crate) enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int2(Int16Builder),
    Int4(Int32Builder),
    Int8(Int64Builder),
    Float4(Float32Builder),
    Float8(Float64Builder),
    Oid(UInt32Builder),
    /// Text and jsonb collect bytes; the batch's text is checked to be
    /// UTF-8 in one pass when it is finished.
    Text(BinaryBuilder),
    Char(StringBuilder),
    Jsonb(BinaryBuilder),
    NumericText(StringBuilder),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    Uuid(FixedSizeBinaryBuilder),
    Decimal {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
        /// 10^precision: values must stay below it.
        limit: i128,
    },
    List {
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<ColumnBuilder>,
        field: FieldRef,
    },
    Void(NullBuilder),
}

impl ColumnBuilder {
    /// A builder for `rows` values of about `bytes` bytes in all.
    fn new(kind: &PgKind, rows: usize, bytes: usize) -> Self {
        match kind {
            PgKind::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
            PgKind::Int2 => Self::Int2(Int16Builder::with_capacity(rows)),
            PgKind::Int4 => Self::Int4(Int32Builder::with_capacity(rows)),
            PgKind::Int8 => Self::Int8(Int64Builder::with_capacity(rows)),
            PgKind::Float4 => Self::Float4(Float32Builder::with_capacity(rows)),
            PgKind::Float8 => Self::Float8(Float64Builder::with_capacity(rows)),
            PgKind::Oid => Self::Oid(UInt32Builder::with_capacity(rows)),
            PgKind::Text => Self::Text(BinaryBuilder::with_capacity(rows, bytes)),
            PgKind::Char => Self::Char(StringBuilder::with_capacity(rows, rows)),
            PgKind::Jsonb => Self::Jsonb(BinaryBuilder::with_capacity(rows, bytes)),
            PgKind::NumericText => Self::NumericText(StringBuilder::with_capacity(rows, bytes)),
            PgKind::Bytea => Self::Bytea(BinaryBuilder::with_capacity(rows, bytes)),
            PgKind::Date => Self::Date(Date32Builder::with_capacity(rows)),
            PgKind::Time => Self::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            PgKind::Timestamp => Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows)),
            PgKind::TimestampTz => Self::TimestampTz(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC")),
            PgKind::Interval => Self::Interval(IntervalMonthDayNanoBuilder::with_capacity(rows)),
            PgKind::Uuid => Self::Uuid(FixedSizeBinaryBuilder::with_capacity(rows, 16)),
            PgKind::Decimal { precision, scale } => Self::Decimal {
                builder: Decimal128Builder::with_capacity(rows),
                precision: *precision,
                scale: *scale,
                limit: POW10[usize::from(*precision)],
            },
            PgKind::Void => Self::Void(NullBuilder::new()),
            PgKind::List(inner, field) => {
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                Self::List {
                    offsets,
                    nulls: NullBufferBuilder::new(rows),
                    child: Box::new(Self::new(inner, rows, bytes)),
                    field: field.clone(),
                }
            }
        }
    }

    /// Appends one value (`None` for NULL) in its binary send format.
    fn append(&mut self, raw: Option<&[u8]>) -> Decoded {
        let Some(raw) = raw else {
            self.append_null();
            return Ok(());
        };
        match self {
            Self::Bool(b) => b.append_value(fixed::<1>(raw)?[0] != 0),
            Self::Int2(b) => b.append_value(i16::from_be_bytes(fixed(raw)?)),
            Self::Int4(b) => b.append_value(i32::from_be_bytes(fixed(raw)?)),
            Self::Int8(b) => b.append_value(i64::from_be_bytes(fixed(raw)?)),
            Self::Float4(b) => b.append_value(f32::from_be_bytes(fixed(raw)?)),
            Self::Float8(b) => b.append_value(f64::from_be_bytes(fixed(raw)?)),
            Self::Oid(b) => b.append_value(u32::from_be_bytes(fixed(raw)?)),
            Self::Text(b) => b.append_value(raw),
            Self::Char(b) => {
                // "char" holds one byte; PostgreSQL prints bytes >= 0x80 in octal.
                let byte = fixed::<1>(raw)?[0];
                if byte.is_ascii() {
                    b.append_value(char::from(byte).encode_utf8(&mut [0; 4]));
                } else {
                    b.append_value(format!("\\{byte:03o}"));
                }
            }
            Self::Jsonb(b) => match raw.split_first() {
                Some((1, text)) => b.append_value(text),
                _ => return Err(bad("unknown jsonb format version")),
            },
            Self::NumericText(b) => b.append_value(numeric_to_string(raw)?),
            Self::Bytea(b) => b.append_value(raw),
            Self::Date(b) => {
                let days = i32::from_be_bytes(fixed(raw)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err(bad("date is ±infinity, which Arrow cannot hold; cast the column to text"));
                }
                b.append_value(days.checked_add(EPOCH_DAYS).ok_or_else(|| bad("date out of Arrow's range"))?);
            }
            Self::Time(b) => b.append_value(i64::from_be_bytes(fixed(raw)?)),
            Self::Timestamp(b) | Self::TimestampTz(b) => {
                let micros = i64::from_be_bytes(fixed(raw)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err(bad("timestamp is ±infinity, which Arrow cannot hold; cast the column to text"));
                }
                b.append_value(
                    micros
                        .checked_add(EPOCH_MICROS)
                        .ok_or_else(|| bad("timestamp out of Arrow's range"))?,
                );
            }
            Self::Interval(b) => {
                let bytes: [u8; 16] = fixed(raw)?;
                let (micros, rest) = bytes.split_at(8);
                let (days, months) = rest.split_at(4);
                let micros = i64::from_be_bytes(fixed(micros)?);
                let nanos = micros
                    .checked_mul(1000)
                    .ok_or_else(|| bad("interval too long for nanoseconds"))?;
                b.append_value(IntervalMonthDayNano::new(
                    i32::from_be_bytes(fixed(months)?),
                    i32::from_be_bytes(fixed(days)?),
                    nanos,
                ));
            }
            Self::Uuid(b) => b
                .append_value(fixed::<16>(raw)?)
                .map_err(|e| bad(format!("uuid: {e}")))?,
            Self::Decimal {
                builder,
                scale,
                precision,
                limit,
            } => {
                let v = numeric_to_i128(raw, *scale)?;
                if v >= *limit || v <= -*limit {
                    return Err(bad(format!("numeric value exceeds precision {precision}")));
                }
                builder.append_value(v);
            }
            // void values arrive as empty values; they are NULL in Arrow.
            Self::Void(b) => b.append_null(),
            Self::List {
                offsets, nulls, child, ..
            } => {
                let added = append_array(child, raw)?;
                let last = offsets.last().copied().unwrap_or(0);
                let next = i32::try_from(added)
                    .ok()
                    .and_then(|n| last.checked_add(n))
                    .ok_or_else(|| bad("array column holds more than 2^31 elements in one batch"))?;
                offsets.push(next);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Self::Bool(b) => b.append_null(),
            Self::Int2(b) => b.append_null(),
            Self::Int4(b) => b.append_null(),
            Self::Int8(b) => b.append_null(),
            Self::Float4(b) => b.append_null(),
            Self::Float8(b) => b.append_null(),
            Self::Oid(b) => b.append_null(),
            Self::Text(b) | Self::Jsonb(b) => b.append_null(),
            Self::Char(b) | Self::NumericText(b) => b.append_null(),
            Self::Bytea(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Timestamp(b) | Self::TimestampTz(b) => b.append_null(),
            Self::Interval(b) => b.append_null(),
            Self::Uuid(b) => b.append_null(),
            Self::Decimal { builder, .. } => builder.append_null(),
            Self::Void(b) => b.append_null(),
            Self::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    fn finish(&mut self) -> Decoded<ArrayRef> {
        Ok(match self {
            Self::Text(b) | Self::Jsonb(b) => {
                let (offsets, values, nulls) = b.finish().into_parts();
                Arc::new(
                    StringArray::try_new(offsets, values, nulls).map_err(|e| bad(format!("text is not UTF-8: {e}")))?,
                )
            }
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Int2(b) => Arc::new(b.finish()),
            Self::Int4(b) => Arc::new(b.finish()),
            Self::Int8(b) => Arc::new(b.finish()),
            Self::Float4(b) => Arc::new(b.finish()),
            Self::Float8(b) => Arc::new(b.finish()),
            Self::Oid(b) => Arc::new(b.finish()),
            Self::Char(b) | Self::NumericText(b) => Arc::new(b.finish()),
            Self::Bytea(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Timestamp(b) | Self::TimestampTz(b) => Arc::new(b.finish()),
            Self::Interval(b) => Arc::new(b.finish()),
            Self::Uuid(b) => Arc::new(b.finish()),
            Self::Void(b) => Arc::new(b.finish()),
            Self::Decimal {
                builder,
                precision,
                scale,
                ..
            } => {
                let array = builder.finish();
                // The builder's precision and scale were validated at plan time.
                match array.clone().with_precision_and_scale(*precision, *scale) {
                    Ok(a) => Arc::new(a),
                    Err(_) => Arc::new(array),
                }
            }
            Self::List {
                offsets,
                nulls,
                child,
                field,
            } => {
                let values = child.finish()?;
                let offs = std::mem::replace(offsets, vec![0]);
                let list = ListArray::new(
                    field.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    values,
                    nulls.finish(),
                );
                Arc::new(list)
            }
        })
    }

    /// Bytes of variable-length data held, to size the next batch's builder.
    fn data_bytes(&self) -> usize {
        match self {
            Self::Char(b) | Self::NumericText(b) => b.values_slice().len(),
            Self::Text(b) | Self::Jsonb(b) | Self::Bytea(b) => b.values_slice().len(),
            Self::List { child, .. } => child.data_bytes(),
            _ => 0,
        }
    }
}

fn read_i32(raw: &[u8], at: usize) -> Decoded<i32> {
    raw.get(at..at + 4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("truncated value"))
}

/// Appends a one-dimensional array's elements to `child`; returns how many.
fn append_array(child: &mut ColumnBuilder, raw: &[u8]) -> Decoded<usize> {
    let ndim = read_i32(raw, 0)?;
    if ndim == 0 {
        return Ok(0);
    }
    if ndim != 1 {
        return Err(bad(format!(
            "a {ndim}-dimensional array; dmesh maps one-dimensional arrays only (unnest it, or cast to text)"
        )));
    }
    let len = read_i32(raw, 12)?;
    let len = usize::try_from(len).map_err(|_| bad("negative array length"))?;
    let mut at = 20;
    for _ in 0..len {
        let n = read_i32(raw, at)?;
        at += 4;
        if n < 0 {
            child.append(None)?;
        } else {
            let end = at + n as usize;
            let value = raw.get(at..end).ok_or_else(|| bad("truncated array element"))?;
            child.append(Some(value))?;
            at = end;
        }
    }
    Ok(len)
}

/// The parts of a binary numeric.
struct Numeric<'a> {
    weight: i16,
    sign: u16,
    dscale: u16,
    digits: &'a [u8],
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

fn numeric_parts(raw: &[u8]) -> Decoded<Numeric<'_>> {
    let head: [u8; 8] = raw.get(..8).and_then(|h| h.try_into().ok()).ok_or_else(|| bad("truncated numeric"))?;
    let ndigits = u16::from_be_bytes([head[0], head[1]]) as usize;
    let digits = raw.get(8..8 + 2 * ndigits).ok_or_else(|| bad("truncated numeric"))?;
    Ok(Numeric {
        weight: i16::from_be_bytes([head[2], head[3]]),
        sign: u16::from_be_bytes([head[4], head[5]]),
        dscale: u16::from_be_bytes([head[6], head[7]]),
        digits,
    })
}

fn digit(digits: &[u8], i: usize) -> i128 {
    i128::from(u16::from_be_bytes([digits[2 * i], digits[2 * i + 1]]))
}

/// 10^0 ..= 10^38.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// A binary numeric as an integer scaled by `10^scale`. Fails rather than
/// round: the column's scale bounds the value's, so a remainder means a bug.
pub(crate) fn numeric_to_i128(raw: &[u8], scale: i8) -> Decoded<i128> {
    let n = numeric_parts(raw)?;
    match n.sign {
        NUMERIC_NAN => return Err(bad("numeric NaN cannot be a Decimal128; cast the column to text or float8")),
        NUMERIC_PINF | NUMERIC_NINF => {
            return Err(bad("numeric ±Infinity cannot be a Decimal128; cast the column to text or float8"));
        }
        _ => {}
    }
    let ndigits = n.digits.len() / 2;
    let overflow = || bad("numeric value too large for Decimal128");
    let mut acc: i128 = if ndigits <= 4 {
        // Up to 16 digits fit an i64, whose arithmetic is cheaper.
        let mut small: i64 = 0;
        for i in 0..ndigits {
            small = small * 10_000 + digit(n.digits, i) as i64;
        }
        i128::from(small)
    } else {
        let mut acc: i128 = 0;
        for i in 0..ndigits {
            acc = acc.checked_mul(10_000).and_then(|a| a.checked_add(digit(n.digits, i))).ok_or_else(overflow)?;
        }
        acc
    };
    // acc * 10000^(weight - ndigits + 1) is the value; scale it to 10^scale.
    let exp10 = 4 * (i32::from(n.weight) - ndigits as i32 + 1) + i32::from(scale);
    if ndigits > 0 && exp10 < 0 && exp10 > -19 && let Ok(small) = i64::try_from(acc) {
        // The common case (cents and the like) in cheap i64 arithmetic.
        let p = POW10[exp10.unsigned_abs() as usize] as i64;
        if small % p != 0 {
            return Err(bad(format!("numeric has more than {scale} decimal places")));
        }
        acc = i128::from(small / p);
    } else if ndigits > 0 && exp10 != 0 {
        let p = *POW10.get(exp10.unsigned_abs() as usize).ok_or_else(overflow)?;
        if exp10 > 0 {
            acc = acc.checked_mul(p).ok_or_else(overflow)?;
        } else {
            if acc % p != 0 {
                return Err(bad(format!("numeric has more than {scale} decimal places")));
            }
            acc /= p;
        }
    }
    Ok(if n.sign == NUMERIC_NEG { -acc } else { acc })
}

/// A binary numeric as PostgreSQL prints it, e.g. `-12.340`, `NaN`.
pub(crate) fn numeric_to_string(raw: &[u8]) -> Decoded<String> {
    let n = numeric_parts(raw)?;
    match n.sign {
        NUMERIC_NAN => return Ok("NaN".to_owned()),
        NUMERIC_PINF => return Ok("Infinity".to_owned()),
        NUMERIC_NINF => return Ok("-Infinity".to_owned()),
        _ => {}
    }
    let ndigits = (n.digits.len() / 2) as i32;
    let get = |i: i32| if (0..ndigits).contains(&i) { digit(n.digits, i as usize) } else { 0 };
    let mut out = String::with_capacity(16);
    if n.sign == NUMERIC_NEG {
        out.push('-');
    }
    let weight = i32::from(n.weight);
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                out.push_str(&get(i).to_string());
            } else {
                out.push_str(&format!("{:04}", get(i)));
            }
        }
    }
    if n.dscale > 0 {
        out.push('.');
        let mut frac = String::with_capacity(usize::from(n.dscale) + 4);
        let mut i = weight + 1;
        while frac.len() < usize::from(n.dscale) {
            frac.push_str(&format!("{:04}", get(i)));
            i += 1;
        }
        frac.truncate(usize::from(n.dscale));
        out.push_str(&frac);
    }
    Ok(out)
}

/// Fills record batches from rows of binary values.
pub(crate) type BatchBuilder = dmesh_connector_sql::BatchBuilder<ColumnBuilder>;

impl dmesh_connector_sql::Column for ColumnBuilder {
    type Kind = PgKind;

    fn new(kind: &PgKind, rows: usize, bytes: usize) -> Self {
        ColumnBuilder::new(kind, rows, bytes)
    }

    fn data_bytes(&self) -> usize {
        ColumnBuilder::data_bytes(self)
    }

    fn finish(&mut self) -> std::result::Result<ArrayRef, String> {
        ColumnBuilder::finish(self).map_err(|DecodeError(why)| why)
    }
}

impl ResultShape {
    /// A builder of batches of this shape.
    pub(crate) fn batch_builder(&self, target_rows: usize, target_bytes: usize) -> BatchBuilder {
        BatchBuilder::new(self.schema.clone(), self.kinds.clone(), target_rows, target_bytes)
    }
}

/// Appends one binary value (`None` for NULL) to column `index`.
#[inline]
pub(crate) fn append_raw(out: &mut BatchBuilder, index: usize, raw: Option<&[u8]>) -> Result<()> {
    out.append(index, |c| c.append(raw).map_err(|DecodeError(why)| why))
}

/// Splits a `COPY ... TO STDOUT (FORMAT binary)` stream into tuples.
#[derive(Debug, Default)]
pub(crate) struct CopyParser {
    pending: Vec<u8>,
    header_done: bool,
    finished: bool,
    /// Where each field of the tuple being read starts, and its length (-1: NULL).
    fields: Vec<(usize, i32)>,
}

const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl CopyParser {
    /// Whether the trailer has been seen.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// Feeds one chunk of the stream, appending every whole tuple to `out`
    /// and calling `on_full` whenever `out` fills.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut BatchBuilder,
        on_full: &mut dyn FnMut(&mut BatchBuilder) -> Result<()>,
    ) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, out, on_full)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.pending);
            let used = self.parse(&buf, out, on_full)?;
            self.pending = buf[used..].to_vec();
        }
        Ok(())
    }

    /// Parses whole tuples from `buf`; returns the bytes consumed.
    fn parse(
        &mut self,
        buf: &[u8],
        out: &mut BatchBuilder,
        on_full: &mut dyn FnMut(&mut BatchBuilder) -> Result<()>,
    ) -> Result<usize> {
        let mut at = 0;
        if !self.header_done {
            if buf.len() < COPY_SIGNATURE.len() + 8 {
                return Ok(0);
            }
            if &buf[..COPY_SIGNATURE.len()] != COPY_SIGNATURE {
                return Err(Error::internal("the COPY stream does not start with the binary signature"));
            }
            let ext = be_i32(buf, COPY_SIGNATURE.len() + 4).unwrap_or(0).max(0) as usize;
            let header = COPY_SIGNATURE.len() + 8 + ext;
            if buf.len() < header {
                return Ok(0);
            }
            at = header;
            self.header_done = true;
        }
        let ncols = out.schema().fields().len();
        while at + 2 <= buf.len() && !self.finished {
            let fields = i16::from_be_bytes([buf[at], buf[at + 1]]);
            if fields == -1 {
                self.finished = true;
                at += 2;
                break;
            }
            if fields as usize != ncols {
                return Err(Error::internal(format!(
                    "COPY tuple has {fields} fields where the query has {ncols} columns"
                )));
            }
            // First make sure the whole tuple is here, noting where each
            // field is, then decode it.
            let mut end = at + 2;
            let mut whole = true;
            self.fields.clear();
            for _ in 0..ncols {
                match be_i32(buf, end) {
                    Some(n) => {
                        self.fields.push((end + 4, n));
                        end += 4 + n.max(0) as usize;
                    }
                    None => {
                        whole = false;
                        break;
                    }
                }
                if end > buf.len() {
                    whole = false;
                    break;
                }
            }
            if !whole {
                break;
            }
            for (col, &(p, n)) in self.fields.iter().enumerate() {
                if n < 0 {
                    append_raw(out, col, None)?;
                } else {
                    append_raw(out, col, Some(&buf[p..p + n as usize]))?;
                }
            }
            out.end_row(end - at);
            at = end;
            if out.is_full() {
                on_full(out)?;
            }
        }
        Ok(at)
    }
}

fn be_i32(buf: &[u8], at: usize) -> Option<i32> {
    buf.get(at..at + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(digits.len() as u16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode_exactly() {
        // 12345.6789 = [1, 2345, 6789] with weight 1.
        let raw = numeric(1, 0, 4, &[1, 2345, 6789]);
        assert_eq!(numeric_to_string(&raw).expect("text"), "12345.6789");
        assert_eq!(numeric_to_i128(&raw, 4).expect("dec"), 123_456_789);
        assert_eq!(numeric_to_i128(&raw, 6).expect("dec"), 12_345_678_900);
        assert!(numeric_to_i128(&raw, 2).is_err(), "would round");
        // -0.05 = [500] with weight -1, dscale 2.
        let raw = numeric(-1, NUMERIC_NEG, 2, &[500]);
        assert_eq!(numeric_to_string(&raw).expect("text"), "-0.05");
        assert_eq!(numeric_to_i128(&raw, 2).expect("dec"), -5);
        // 1000000 = [100] with weight 1.
        let raw = numeric(1, 0, 0, &[100]);
        assert_eq!(numeric_to_string(&raw).expect("text"), "1000000");
        assert_eq!(numeric_to_i128(&raw, 2).expect("dec"), 100_000_000);
        // 0.00
        let raw = numeric(0, 0, 2, &[]);
        assert_eq!(numeric_to_string(&raw).expect("text"), "0.00");
        assert_eq!(numeric_to_i128(&raw, 2).expect("dec"), 0);
        let nan = numeric(0, NUMERIC_NAN, 0, &[]);
        assert_eq!(numeric_to_string(&nan).expect("text"), "NaN");
        assert!(numeric_to_i128(&nan, 2).is_err());
    }

    #[test]
    fn numeric_typmods_give_precision_and_scale() {
        let typmod = ((12 << 16) | 2) + 4;
        assert_eq!(numeric_kind(typmod), PgKind::Decimal { precision: 12, scale: 2 });
        assert_eq!(numeric_kind(-1), PgKind::NumericText);
        assert_eq!(numeric_kind(((60 << 16) | 2) + 4), PgKind::NumericText);
    }

    #[test]
    fn copy_tuples_split_across_chunks_decode_once() {
        let shape = ResultShape {
            kinds: vec![PgKind::Int4, PgKind::Text],
            schema: Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int32, true),
                Field::new("b", DataType::Utf8, true),
            ])),
        };
        let mut stream = COPY_SIGNATURE.to_vec();
        stream.extend_from_slice(&0i32.to_be_bytes());
        stream.extend_from_slice(&0i32.to_be_bytes());
        for i in 0..100i32 {
            stream.extend_from_slice(&2i16.to_be_bytes());
            stream.extend_from_slice(&4i32.to_be_bytes());
            stream.extend_from_slice(&i.to_be_bytes());
            if i % 10 == 0 {
                stream.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                let s = format!("row{i}");
                stream.extend_from_slice(&(s.len() as i32).to_be_bytes());
                stream.extend_from_slice(s.as_bytes());
            }
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        let mut out = shape.batch_builder(1 << 20, 1 << 30);
        let mut parser = CopyParser::default();
        let mut noop = |_: &mut BatchBuilder| Ok(());
        for chunk in stream.chunks(7) {
            parser.feed(chunk, &mut out, &mut noop).expect("parses");
        }
        assert!(parser.finished());
        let batch = out.finish().expect("batch");
        assert_eq!(batch.num_rows(), 100);
        assert_eq!(batch.column(1).null_count(), 10);
        let a = batch.column(0).as_any().downcast_ref::<arrow::array::Int32Array>().expect("int");
        assert_eq!(a.value(57), 57);
    }
}
