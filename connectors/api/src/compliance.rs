//! The connector compliance checks: what every connector of the Query (and
//! Catalog) family must do the same way, run against a real instance.
//!
//! A connector's own tests create the fixture table in its source, in the
//! source's dialect:
//!
//! ```text
//! compliance_items (id 64-bit integer primary key, name text, amount double)
//!   (1, 'alpha', 1.5), (2, 'beta', NULL), (3, NULL, -2.25)
//! ```
//!
//! and call [`check_query_connector`] (and [`check_catalog_connector`] when
//! it serves the Catalog family). A check that fails panics with what was
//! expected, so the checks run inside any test harness. Enabled by the
//! `compliance` feature, for connectors' dev-dependencies.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use futures::StreamExt;

use crate::{AccessMode, Connector, ErrorKind, Limits, QueryRequest, TableFilter, TableRef};

/// The fixture table's name.
pub const TABLE: &str = "compliance_items";

/// Where the fixture lives and how the source writes two statements.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The schema holding the fixture table, as the connector lists it.
    pub schema: String,
    /// A statement that would delete the fixture's rows, in the dialect.
    pub delete: String,
}

async fn run(c: &dyn Connector, request: QueryRequest) -> crate::Result<Vec<RecordBatch>> {
    let q = c.as_query().expect("a Query connector");
    let mut stream = q.execute(request).await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        out.push(batch?);
    }
    Ok(out)
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn as_i64(a: &dyn Array, i: usize) -> i64 {
    let cast = arrow::compute::cast(&a.slice(i, 1), &DataType::Int64).expect("an integer column");
    cast.as_primitive::<arrow::datatypes::Int64Type>().value(0)
}

/// The Query family's checks.
///
/// # Panics
/// When the connector does not behave as the API's contract says.
pub async fn check_query_connector(c: &dyn Connector, fixture: &Fixture) {
    let kind = c.kind().to_owned();
    assert!(!kind.is_empty(), "a connector names its kind");
    let q = c.as_query().unwrap_or_else(|| panic!("{kind}: serves the Query family"));

    // Listings: the fixture is there, in name order, and a schema filter holds.
    let all = q.list_tables(&TableFilter::default()).await.expect("list_tables");
    let found = all
        .iter()
        .find(|t| t.table.name == TABLE)
        .unwrap_or_else(|| panic!("{kind}: list_tables shows {TABLE}"));
    assert_eq!(found.table.schema.as_deref(), Some(fixture.schema.as_str()), "{kind}: the fixture's schema");
    let in_schema = q
        .list_tables(&TableFilter {
            schema: Some(fixture.schema.clone()),
        })
        .await
        .expect("list_tables by schema");
    assert!(in_schema.iter().all(|t| t.table.schema.as_deref() == Some(fixture.schema.as_str())), "{kind}: filter");
    let names: Vec<&str> = in_schema.iter().map(|t| t.table.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "{kind}: tables in name order");
    let none = q
        .list_tables(&TableFilter {
            schema: Some("dmesh_no_such_schema".into()),
        })
        .await
        .expect("an unknown schema lists nothing");
    assert!(none.is_empty(), "{kind}: an unknown schema lists nothing");

    // Schemas: the table's, and the same from plan and from execute.
    let table = TableRef {
        catalog: None,
        schema: Some(fixture.schema.clone()),
        name: TABLE.into(),
    };
    let described = q.get_schema(&table).await.expect("get_schema");
    let columns: Vec<&str> = described.schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(columns, ["id", "name", "amount"], "{kind}: get_schema's columns");
    assert_eq!(described.columns.len(), 3, "{kind}: column details");
    assert_eq!(described.schema.field(1).data_type(), &DataType::Utf8, "{kind}: text is Utf8");
    assert_eq!(described.schema.field(2).data_type(), &DataType::Float64, "{kind}: double is Float64");
    let missing = q
        .get_schema(&TableRef {
            name: "dmesh_no_such_table".into(),
            ..table.clone()
        })
        .await
        .expect_err("an unknown table");
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{kind}: {missing}");
    assert_eq!(missing.reason(), "TABLE_NOT_FOUND", "{kind}: {missing}");

    let select = format!("SELECT id, name, amount FROM {}.{TABLE} ORDER BY id", fixture.schema);
    let planned = q.plan(&QueryRequest::read_only(&select)).await.expect("plan");
    let batches = run(c, QueryRequest::read_only(&select)).await.expect("execute");
    let schema = batches.first().map(RecordBatch::schema).expect("at least one batch");
    let types = |s: &arrow::datatypes::Schema| s.fields().iter().map(|f| f.data_type().clone()).collect::<Vec<_>>();
    assert_eq!(types(&planned), types(&schema), "{kind}: plan and execute agree on types");

    // Values, NULLs included.
    let all = arrow::compute::concat_batches(&schema, &batches).expect("concat");
    assert_eq!(all.num_rows(), 3, "{kind}: three rows");
    assert_eq!((0..3).map(|i| as_i64(all.column(0).as_ref(), i)).collect::<Vec<_>>(), [1, 2, 3], "{kind}: ids");
    let names = all.column(1).as_string::<i32>();
    assert_eq!(names.value(0), "alpha", "{kind}: text");
    assert!(names.is_null(2), "{kind}: a NULL text");
    let amounts = all.column(2).as_primitive::<Float64Type>();
    assert_eq!((amounts.value(0), amounts.value(2)), (1.5, -2.25), "{kind}: doubles");
    assert!(amounts.is_null(1), "{kind}: a NULL double");

    // An empty result still has its schema.
    let empty = run(c, QueryRequest::read_only(format!("{} WHERE 1 = 0", select.replace(" ORDER BY id", ""))))
        .await
        .expect("an empty result");
    assert_eq!(rows(&empty), 0, "{kind}: no rows");
    assert!(empty.iter().all(|b| b.num_columns() == 3), "{kind}: an empty result keeps its columns");

    // Refusals: bad SQL, two statements, a write in a read-only request.
    let bad = run(c, QueryRequest::read_only(format!("SELECT nope FROM {}.{TABLE}", fixture.schema)))
        .await
        .expect_err("an unknown column");
    assert_eq!(bad.kind(), ErrorKind::InvalidArgument, "{kind}: {bad}");
    assert!(bad.message().contains("nope"), "{kind}: the source's message names the column: {bad}");
    let two = run(c, QueryRequest::read_only("SELECT 1; SELECT 2")).await.expect_err("two statements");
    assert_eq!(two.kind(), ErrorKind::InvalidArgument, "{kind}: {two}");
    let write = run(c, QueryRequest::read_only(&fixture.delete)).await.expect_err("a write");
    assert_eq!(write.kind(), ErrorKind::PermissionDenied, "{kind}: {write}");
    assert_eq!(write.reason(), "READ_ONLY", "{kind}: {write}");
    let as_writer = run(
        c,
        QueryRequest {
            sql: fixture.delete.clone(),
            access: AccessMode::ReadWrite,
            ..Default::default()
        },
    )
    .await
    .expect_err("a write on a connector that does not allow writes");
    assert_eq!(as_writer.kind(), ErrorKind::PermissionDenied, "{kind}: {as_writer}");
    let after = run(c, QueryRequest::read_only(&select)).await.expect("still there");
    assert_eq!(rows(&after), 3, "{kind}: the refused writes changed nothing");

    // A consumer that stops early leaves the connector serving.
    let cross = format!(
        "SELECT a.id, b.name FROM {s}.{TABLE} a, {s}.{TABLE} b, {s}.{TABLE} c, {s}.{TABLE} d",
        s = fixture.schema
    );
    for _ in 0..3 {
        let stream = q.execute(QueryRequest::read_only(&cross)).await.expect("starts");
        drop(stream);
    }
    let limited = QueryRequest {
        limits: Limits {
            timeout: Some(std::time::Duration::from_secs(30)),
            ..Default::default()
        },
        ..QueryRequest::read_only(&cross)
    };
    assert_eq!(rows(&run(c, limited).await.expect("serves")), 81, "{kind}: serving after abandoned reads");

    // Health and pool figures.
    let report = c.health_check().await;
    assert!(!report.checks.is_empty(), "{kind}: health checks");
    assert!(report.checks.iter().all(|c| c.ok), "{kind}: healthy: {:?}", report.checks);
    if let Some(pool) = c.pool_stats() {
        assert!(pool.open <= pool.max && pool.in_use <= pool.open, "{kind}: {pool:?}");
    }
}

