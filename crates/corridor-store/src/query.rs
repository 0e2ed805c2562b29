//! SQL over the workspace with Apache DataFusion: one table per record type
//! (`border_events`, `residence_permits`…), holding every current
//! submission.
//!
//! Analysts' SQL is read-only: every plan is checked by DataFusion's own
//! `SQLOptions` (no DDL, no DML, no `COPY`, no statements such as `SET`),
//! URL tables stay off so a query cannot name a file, and a memory pool
//! with a limit makes a runaway query fail instead of taking the machine.

use std::path::Path;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use corridor_model::RecordType;
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SQLOptions, SessionConfig, SessionContext};

use crate::StoreError;
use crate::catalog::Catalog;

/// How many bytes a query may hold in memory, and where it spills.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// The memory pool's size; operators that can spill (sorts, hash
    /// aggregates, joins) do so beyond it, the others fail with an error.
    pub memory_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            memory_bytes: default_memory_limit(),
        }
    }
}

/// Half the machine's memory (4 GiB where it cannot be read): enough for
/// any table Corridor builds, and room left for the rest of the machine.
pub fn default_memory_limit() -> usize {
    physical_memory().map_or(4 << 30, |m| m / 2)
}

fn physical_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a size such as `512M`, `2G`, `2GiB` or `1073741824` (bytes).
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * scale;
    (bytes.is_finite() && bytes >= 1.0 && bytes < usize::MAX as f64).then_some(bytes as usize)
}

pub(crate) fn parquet_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// A DataFusion session with every record type registered, its memory
/// bounded by `limits` and its spill files in the workspace's `tmp/`
/// (private, like the data they come from; not `/tmp`, which may be
/// memory).
pub(crate) async fn session(
    root: &Path,
    catalog: &Catalog,
    limits: &QueryLimits,
) -> Result<SessionContext, StoreError> {
    let tmp = root.join("tmp");
    crate::private::create_dir_all(&tmp).map_err(crate::io(&tmp))?;
    let pool = TrackConsumersPool::new(
        FairSpillPool::new(limits.memory_bytes),
        std::num::NonZeroUsize::new(3).unwrap_or(std::num::NonZeroUsize::MIN),
    );
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_temp_file_path(&tmp)
        .build_arc()
        .map_err(|e| StoreError::Sql(e.to_string()))?;
    // `information_schema` and `SHOW TABLES` let a newcomer list the
    // tables and their columns.
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    for t in RecordType::ALL {
        let files: Vec<String> = catalog
            .current(t.name())?
            .iter()
            .flat_map(|s| parquet_files(&root.join(&s.data_path)))
            .collect();
        let schema = Arc::new(t.stored_schema());
        if files.is_empty() {
            let table = MemTable::try_new(schema, vec![vec![]])
                .map_err(|e| StoreError::Sql(e.to_string()))?;
            ctx.register_table(t.name(), Arc::new(table))
                .map_err(|e| StoreError::Sql(e.to_string()))?;
        } else {
            let opts = ParquetReadOptions::default().schema(&schema);
            let df = ctx
                .read_parquet(files, opts)
                .await
                .map_err(|e| StoreError::Sql(e.to_string()))?;
            ctx.register_table(t.name(), df.into_view())
                .map_err(|e| StoreError::Sql(e.to_string()))?;
        }
    }
    let derived = root.join("derived");
    let mut names: Vec<(String, Vec<String>)> = std::fs::read_dir(&derived)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                parquet_files(&e.path()),
            )
        })
        .filter(|(_, files)| !files.is_empty())
        .collect();
    names.sort();
    for (name, files) in names {
        let df = ctx
            .read_parquet(files, ParquetReadOptions::default())
            .await
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        ctx.register_table(name.as_str(), df.into_view())
            .map_err(|e| StoreError::Sql(e.to_string()))?;
    }
    ctx.register_batch("countries", countries_batch()?)
        .map_err(|e| StoreError::Sql(e.to_string()))?;
    Ok(ctx)
}

/// ISO 3166-1 with M49 regions, so that queries can group by region.
fn countries_batch() -> Result<RecordBatch, StoreError> {
    use arrow::array::{ArrayRef, StringArray};
    let all = corridor_model::Countries::get().all();
    let col = |f: &dyn Fn(&corridor_model::Country) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(all.iter().map(f)))
    };
    RecordBatch::try_from_iter(vec![
        ("alpha3", col(&|c| &c.alpha3)),
        ("alpha2", col(&|c| &c.alpha2)),
        ("numeric", col(&|c| &c.numeric)),
        ("name_en", col(&|c| &c.name_en)),
        ("name_es", col(&|c| &c.name_es)),
        ("name_fr", col(&|c| &c.name_fr)),
        ("m49_region", col(&|c| &c.m49_region)),
        ("m49_subregion", col(&|c| &c.m49_subregion)),
        ("m49_intermediate", col(&|c| &c.m49_intermediate)),
    ])
    .map_err(|e| StoreError::Sql(e.to_string()))
}

/// What analysts may run: queries only. Checked by DataFusion on every
/// plan, subqueries and `EXPLAIN`ed plans included.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

pub(crate) fn run(
    root: &Path,
    catalog: &Catalog,
    query: &str,
    limits: &QueryLimits,
) -> Result<Vec<RecordBatch>, StoreError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Sql(format!("cannot start the query engine: {e}")))?;
    runtime.block_on(async {
        let ctx = session(root, catalog, limits).await?;
        let plan = ctx
            .state()
            .create_logical_plan(query)
            .await
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        read_only().verify_plan(&plan).map_err(|e| {
            StoreError::ReadOnly(
                e.to_string()
                    .trim_start_matches("Error during planning: ")
                    .to_string(),
            )
        })?;
        let df = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        df.collect().await.map_err(|e| query_failed(e, limits))
    })
}

/// A failed query's message: running out of the memory pool says which
/// limit and how to raise it.
fn query_failed(e: datafusion::error::DataFusionError, limits: &QueryLimits) -> StoreError {
    let text = e.to_string();
    if text.contains("Resources exhausted") {
        StoreError::Sql(format!(
            "the query needs more memory than its limit of {} MiB; narrow it (fewer joins, a WHERE, \
             fewer DISTINCTs) or raise the limit with --memory-limit ({text})",
            limits.memory_bytes >> 20
        ))
    } else {
        StoreError::Sql(text)
    }
}
