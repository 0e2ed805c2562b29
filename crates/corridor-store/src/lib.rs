//! The Corridor workspace: where submitted records live.
//!
//! A workspace is a folder (see ARCHITECTURE.md for its layout): Parquet
//! datasets per record type, partitioned by source and submission; a SQLite
//! catalog of sources and submissions; a quarantine folder; and the
//! per-workspace secret that keys pseudonyms. A submission is written to
//! staging and becomes visible in one catalog transaction, so a crash at any
//! moment leaves either the whole submission or nothing. SQL runs over the
//! current submissions with Apache DataFusion.
//!
//! The API: [`Workspace`] (`init`, `open`, `submit`, `status`, `sql`) with
//! its [`Outcome`], [`SubmissionInfo`] and [`SourceStatus`]; query limits
//! ([`QueryLimits`]) and result formats ([`OutputFormat`]); the privacy
//! ledger (`charge_privacy_loss`, `set_privacy_budget`: [`Charge`],
//! [`Budget`], [`LedgerEntry`]); sources' registered mappings and uploads
//! (`register_mapping`, `new_upload`: [`RegisteredMapping`], [`Upload`]);
//! errors are [`StoreError`].

mod catalog;
mod ledger;
mod output;
mod private;
mod query;
mod sources;
mod staging;
mod submit;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use corridor_ingest::{Pseudonymiser, Report};
use corridor_model::RecordType;

pub use catalog::{SourceStatus, SubmissionInfo};
pub use ledger::{Budget, Charge, LedgerEntry};
pub use output::{OutputFormat, write_results, write_results_file};
pub use query::{QueryLimits, default_memory_limit, parse_size};
pub use sources::{RegisteredMapping, Upload, upload_file_name};
pub use submit::sha256_file;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Workspace(String),
    #[error("catalog {}: {source}", path.display())]
    Catalog {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Ingest(#[from] corridor_ingest::IngestError),
    #[error("SQL: {0}")]
    Sql(String),
    #[error(
        "SQL: `corridor sql` only reads: {0}. Queries may not create, change or write anything \
         (no CREATE, INSERT, COPY, SET…); to save results, use --format and --out"
    )]
    ReadOnly(String),
    #[error(
        "catalog {}: {why}. Corridor will not recreate it: an empty catalog would hide every stored \
         submission. Restore catalog.sqlite from a backup, as docs/recovery.md describes.",
        path.display()
    )]
    CatalogDamaged { path: PathBuf, why: String },
    #[error(transparent)]
    Secret(#[from] corridor_ingest::secret::SecretError),
    #[error("{0}")]
    Budget(String),
    #[error(
        "no privacy budget is set for `{dataset}`, so no differentially private output of it may be made; \
         the publisher sets one with `corridor budget --workspace WS --dataset {dataset} --set RHO`"
    )]
    NoBudget { dataset: String },
    #[error(
        "refused before any noise was drawn: `{dataset}` has a budget of ρ = {budget}, {spent} is spent, \
         and this output asks for {rho}; lower the output's ρ, or have the publisher raise the budget \
         (`corridor budget --set`)"
    )]
    OverBudget {
        dataset: String,
        rho: f64,
        spent: f64,
        budget: f64,
    },
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open workspace.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
}

/// What a submission did.
// One per submission: the size of the report does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Stored: the new submission and its report.
    Committed {
        submission: SubmissionInfo,
        report: Report,
        superseded: Vec<String>,
    },
    /// The same file was already ingested with the same mapping: nothing done.
    AlreadyIngested { submission: SubmissionInfo },
}

impl Outcome {
    /// The outcome as `corridor ingest --json` and the HTTP upload give
    /// it: the submission, its intake report and what it superseded, or
    /// the submission that already holds the file.
    pub fn summary(&self) -> serde_json::Value {
        match self {
            Outcome::Committed {
                submission,
                report,
                superseded,
            } => serde_json::json!({
                "submission": submission, "report": report, "superseded": superseded
            }),
            Outcome::AlreadyIngested { submission } => {
                serde_json::json!({ "already_ingested": submission })
            }
        }
    }
}

const CONFIG: &str = "corridor.toml";
const SECRET: &str = "secret.key";
const SIGNING_KEY: &str = "signing.key";
const DERIVED: &str = "derived";
const CATALOG: &str = "catalog.sqlite";
/// Marks a workspace `corridor demo` made, and so may replace.
const DEMO_MARKER: &str = ".corridor-demo";

