//! The sample dataset served as the `demo` connector when no config file is
//! given. It is compiled into the binary and written to the state directory
//! at start, so the gateway needs nothing else to give real answers.

use std::path::{Path, PathBuf};

/// The files, by path relative to the dataset's folder.
const FILES: &[(&str, &[u8])] = &[
    ("customers.csv", include_bytes!("../demo/customers.csv")),
    ("products.jsonl", include_bytes!("../demo/products.jsonl")),
    ("orders.parquet", include_bytes!("../demo/orders.parquet")),
    ("order_items/part-0.parquet", include_bytes!("../demo/order_items/part-0.parquet")),
    ("order_items/part-1.parquet", include_bytes!("../demo/order_items/part-1.parquet")),
    ("reviews.avro", include_bytes!("../demo/reviews.avro")),
];

/// The name the demo connector is served under.
pub const DEMO_CONNECTOR: &str = "demo";

/// Writes the dataset under `state_dir/demo`, rewriting any file that differs,
/// and returns the folder.
///
/// # Errors
/// The I/O error, naming the file.
pub fn materialize(state_dir: &Path) -> Result<PathBuf, String> {
    let root = state_dir.join("demo");
    for (rel, bytes) in FILES {
        let path = root.join(rel);
        if std::fs::read(&path).is_ok_and(|existing| existing == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    Ok(root)
}

/// The demo connector's config over `root`.
pub fn config(root: &Path) -> serde_json::Value {
    serde_json::json!({
        "path": root.display().to_string(),
        "description": "A small sample shop: customers (CSV), products (JSON lines), orders and order_items (Parquet), reviews (Avro)."
    })
}
