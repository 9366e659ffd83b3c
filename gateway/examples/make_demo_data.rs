//! Writes the sample dataset the gateway serves as its `demo` connector.
//!
//! ```text
//! cargo run -p dmesh-gateway --example make_demo_data -- gateway/demo
//! ```
//!
//! A small shop, deterministic (a fixed-seed generator), in four formats:
//! `customers.csv`, `products.jsonl`, `orders.parquet`, `order_items/`
//! (two Parquet files: one table) and `reviews.avro`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

/// splitmix64: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia", "Tim",
    "Sophie", "Linus", "Katherine", "John", "Hedy", "Niklaus", "Anita", "Leslie",
];
const LAST: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie",
    "Perlman", "Berners-Lee", "Wilson", "Torvalds", "Johnson", "Backus", "Lamarr", "Wirth", "Borg", "Lamport",
];
const COUNTRIES: &[&str] = &["DE", "FR", "GB", "US", "JP", "BR", "IN", "NL", "SE", "ES"];
const CATEGORIES: &[&str] = &["books", "games", "garden", "kitchen", "music", "outdoor", "toys", "tools"];
const ADJECTIVES: &[&str] = &["Red", "Small", "Quiet", "Rapid", "Golden", "Sturdy", "Tiny", "Grand", "Clever", "Soft"];
const NOUNS: &[&str] = &["Lamp", "Kettle", "Puzzle", "Shovel", "Novel", "Drum", "Tent", "Robot", "Hammer", "Chair", "Atlas", "Kite"];
const STATUSES: &[&str] = &["delivered", "delivered", "delivered", "shipped", "processing", "cancelled", "returned"];
const COMMENTS: &[&str] = &[
    "Exactly as described.",
    "Arrived late, works fine.",
    "Would buy again!",
    "Not what I expected.",
    "Great value for money.",
    "Broke after a week.",
    "My kids love it.",
    "Solid build quality.",
];

/// One order line: order id, line number, product id, quantity, unit price.
type ItemRow = (i64, i32, i64, i32, f64);

