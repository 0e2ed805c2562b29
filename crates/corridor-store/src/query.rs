//! SQL over the workspace with Apache DataFusion: one table per record type
//! (`border_events`, `residence_permits`…), holding every current
//! submission.

use std::path::Path;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use corridor_model::RecordType;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::StoreError;
use crate::catalog::Catalog;

/// How `corridor sql` prints results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

fn parquet_files(dir: &Path) -> Vec<String> {
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

/// A DataFusion session with every record type registered.
pub async fn session(root: &Path, catalog: &Catalog) -> Result<SessionContext, StoreError> {
    let ctx = SessionContext::new();
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
    Ok(ctx)
}

pub fn run(root: &Path, catalog: &Catalog, query: &str) -> Result<Vec<RecordBatch>, StoreError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Sql(format!("cannot start the query engine: {e}")))?;
    runtime.block_on(async {
        let ctx = session(root, catalog).await?;
        let df = ctx
            .sql(query)
            .await
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        df.collect()
            .await
            .map_err(|e| StoreError::Sql(e.to_string()))
    })
}
