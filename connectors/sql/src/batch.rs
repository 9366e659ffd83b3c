//! Rows into Arrow record batches of bounded size.
//!
//! [`BatchBuilder`] does the row and byte accounting every SQL source needs
//! (a batch ends at [`BATCH_ROWS`] rows or about [`BATCH_BYTES`] bytes of
//! source data, so Flight messages stay near 1 MiB and memory stays bounded
//! whatever the result's size) over columns of any [`Column`] type. A
//! source with its own wire encoding brings its own column type (PostgreSQL
//! decodes binary COPY values); the others append typed values to
//! [`ArrowColumn`].

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    DurationMicrosecondBuilder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, NullBuilder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use dmesh_connector_api::{Error, Result};

/// Rows per batch at most.
pub const BATCH_ROWS: usize = 65_536;
/// Bytes of source data per batch, about.
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches buffered between a reader and the client.
pub const CHANNEL_DEPTH: usize = 2;

/// One column being filled.
pub trait Column: Sized {
    /// What a fresh column is made from (a type description).
    type Kind;
    /// A column for about `rows` values of `bytes` bytes in all.
    fn new(kind: &Self::Kind, rows: usize, bytes: usize) -> Self;
    /// Bytes of variable-length data held, to size the next batch's column.
    fn data_bytes(&self) -> usize;
    /// The values so far as an array; the column is left empty.
    ///
    /// # Errors
    /// Why the values do not make an array (the caller names the column).
    fn finish(&mut self) -> std::result::Result<ArrayRef, String>;
}

/// Fills record batches row by row.
pub struct BatchBuilder<C: Column> {
    schema: SchemaRef,
    kinds: Vec<C::Kind>,
    columns: Vec<C>,
    rows: usize,
    bytes: usize,
    target_rows: usize,
    target_bytes: usize,
}

impl<C: Column> std::fmt::Debug for BatchBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("rows", &self.rows)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<C: Column> BatchBuilder<C> {
    /// Batches of `schema`, one column per kind, of up to `target_rows`
    /// rows or about `target_bytes` bytes.
    pub fn new(schema: SchemaRef, kinds: Vec<C::Kind>, target_rows: usize, target_bytes: usize) -> Self {
        let rows = target_rows.min(8192);
        let columns = kinds.iter().map(|k| C::new(k, rows, rows * 16)).collect();
        Self {
            schema,
            kinds,
            columns,
            rows: 0,
            bytes: 0,
            target_rows,
            target_bytes,
        }
    }

    /// The schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the batch is full.
    pub fn is_full(&self) -> bool {
        self.rows >= self.target_rows || self.bytes >= self.target_bytes
    }

    /// Appends to column `index` with `f`; its error is reported with the
    /// column's name and the row's number, reason `DECODE_FAILED`.
    ///
    /// # Errors
    /// As above.
    #[inline]
    pub fn append(&mut self, index: usize, f: impl FnOnce(&mut C) -> std::result::Result<(), String>) -> Result<()> {
        f(&mut self.columns[index]).map_err(|why| {
            let name = self.schema.field(index).name();
            Error::invalid_argument(format!("column `{name}`, row {}: {why}", self.rows + 1)).with_reason("DECODE_FAILED")
        })
    }

    /// Marks the end of a row of `bytes` bytes at the source.
    #[inline]
    pub fn end_row(&mut self, bytes: usize) {
        self.rows += 1;
        self.bytes += bytes;
    }

    /// Takes the rows held as a batch. The next batch's columns are sized
    /// like this one's, so filling them does not reallocate.
    ///
    /// # Errors
    /// INVALID_ARGUMENT `DECODE_FAILED` naming the column whose values do
    /// not make an array.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let rows = self.rows;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (i, (c, kind)) in self.columns.iter_mut().zip(&self.kinds).enumerate() {
            let bytes = c.data_bytes();
            let array = c.finish().map_err(|why| {
                let name = self.schema.field(i).name();
                Error::invalid_argument(format!("column `{name}`: {why}")).with_reason("DECODE_FAILED")
            })?;
            *c = C::new(kind, rows + rows / 8 + 16, bytes + bytes / 8 + 64);
            arrays.push(array);
        }
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| Error::internal(format!("assembling a batch: {e}")))
    }
}