impl Workspace {
    /// Creates a workspace in `dir` (which may exist but must not hold one).
    pub fn init(dir: &Path) -> Result<Workspace, StoreError> {
        if dir.join(CONFIG).exists() {
            return Err(StoreError::Workspace(format!(
                "{} is already a Corridor workspace",
                dir.display()
            )));
        }
        // The workspace's own folder is private too: derived datasets and
        // linkage results written below it hold record-level data.
        private::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        for sub in ["data", "quarantine", "reports", "staging"] {
            private::create_dir_all(&dir.join(sub)).map_err(io(dir))?;
        }
        corridor_ingest::secret::create(&dir.join(SECRET))?;
        catalog::Catalog::create(&dir.join(CATALOG))?;
        let config = format!(
            "# Corridor workspace. The secret in {SECRET} keys every pseudonym: keep it, back it up\n\
             # separately, and never share it; without it, new submissions will not link to old ones.\n\
             format = 1\ncreated = \"{}\"\n",
            now()
        );
        fs::write(dir.join(CONFIG), config).map_err(io(dir))?;
        Ok(Workspace {
            root: dir.to_path_buf(),
        })
    }

    /// Creates the demo's workspace in `dir`, replacing one only if the
    /// demo made it (its marker file is there) or `force` is set: a real
    /// workspace that happens to sit where the demo writes is never
    /// deleted by accident.
    pub fn init_demo(dir: &Path, force: bool) -> Result<Workspace, StoreError> {
        if dir.join(CONFIG).exists() {
            if !dir.join(DEMO_MARKER).is_file() && !force {
                return Err(StoreError::Workspace(format!(
                    "{} holds a Corridor workspace the demo did not make; not replacing it. \
                     Build the demo elsewhere (`corridor demo --dir ANOTHER_DIR`) or, if that \
                     workspace may go, pass --force",
                    dir.display()
                )));
            }
            fs::remove_dir_all(dir).map_err(io(dir))?;
        }
        let ws = Workspace::init(dir)?;
        let marker = dir.join(DEMO_MARKER);
        fs::write(
            &marker,
            "Made by `corridor demo`, which may delete and rebuild this workspace.\n",
        )
        .map_err(io(&marker))?;
        Ok(ws)
    }