const CUSTOMERS: usize = 1_000;
const PRODUCTS: usize = 120;
const ORDERS: usize = 5_000;
const REVIEWS: usize = 2_000;
/// 2023-01-01 as days since the epoch.
const START_DAY: i32 = 19_358;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out: PathBuf = std::env::args().nth(1).unwrap_or_else(|| "gateway/demo".into()).into();
    std::fs::create_dir_all(out.join("order_items"))?;
    let mut rng = Rng(0x00D3_5EED);

    // customers.csv
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut emails = Vec::new();
    let mut countries = Vec::new();
    let mut signups = Vec::new();
    for i in 0..CUSTOMERS {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        ids.push(i as i64 + 1);
        names.push(format!("{first} {last}"));
        emails.push(format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i + 1));
        countries.push(rng.pick(COUNTRIES));
        signups.push(START_DAY - 365 + rng.below(700) as i32);
    }
    let customers = batch(vec![
        ("customer_id", Arc::new(Int64Array::from(ids)) as ArrayRef, false),
        ("name", Arc::new(StringArray::from(names)), false),
        ("email", Arc::new(StringArray::from(emails)), false),
        ("country", Arc::new(StringArray::from(countries)), false),
        ("signup_date", Arc::new(Date32Array::from(signups.clone())), false),
    ])?;
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(File::create(out.join("customers.csv"))?);
    w.write(&customers)?;

    // products.jsonl
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut cats = Vec::new();
    let mut prices = Vec::new();
    let mut stock = Vec::new();
    for i in 0..PRODUCTS {
        ids.push(i as i64 + 1);
        names.push(format!("{} {}", rng.pick(ADJECTIVES), rng.pick(NOUNS)));
        cats.push(rng.pick(CATEGORIES));
        prices.push((199 + rng.below(19_800)) as f64 / 100.0);
        stock.push(rng.below(10) != 0);
    }
    let price_of = prices.clone();
    let products = batch(vec![
        ("product_id", Arc::new(Int64Array::from(ids)) as ArrayRef, false),
        ("name", Arc::new(StringArray::from(names)), false),
        ("category", Arc::new(StringArray::from(cats)), false),
        ("price", Arc::new(Float64Array::from(prices)), false),
        ("in_stock", Arc::new(BooleanArray::from(stock)), false),
    ])?;
    let mut w = arrow::json::LineDelimitedWriter::new(File::create(out.join("products.jsonl"))?);
    w.write(&products)?;
    w.finish()?;

    // orders.parquet and order_items/
    let mut order_ids = Vec::new();
    let mut order_customers = Vec::new();
    let mut order_dates = Vec::new();
    let mut statuses = Vec::new();
    let mut items: [Vec<ItemRow>; 2] = [Vec::new(), Vec::new()];
    for i in 0..ORDERS {
        let order_id = i as i64 + 1;
        let customer = rng.below(CUSTOMERS as u64) as i64 + 1;
        let day = START_DAY + rng.below(730) as i32;
        order_ids.push(order_id);
        order_customers.push(customer);
        order_dates.push(day);
        statuses.push(rng.pick(STATUSES));
        let lines = 1 + rng.below(5) as i32;
        let part = usize::from(day >= START_DAY + 365);
        for line in 1..=lines {
            let product = rng.below(PRODUCTS as u64) as usize;
            let qty = 1 + rng.below(4) as i32;
            items[part].push((order_id, line, product as i64 + 1, qty, price_of[product]));
        }
    }
    let orders = batch(vec![
        ("order_id", Arc::new(Int64Array::from(order_ids)) as ArrayRef, false),
        ("customer_id", Arc::new(Int64Array::from(order_customers)), false),
        ("order_date", Arc::new(Date32Array::from(order_dates)), false),
        ("status", Arc::new(StringArray::from(statuses)), false),
    ])?;
    write_parquet(&out.join("orders.parquet"), &orders)?;
    for (part, rows) in items.iter().enumerate() {
        let b = batch(vec![
            ("order_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef, false),
            ("line", Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.1))), false),
            ("product_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))), false),
            ("quantity", Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.3))), false),
            ("unit_price", Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.4))), false),
        ])?;
        write_parquet(&out.join(format!("order_items/part-{part}.parquet")), &b)?;
    }

    // reviews.avro
    let mut ids = Vec::new();
    let mut prods = Vec::new();
    let mut custs = Vec::new();
    let mut ratings = Vec::new();
    let mut comments = Vec::new();
    for i in 0..REVIEWS {
        ids.push(i as i64 + 1);
        prods.push(rng.below(PRODUCTS as u64) as i64 + 1);
        custs.push(rng.below(CUSTOMERS as u64) as i64 + 1);
        ratings.push(1 + rng.below(5) as i32);
        comments.push(if rng.below(4) == 0 { None } else { Some(rng.pick(COMMENTS)) });
    }
    let reviews = batch(vec![
        ("review_id", Arc::new(Int64Array::from(ids)) as ArrayRef, false),
        ("product_id", Arc::new(Int64Array::from(prods)), false),
        ("customer_id", Arc::new(Int64Array::from(custs)), false),
        ("rating", Arc::new(Int32Array::from(ratings)), false),
        ("comment", Arc::new(StringArray::from(comments)), true),
    ])?;
    let mut w = arrow_avro::writer::AvroWriter::new(File::create(out.join("reviews.avro"))?, reviews.schema().as_ref().clone())?;
    w.write(&reviews)?;
    w.finish()?;

    println!("wrote the demo dataset to {}", out.display());
    Ok(())
}

fn batch(cols: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch, arrow::error::ArrowError> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a, nullable)| Field::new(*n, a.data_type().clone(), *nullable))
        .collect();
    let arrays = cols.into_iter().map(|(_, a, _)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), Box<dyn std::error::Error>> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_created_by("dmesh make_demo_data".into())
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(File::create(path)?, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