/// The Catalog family's checks, on the fixture.
///
/// # Panics
/// When the connector does not behave as the API's contract says.
pub async fn check_catalog_connector(c: &dyn Connector, fixture: &Fixture) {
    let kind = c.kind().to_owned();
    let cat = c.as_catalog().unwrap_or_else(|| panic!("{kind}: serves the Catalog family"));
    let schemas = cat.list_schemas(None).await.expect("list_schemas");
    assert!(schemas.iter().any(|s| s.name == fixture.schema), "{kind}: the fixture's schema is listed");
    let table = TableRef {
        catalog: None,
        schema: Some(fixture.schema.clone()),
        name: TABLE.into(),
    };
    let meta = cat.get_table_metadata(&table).await.expect("get_table_metadata");
    let columns: Vec<&str> = meta.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["id", "name", "amount"], "{kind}: metadata columns");
    assert_eq!(meta.primary_key, ["id"], "{kind}: the primary key");
    assert_eq!(meta.columns[2].arrow_type, "Float64", "{kind}: Arrow types in metadata");
    assert!(meta.columns.iter().all(|c| c.source_type.is_some()), "{kind}: source types");
    let hits = cat.search_tables("compliance", 10).await.expect("search");
    assert_eq!(hits.first().map(|h| h.table.table.name.as_str()), Some(TABLE), "{kind}: search finds the fixture");
    let by_column = cat.search_tables("amount", 10).await.expect("search by column");
    let hit = by_column.iter().find(|h| h.table.table.name == TABLE).expect("found by a column");
    assert_eq!(hit.matched_columns, ["amount"], "{kind}: the matching column");
    let empty = cat.search_tables("   ", 10).await.expect_err("an empty search");
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument, "{kind}: {empty}");
    let missing = cat
        .get_table_metadata(&TableRef {
            name: "dmesh_no_such_table".into(),
            ..table
        })
        .await
        .expect_err("an unknown table");
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{kind}: {missing}");
}