    /// Opens an existing workspace.
    pub fn open(dir: &Path) -> Result<Workspace, StoreError> {
        if !dir.join(CONFIG).is_file() {
            return Err(StoreError::Workspace(format!(
                "{} is not a Corridor workspace (no {CONFIG}); create one with `corridor init {}`",
                dir.display(),
                dir.display()
            )));
        }
        Ok(Workspace {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pseudonymiser(&self) -> Result<Pseudonymiser, StoreError> {
        let path = self.root.join(SECRET);
        let secret =
            corridor_ingest::secret::read(&path, corridor_ingest::secret::SecretKind::Workspace)?;
        Ok(Pseudonymiser::new(secret.material))
    }

    /// The pseudonym ingest gives an identifier of `field` (e.g. `case_key`
    /// of a case number and its organisation): lets a truth file or an
    /// organisation's own list be matched to stored keys inside the trust
    /// boundary. The parts are normalised as at intake.
    pub fn pseudonym(
        &self,
        field: &str,
        identifiers: &[&str],
        with: &[&str],
    ) -> Result<String, StoreError> {
        let mut parts: Vec<String> = identifiers
            .iter()
            .map(|p| corridor_ingest::pseudonym::normalise_identifier(p))
            .collect();
        parts.extend(with.iter().map(|w| w.to_string()));
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(self.pseudonymiser()?.pseudonym(field, &refs))
    }

    /// Charges a privacy loss to its dataset's budget, before the
    /// mechanism draws any noise: refused when no budget is set or when the
    /// charge would pass it. Returns the budget after the charge and the
    /// charge's ledger number (for [`Workspace::privacy_charge_detail`]).
    pub fn charge_privacy_loss(&self, charge: &Charge) -> Result<(Budget, i64), StoreError> {
        self.catalog()?.charge(charge)
    }

    /// Records what a mechanism reported once it ran (its measurements) on
    /// the ledger line it was charged under.
    pub fn privacy_charge_detail(&self, seq: i64, detail_json: &str) -> Result<(), StoreError> {
        self.catalog()?.charge_detail(seq, detail_json)
    }

    /// Sets a dataset's budget (ρ). A budget below what is already spent
    /// is allowed and leaves nothing to spend.
    pub fn set_privacy_budget(&self, dataset: &str, rho: f64) -> Result<Budget, StoreError> {
        self.catalog()?.set_budget(dataset, rho)
    }

    /// The 32-byte ed25519 seed that signs this workspace's releases
    /// (`WS/signing.key`, mode 0600), made on first use.
    pub fn signing_seed(&self) -> Result<[u8; 32], StoreError> {
        use corridor_ingest::secret::{self, SecretKind};
        let path = self.root.join(SIGNING_KEY);
        if !path.exists() {
            secret::create(&path)?;
        }
        let s = secret::read(&path, SecretKind::Signing)?;
        s.material.as_slice().try_into().map_err(|_| {
            StoreError::Workspace(format!(
                "{}: a signing key is 32 bytes (64 hex digits); this one has {}",
                path.display(),
                s.material.len()
            ))
        })
    }

    /// One dataset's budget and spending.
    pub fn privacy_budget(&self, dataset: &str) -> Result<Budget, StoreError> {
        self.catalog()?.budget(dataset)
    }

    /// Every dataset with a budget or a charge.
    pub fn privacy_budgets(&self) -> Result<Vec<Budget>, StoreError> {
        self.catalog()?.budgets()
    }

    /// The ledger's lines, of one dataset or all.
    pub fn privacy_ledger(&self, dataset: Option<&str>) -> Result<Vec<LedgerEntry>, StoreError> {
        self.catalog()?.ledger(dataset)
    }

    fn catalog(&self) -> Result<catalog::Catalog, StoreError> {
        catalog::Catalog::open(&self.root.join(CATALOG))
    }

    /// Holds the workspace's writer lock while alive.
    fn lock(&self) -> Result<File, StoreError> {
        let path = self.root.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.lock().map_err(io(&path))?;
        Ok(f)
    }

    /// Removes what interrupted submissions left: staging folders, and data
    /// or quarantine files no catalog entry points to. Called under the lock.
    fn recover(&self, catalog: &catalog::Catalog) -> Result<(), StoreError> {
        let staging = self.root.join("staging");
        if let Ok(entries) = fs::read_dir(&staging) {
            for e in entries.flatten() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let known = catalog.all_submission_ids()?;
        let data = self.root.join("data");
        for type_dir in fs::read_dir(&data).into_iter().flatten().flatten() {
            for source_dir in fs::read_dir(type_dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                for sub in fs::read_dir(source_dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = sub.file_name().to_string_lossy().into_owned();
                    let id = name.trim_start_matches("submission=");
                    if !known.iter().any(|k| k == id) {
                        let _ = fs::remove_dir_all(sub.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// Sources with their current row counts, and every submission.
    pub fn status(&self) -> Result<(Vec<SourceStatus>, Vec<SubmissionInfo>), StoreError> {
        let catalog = self.catalog()?;
        Ok((catalog.sources()?, catalog.submissions()?))
    }

    /// Runs SQL over the current submissions; one table per record type,
    /// one per derived dataset, and `countries` (ISO 3166-1 with M49
    /// regions).
    pub fn sql(&self, query: &str) -> Result<Vec<arrow::record_batch::RecordBatch>, StoreError> {
        self.sql_with(query, &QueryLimits::default())
    }

    /// [`Workspace::sql`] under explicit limits. Only queries run: DDL,
    /// DML, `COPY` and statements are refused before anything executes.
    pub fn sql_with(
        &self,
        query: &str,
        limits: &QueryLimits,
    ) -> Result<Vec<arrow::record_batch::RecordBatch>, StoreError> {
        let catalog = self.catalog()?;
        query::run(&self.root, &catalog, query, limits)
    }

    /// The Parquet files of every current submission of a record type.
    pub fn data_files(&self, record_type: RecordType) -> Result<Vec<PathBuf>, StoreError> {
        let catalog = self.catalog()?;
        Ok(catalog
            .current(record_type.name())?
            .iter()
            .flat_map(|s| query::parquet_files(&self.root.join(&s.data_path)))
            .map(PathBuf::from)
            .collect())
    }

    /// Where derived datasets live: one folder of Parquet files per
    /// dataset (`derived/stays/…`), queryable by name.
    pub fn derived_dir(&self) -> PathBuf {
        self.root.join(DERIVED)
    }

    /// A fresh, empty folder to build the next set of derived datasets in.
    pub fn derived_staging(&self) -> Result<PathBuf, StoreError> {
        // Not under staging/: an ingest's recovery empties that folder.
        let dir = self.root.join("derived.next");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        private::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }

    /// Replaces the derived datasets with those built in `staged` (from
    /// [`Workspace::derived_staging`]), under the writer lock: readers see
    /// the old set or the new one, never half of each. Files in the old
    /// folder whose names start with `history` are carried over, so that
    /// revision records accumulate across runs.
    pub fn replace_derived(&self, staged: &Path) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let current = self.derived_dir();
        if current.is_dir() {
            for e in fs::read_dir(&current).map_err(io(&current))?.flatten() {
                let name = e.file_name();
                let target = staged.join(&name);
                if name.to_string_lossy().starts_with("history") && !target.exists() {
                    fs::rename(e.path(), &target).map_err(io(&target))?;
                }
            }
        }
        let old = self.root.join("derived.old");
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        if current.exists() {
            fs::rename(&current, &old).map_err(io(&current))?;
        }
        fs::rename(staged, &current).map_err(io(&current))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