/// A column of a common Arrow type, filled with typed values.
///
/// Each `push_*` method takes the value as the source holds it and
/// converts where the conversion is exact (an integer into a wider or a
/// float column, a number into text); anything else is a type mismatch the
/// caller reports with the column's name.
#[derive(Debug)]
pub enum ArrowColumn {
    /// Only NULLs.
    Null(NullBuilder),
    /// `Boolean`.
    Bool(BooleanBuilder),
    /// `Int8`.
    I8(Int8Builder),
    /// `Int16`.
    I16(Int16Builder),
    /// `Int32`.
    I32(Int32Builder),
    /// `Int64`.
    I64(Int64Builder),
    /// `UInt8`.
    U8(UInt8Builder),
    /// `UInt16`.
    U16(UInt16Builder),
    /// `UInt32`.
    U32(UInt32Builder),
    /// `UInt64`.
    U64(UInt64Builder),
    /// `Float32`.
    F32(Float32Builder),
    /// `Float64`.
    F64(Float64Builder),
    /// `Decimal128(precision, scale)`.
    Decimal(Decimal128Builder, u8, i8),
    /// `Utf8`.
    Text(StringBuilder),
    /// `Binary`.
    Bytes(BinaryBuilder),
    /// `Date32`.
    Date(Date32Builder),
    /// `Time64(Microsecond)`.
    Time(Time64MicrosecondBuilder),
    /// `Timestamp(Microsecond, zone)`.
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
    /// `Duration(Microsecond)`.
    Duration(DurationMicrosecondBuilder),
}

fn mismatch(what: &str, column: &ArrowColumn) -> String {
    format!("{what} does not fit the column's type {}", column.data_type())
}

impl ArrowColumn {
    /// The column's Arrow type.
    pub fn data_type(&self) -> DataType {
        match self {
            Self::Null(_) => DataType::Null,
            Self::Bool(_) => DataType::Boolean,
            Self::I8(_) => DataType::Int8,
            Self::I16(_) => DataType::Int16,
            Self::I32(_) => DataType::Int32,
            Self::I64(_) => DataType::Int64,
            Self::U8(_) => DataType::UInt8,
            Self::U16(_) => DataType::UInt16,
            Self::U32(_) => DataType::UInt32,
            Self::U64(_) => DataType::UInt64,
            Self::F32(_) => DataType::Float32,
            Self::F64(_) => DataType::Float64,
            Self::Decimal(_, p, s) => DataType::Decimal128(*p, *s),
            Self::Text(_) => DataType::Utf8,
            Self::Bytes(_) => DataType::Binary,
            Self::Date(_) => DataType::Date32,
            Self::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            Self::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
            Self::Duration(_) => DataType::Duration(TimeUnit::Microsecond),
        }
    }

