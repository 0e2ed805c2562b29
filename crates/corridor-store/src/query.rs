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
