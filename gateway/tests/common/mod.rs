//! Shared by the end-to-end tests: a real gateway on 127.0.0.1:0, clients
//! for it, and answers computed straight from the demo files.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use arrow::record_batch::RecordBatch;
use dmesh_gateway::RunningGateway;
use dmesh_gateway::config::GatewayConfig;
use tonic::transport::Channel;

/// Starts a gateway serving the demo connector, with its state in `state_dir`.
pub async fn start(state_dir: &Path, ticket_ttl: Duration) -> RunningGateway {
    dmesh_testkit::capture_logs();
    let mut config = GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.server.state_dir = Some(state_dir.to_owned());
    config.server.ticket_ttl = ticket_ttl;
    config.server.shutdown_grace = Duration::from_secs(2);
    dmesh_gateway::start(config, true).await.expect("gateway starts")
}

/// A channel to a running gateway.
pub async fn channel(gw: &RunningGateway) -> Channel {
    dmesh_testkit::capture_logs();
    Channel::from_shared(format!("http://{}", gw.local_addr()))
        .expect("uri")
        .connect()
        .await
        .expect("connects")
}

/// The demo dataset as shipped in the repository.
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("open parquet");
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

/// Revenue and distinct orders per country, computed from the files with
/// plain Rust (no SQL engine): the oracle for the join-and-aggregate query.
pub fn revenue_by_country() -> BTreeMap<String, (usize, f64)> {
    let dir = demo_dir();
    let csv = std::fs::read_to_string(dir.join("customers.csv")).expect("customers.csv");
    let mut country_of: BTreeMap<i64, String> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        country_of.insert(cols[0].parse().expect("id"), cols[3].to_owned());
    }
    let mut customer_of: BTreeMap<i64, i64> = BTreeMap::new();
    for b in read_parquet(&dir.join("orders.parquet")) {
        let ids = b.column(0).as_primitive::<Int64Type>();
        let custs = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            customer_of.insert(ids.value(i), custs.value(i));
        }
    }
    let mut out: BTreeMap<String, (std::collections::BTreeSet<i64>, f64)> = BTreeMap::new();
    for part in ["part-0.parquet", "part-1.parquet"] {
        for b in read_parquet(&dir.join("order_items").join(part)) {
            let order = b.column(0).as_primitive::<Int64Type>();
            let qty = b.column(3).as_primitive::<Int32Type>();
            let price = b.column(4).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                let country = &country_of[&customer_of[&order.value(i)]];
                let e = out.entry(country.clone()).or_default();
                e.0.insert(order.value(i));
                e.1 += f64::from(qty.value(i)) * price.value(i);
            }
        }
    }
    out.into_iter().map(|(k, (orders, rev))| (k, (orders.len(), rev))).collect()
}

/// Rows in the order_items folder table.
pub fn order_item_rows() -> usize {
    ["part-0.parquet", "part-1.parquet"]
        .iter()
        .flat_map(|p| read_parquet(&demo_dir().join("order_items").join(p)))
        .map(|b| b.num_rows())
        .sum()
}

/// The strings of a column across batches.
pub fn strings(batches: &[RecordBatch], col: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let a = arrow::compute::cast(b.column(col), &arrow::datatypes::DataType::Utf8).expect("cast");
            let s = a.as_string::<i32>().clone();
            (0..s.len()).map(move |i| s.value(i).to_owned()).collect::<Vec<_>>()
        })
        .collect()
}