    /// Appends NULL.
    #[inline]
    pub fn push_null(&mut self) {
        match self {
            Self::Null(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::I8(b) => b.append_null(),
            Self::I16(b) => b.append_null(),
            Self::I32(b) => b.append_null(),
            Self::I64(b) => b.append_null(),
            Self::U8(b) => b.append_null(),
            Self::U16(b) => b.append_null(),
            Self::U32(b) => b.append_null(),
            Self::U64(b) => b.append_null(),
            Self::F32(b) => b.append_null(),
            Self::F64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Text(b) => b.append_null(),
            Self::Bytes(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Timestamp(b, _) => b.append_null(),
            Self::Duration(b) => b.append_null(),
        }
    }

    /// Appends a signed integer.
    ///
    /// # Errors
    /// When it does not fit the column's type.
    #[inline]
    pub fn push_i64(&mut self, v: i64) -> std::result::Result<(), String> {
        let out_of_range = || format!("the integer {v} is out of range for the column's type");
        match self {
            Self::I8(b) => b.append_value(i8::try_from(v).map_err(|_| out_of_range())?),
            Self::I16(b) => b.append_value(i16::try_from(v).map_err(|_| out_of_range())?),
            Self::I32(b) => b.append_value(i32::try_from(v).map_err(|_| out_of_range())?),
            Self::I64(b) => b.append_value(v),
            Self::U8(b) => b.append_value(u8::try_from(v).map_err(|_| out_of_range())?),
            Self::U16(b) => b.append_value(u16::try_from(v).map_err(|_| out_of_range())?),
            Self::U32(b) => b.append_value(u32::try_from(v).map_err(|_| out_of_range())?),
            Self::U64(b) => b.append_value(u64::try_from(v).map_err(|_| out_of_range())?),
            Self::F32(b) => b.append_value(v as f32),
            Self::F64(b) => b.append_value(v as f64),
            Self::Bool(b) if v == 0 || v == 1 => b.append_value(v == 1),
            Self::Decimal(b, p, s) => {
                let scaled = i128::from(v) * 10i128.pow(u32::try_from(*s).unwrap_or(0));
                if scaled.unsigned_abs() >= 10u128.pow(u32::from(*p)) {
                    return Err(out_of_range());
                }
                b.append_value(scaled);
            }
            Self::Text(b) => b.append_value(v.to_string()),
            _ => return Err(mismatch(&format!("the integer {v}"), self)),
        }
        Ok(())
    }

    /// Appends an unsigned integer.
    ///
    /// # Errors
    /// When it does not fit the column's type.
    #[inline]
    pub fn push_u64(&mut self, v: u64) -> std::result::Result<(), String> {
        match self {
            Self::U64(b) => b.append_value(v),
            Self::Text(b) => b.append_value(v.to_string()),
            Self::F64(b) => b.append_value(v as f64),
            _ => match i64::try_from(v) {
                Ok(signed) => return self.push_i64(signed),
                Err(_) => return Err(mismatch(&format!("the integer {v}"), self)),
            },
        }
        Ok(())
    }

    /// Appends a float.
    ///
    /// # Errors
    /// When the column holds neither floats, text nor (for whole values)
    /// integers.
    #[inline]
    pub fn push_f64(&mut self, v: f64) -> std::result::Result<(), String> {
        match self {
            Self::F64(b) => b.append_value(v),
            Self::F32(b) => b.append_value(v as f32),
            Self::Text(b) => b.append_value(v.to_string()),
            Self::I64(b) if v.fract() == 0.0 && v.abs() < 9.0e15 => b.append_value(v as i64),
            _ => return Err(mismatch(&format!("the number {v}"), self)),
        }
        Ok(())
    }

    /// Appends text.
    ///
    /// # Errors
    /// When the column holds neither text nor bytes.
    #[inline]
    pub fn push_str(&mut self, v: &str) -> std::result::Result<(), String> {
        match self {
            Self::Text(b) => b.append_value(v),
            Self::Bytes(b) => b.append_value(v.as_bytes()),
            _ => {
                let shown: String = v.chars().take(40).collect();
                return Err(mismatch(&format!("the text {shown:?}"), self));
            }
        }
        Ok(())
    }

    /// Appends bytes; a text column takes them when they are UTF-8.
    ///
    /// # Errors
    /// When the column holds neither bytes nor text, or text that is not UTF-8.
    #[inline]
    pub fn push_bytes(&mut self, v: &[u8]) -> std::result::Result<(), String> {
        match self {
            Self::Bytes(b) => b.append_value(v),
            Self::Text(b) => {
                b.append_value(std::str::from_utf8(v).map_err(|e| format!("the text is not valid UTF-8: {e}"))?)
            }
            _ => return Err(mismatch(&format!("a {}-byte value", v.len()), self)),
        }
        Ok(())
    }

    /// Appends a decimal given as its unscaled integer at the column's scale.
    ///
    /// # Errors
    /// When the column is not a decimal or the value exceeds its precision.
    #[inline]
    pub fn push_decimal(&mut self, unscaled: i128) -> std::result::Result<(), String> {
        match self {
            Self::Decimal(b, p, _) => {
                if unscaled.unsigned_abs() >= 10u128.pow(u32::from(*p)) {
                    return Err(format!("the decimal exceeds the column's precision {p}"));
                }
                b.append_value(unscaled);
            }
            _ => return Err(mismatch("a decimal", self)),
        }
        Ok(())
    }

    /// Appends a date, in days since 1970-01-01.
    ///
    /// # Errors
    /// When the column does not hold dates.
    #[inline]
    pub fn push_date(&mut self, days: i32) -> std::result::Result<(), String> {
        match self {
            Self::Date(b) => b.append_value(days),
            _ => return Err(mismatch("a date", self)),
        }
        Ok(())
    }

    /// Appends a time of day, in microseconds since midnight.
    ///
    /// # Errors
    /// When the column does not hold times.
    #[inline]
    pub fn push_time(&mut self, micros: i64) -> std::result::Result<(), String> {
        match self {
            Self::Time(b) => b.append_value(micros),
            _ => return Err(mismatch("a time", self)),
        }
        Ok(())
    }

    /// Appends a timestamp, in microseconds since 1970-01-01T00:00:00.
    ///
    /// # Errors
    /// When the column does not hold timestamps.
    #[inline]
    pub fn push_timestamp(&mut self, micros: i64) -> std::result::Result<(), String> {
        match self {
            Self::Timestamp(b, _) => b.append_value(micros),
            _ => return Err(mismatch("a timestamp", self)),
        }
        Ok(())
    }

    /// Appends a length of time, in microseconds.
    ///
    /// # Errors
    /// When the column does not hold durations.
    #[inline]
    pub fn push_duration(&mut self, micros: i64) -> std::result::Result<(), String> {
        match self {
            Self::Duration(b) => b.append_value(micros),
            _ => return Err(mismatch("a length of time", self)),
        }
        Ok(())
    }

    /// Appends a decimal written in base 10 (`-12.5`, `3`), rescaled
    /// exactly to the column's scale; a text column keeps the text.
    ///
    /// # Errors
    /// When the text is not a decimal, has more fractional digits than the
    /// scale, or exceeds the precision.
    pub fn push_decimal_text(&mut self, text: &str) -> std::result::Result<(), String> {
        match self {
            Self::Decimal(_, _, scale) => {
                let unscaled = parse_decimal(text, *scale).ok_or_else(|| format!("{text:?} is not a decimal of scale {scale}"))?;
                self.push_decimal(unscaled)
            }
            Self::Text(b) => {
                b.append_value(text);
                Ok(())
            }
            Self::F64(b) => {
                b.append_value(text.parse::<f64>().map_err(|_| format!("{text:?} is not a number"))?);
                Ok(())
            }
            _ => Err(mismatch("a decimal", self)),
        }
    }

    /// Appends a boolean.
    ///
    /// # Errors
    /// When the column holds neither booleans nor integers.
    #[inline]
    pub fn push_bool(&mut self, v: bool) -> std::result::Result<(), String> {
        match self {
            Self::Bool(b) => b.append_value(v),
            _ => return self.push_i64(i64::from(v)),
        }
        Ok(())
    }
}

/// A base-10 decimal as an integer scaled by 10^`scale`, when exact.
pub fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = usize::try_from(scale).ok()?;
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.trim_end_matches('0').len() > scale
    {
        return None;
    }
    let mut value: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(scale)) {
        value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Column for ArrowColumn {
    type Kind = DataType;

    fn new(kind: &DataType, rows: usize, bytes: usize) -> Self {
        match kind {
            DataType::Null => Self::Null(NullBuilder::new()),
            DataType::Boolean => Self::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Int8 => Self::I8(Int8Builder::with_capacity(rows)),
            DataType::Int16 => Self::I16(Int16Builder::with_capacity(rows)),
            DataType::Int32 => Self::I32(Int32Builder::with_capacity(rows)),
            DataType::Int64 => Self::I64(Int64Builder::with_capacity(rows)),
            DataType::UInt8 => Self::U8(UInt8Builder::with_capacity(rows)),
            DataType::UInt16 => Self::U16(UInt16Builder::with_capacity(rows)),
            DataType::UInt32 => Self::U32(UInt32Builder::with_capacity(rows)),
            DataType::UInt64 => Self::U64(UInt64Builder::with_capacity(rows)),
            DataType::Float32 => Self::F32(Float32Builder::with_capacity(rows)),
            DataType::Float64 => Self::F64(Float64Builder::with_capacity(rows)),
            DataType::Decimal128(p, s) => Self::Decimal(
                Decimal128Builder::with_capacity(rows).with_data_type(DataType::Decimal128(*p, *s)),
                *p,
                *s,
            ),
            DataType::Binary => Self::Bytes(BinaryBuilder::with_capacity(rows, bytes)),
            DataType::Date32 => Self::Date(Date32Builder::with_capacity(rows)),
            DataType::Time64(TimeUnit::Microsecond) => Self::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone_opt(zone.clone()), zone.clone())
            }
            DataType::Duration(TimeUnit::Microsecond) => Self::Duration(DurationMicrosecondBuilder::with_capacity(rows)),
            _ => Self::Text(StringBuilder::with_capacity(rows, bytes)),
        }
    }

    fn data_bytes(&self) -> usize {
        match self {
            Self::Text(b) => b.values_slice().len(),
            Self::Bytes(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    fn finish(&mut self) -> std::result::Result<ArrayRef, String> {
        Ok(match self {
            Self::Null(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::I8(b) => Arc::new(b.finish()),
            Self::I16(b) => Arc::new(b.finish()),
            Self::I32(b) => Arc::new(b.finish()),
            Self::I64(b) => Arc::new(b.finish()),
            Self::U8(b) => Arc::new(b.finish()),
            Self::U16(b) => Arc::new(b.finish()),
            Self::U32(b) => Arc::new(b.finish()),
            Self::U64(b) => Arc::new(b.finish()),
            Self::F32(b) => Arc::new(b.finish()),
            Self::F64(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Bytes(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Timestamp(b, _) => Arc::new(b.finish()),
            Self::Duration(b) => Arc::new(b.finish()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Int64Type, Schema};

    #[test]
    fn batches_end_at_the_row_target_and_reuse_their_columns() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let kinds = schema.fields().iter().map(|f| f.data_type().clone()).collect();
        let mut b: BatchBuilder<ArrowColumn> = BatchBuilder::new(schema, kinds, 3, usize::MAX);
        for i in 0..3i64 {
            b.append(0, |c| c.push_i64(i)).unwrap_or_else(|e| panic!("{e}"));
            if i == 1 {
                b.append(1, |c| {
                    c.push_null();
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{e}"));
            } else {
                b.append(1, |c| c.push_str("x")).unwrap_or_else(|e| panic!("{e}"));
            }
            b.end_row(8);
        }
        assert!(b.is_full());
        let batch = b.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(2), 2);
        assert!(batch.column(1).is_null(1));
        assert_eq!(b.rows(), 0);
        let err = b.append(0, |c| c.push_str("nope")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("column `id`, row 1"), "{err}");
    }

    #[test]
    fn values_convert_only_when_exact() {
        let mut c = ArrowColumn::new(&DataType::Int8, 4, 0);
        assert!(c.push_i64(127).is_ok());
        assert!(c.push_i64(128).is_err());
        let mut c = ArrowColumn::new(&DataType::Decimal128(5, 2), 4, 0);
        assert!(c.push_decimal(99_999).is_ok());
        assert!(c.push_decimal(100_000).is_err());
        assert!(c.push_i64(999).is_ok());
        assert!(c.push_i64(1000).is_err());
        let mut c = ArrowColumn::new(&DataType::UInt64, 4, 0);
        assert!(c.push_u64(u64::MAX).is_ok());
        assert!(c.push_i64(-1).is_err());
        assert_eq!(parse_decimal("-12.5", 2), Some(-1250));
        assert_eq!(parse_decimal("3", 2), Some(300));
        assert_eq!(parse_decimal("1.230", 2), Some(123));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("x", 2), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
