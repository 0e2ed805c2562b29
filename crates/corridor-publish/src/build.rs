//! Building a release: compute, protect, write to a staging folder,
//! checksum, sign, and move it to its content-addressed name.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use corridor_protect::{DpCharge, Method, PTable, Protected, PublishedTable};
use corridor_store::Workspace;
use serde::Serialize;

use crate::microdata::MicroEntry;
use crate::spec::{BORDER_DATASET, MethodName, PER_100000, ReleaseSpec, TableRequest};
use crate::synthetic::SynthEntry;
use crate::{PublishError, io, note, package, sdmx, sign};

/// A table as a release holds it: its name, title and protected cells.
pub(crate) struct Entry {
    pub name: String,
    pub title: String,
    pub protected: Protected<PublishedTable>,
}

impl Entry {
    pub fn table(&self) -> &PublishedTable {
        self.protected.value()
    }
}

/// How much a table's protection changed it: what the utility report says.
#[derive(Debug, Clone, Serialize)]
pub struct TableUtility {
    pub name: String,
    pub title: String,
    pub method: Method,
    pub cells: usize,
    pub cells_changed: usize,
    pub share_changed: f64,
    /// Over the published cells.
    pub mean_absolute_error: f64,
    /// Cells withheld, and their share of cells and of persons counted in
    /// all cells (the information suppression loses).
    pub cells_suppressed: usize,
    pub share_suppressed: f64,
    pub share_value_suppressed: f64,
    /// |published − true| / true of the grand total (0 when it is 0).
    pub total_relative_error: f64,
}

/// A release built and sealed.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub id: String,
    pub dir: PathBuf,
    pub version: String,
    pub files: usize,
    pub tables: Vec<TableUtility>,
    /// The record-level files: k-anonymised microdata and synthetic data.
    pub records: Vec<RecordsBuilt>,
    /// The public key that verifies the signature, hex.
    pub public_key: String,
}

/// A record-level file of a release, as the build reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordsBuilt {
    pub name: String,
    pub records: usize,
    pub method: Method,
}

/// Builds the release `spec` describes from `ws` into `out/<id>/`.
/// `progress` hears each table's name as it is done.
pub fn build_release(
    ws: &Workspace,
    spec: &ReleaseSpec,
    out: &Path,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Built, PublishError> {
    spec.check().map_err(|why| PublishError::Spec {
        path: "(given)".into(),
        why,
    })?;
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut utility: Vec<Option<TableUtility>> = Vec::new();
    // Suppressed tables are protected together, after the others.
    let mut linked = Vec::new();
    // The counts behind each table published also per 100,000.
    let mut for_rates: std::collections::HashMap<usize, corridor_stats::Table> = Default::default();
    for (i, req) in spec.tables.iter().enumerate() {
        let (tspec, title) = req.table_spec()?;
        let raw = corridor_stats::table(ws, &tspec)?;
        if req.per_100000 {
            for_rates.insert(i, raw.clone());
        }
        let output = format!(
            "release {} ({}), table {}",
            spec.version, spec.title, req.name
        );
        let Some(protected) = protect_alone(ws, req, &raw, &spec.reference_period, &output)? else {
            linked.push((i, title, raw));
            entries.push(None);
            utility.push(None);
            continue;
        };
        utility.push(Some(measure_utility(&req.name, &title, &raw, &protected)));
        entries.push(Some(Entry {
            name: req.name.clone(),
            title,
            protected,
        }));
        progress(&req.name, i + 1, spec.tables.len());
    }
    if !linked.is_empty() {
        let raws: Vec<&corridor_stats::Table> = linked.iter().map(|(_, _, t)| t).collect();
        let names: Vec<&str> = linked
            .iter()
            .map(|(i, _, _)| spec.tables[*i].name.as_str())
            .collect();
        let done = corridor_protect::suppress(&raws, &spec.suppression).map_err(|source| {
            PublishError::Protect {
                table: names.join(", "),
                source,
            }
        })?;
        for ((i, title, raw), (protected, _)) in linked.iter().zip(done) {
            let name = &spec.tables[*i].name;
            utility[*i] = Some(measure_utility(name, title, raw, &protected));
            entries[*i] = Some(Entry {
                name: name.clone(),
                title: title.clone(),
                protected,
            });
            progress(name, *i + 1, spec.tables.len());
        }
    }
    let population = if for_rates.is_empty() {
        None
    } else {
        Some(corridor_cases::workspace_population(ws).ok_or_else(|| PublishError::Spec {
            path: "(given)".into(),
            why: "`per_100000` needs the workspace's population table (record type `population`, by sex and age group): ingest one, or drop `per_100000`".into(),
        })?)
    };
    let mut all_entries = Vec::with_capacity(entries.len());
    let mut all_utility = Vec::with_capacity(utility.len());
    for (i, (e, u)) in entries.into_iter().zip(utility).enumerate() {
        let (Some(e), Some(u)) = (e, u) else { continue };
        let rates = match (for_rates.get(&i), &population) {
            (Some(raw), Some(p)) => Some(rates_of(&e, raw, p)?),
            _ => None,
        };
        all_entries.push(e);
        all_utility.push(u);
        if let Some((entry, utility)) = rates {
            all_entries.push(entry);
            all_utility.push(utility);
        }
    }
    let (entries, utility) = (all_entries, all_utility);
    let mut micro = Vec::with_capacity(spec.microdata.len());
    for (i, req) in spec.microdata.iter().enumerate() {
        micro.push(crate::microdata::build(ws, req)?);
        progress(
            &req.name,
            spec.tables.len() + i + 1,
            spec.tables.len() + spec.microdata.len(),
        );
    }
    let mut synth = Vec::with_capacity(spec.synthetic.len());
    let done = spec.tables.len() + spec.microdata.len();
    let all = done + spec.synthetic.len();
    for (i, req) in spec.synthetic.iter().enumerate() {
        synth.push(crate::synthetic::build(ws, req, out)?);
        progress(&req.name, done + i + 1, all);
    }
    let mut nowcasts = Vec::with_capacity(spec.nowcasts.len());
    for req in &spec.nowcasts {
        nowcasts.push(crate::nowcast::build(ws, req)?);
        progress(&req.name, all, all);
    }
    let seed = ws.signing_seed()?;
    let contents = Contents {
        entries: &entries,
        micro: &micro,
        synth: &synth,
        nowcasts: &nowcasts,
        utility: &utility,
    };
    seal(spec, &contents, &seed, out)
}

/// One table protected by its method, or None for suppression, which
/// protects a release's suppressed tables together.
fn protect_alone(
    ws: &Workspace,
    req: &TableRequest,
    raw: &corridor_stats::Table,
    reference_period: &str,
    output: &str,
) -> Result<Option<Protected<PublishedTable>>, PublishError> {
    let protect_err = |source| PublishError::Protect {
        table: req.name.clone(),
        source,
    };
    Ok(Some(match req.method {
        MethodName::CellKey => {
            let ptable = PTable::new(req.ptable.unwrap_or_default()).map_err(protect_err)?;
            corridor_protect::cell_key_perturb(raw, &ptable).map_err(protect_err)?
        }
        MethodName::Rr3 => corridor_protect::random_round_3(raw).map_err(protect_err)?,
        MethodName::Dp => {
            dp_table(ws, reference_period, req, raw, output).map_err(|e| match e {
                DpFailure::Protect(source) => protect_err(source),
                DpFailure::Domain(why) => PublishError::Spec {
                    path: "(given)".into(),
                    why: format!("[[table]] `{}`: {why}", req.name),
                },
                DpFailure::Ledger(e) => PublishError::Store(e),
            })?
        }
        MethodName::Suppression => return Ok(None),
    }))
}

/// One table on the protected path, outside any release: computed,
/// protected by its method (suppression alone, with `suppression`'s
/// rule), and, for DP, charged to the ledger as `output` before any noise
/// is drawn. Only the protected cells come back: nothing of the raw
/// table, not even how far protection moved it.
pub fn protected_table(
    ws: &Workspace,
    req: &TableRequest,
    reference_period: &str,
    suppression: &corridor_protect::SuppressionParams,
    output: &str,
) -> Result<PublishedTable, PublishError> {
    req.check_alone().map_err(|why| PublishError::Spec {
        path: "(given)".into(),
        why,
    })?;
    let (tspec, _) = req.table_spec()?;
    let raw = corridor_stats::table(ws, &tspec)?;
    if let Some(p) = protect_alone(ws, req, &raw, reference_period, output)? {
        return Ok(p.value().clone());
    }
    let mut done = corridor_protect::suppress(&[&raw], suppression).map_err(|source| {
        PublishError::Protect {
            table: req.name.clone(),
            source,
        }
    })?;
    match done.pop() {
        Some((p, _)) => Ok(p.value().clone()),
        None => Err(PublishError::Spec {
            path: "(given)".into(),
            why: "suppression returned no table".into(),
        }),
    }
}

/// The table `<name>_per_100000` of a protected count table: each count
/// per 100,000 of the population of the cell's sex and age group.
fn rates_of(
    counts: &Entry,
    raw: &corridor_stats::Table,
    population: &corridor_synth::report::Population,
) -> Result<(Entry, TableUtility), PublishError> {
    let at = |d: &str| raw.dims.iter().position(|x| x == d);
    let (sex, age) = (at("sex"), at("age_group"));
    let code = |coords: &[String], i: Option<usize>| {
        i.map_or(corridor_stats::TOTAL, |i| coords[i].as_str())
            .to_string()
    };
    let of = |coords: &[String]| population.of_or_total(&code(coords, sex), &code(coords, age));
    let measure = format!("{}{PER_100000}", raw.measure);
    let note = format!(
        "`{measure}`: per 100,000 of the population of the cell's sex and age group (victims of a sex or age group the population does not have, such as unknown, per 100,000 of all sexes or all ages), whatever the other columns; the population is {}.",
        population.note
    );
    let name = format!("{}{PER_100000}", counts.name);
    let protected = counts
        .protected
        .rates(&measure, 1e5, &of, note)
        .map_err(|source| PublishError::Protect {
            table: name.clone(),
            source,
        })?;
    let mut truth = raw.clone();
    for c in &mut truth.cells {
        c.value = of(&c.coords).map_or(0.0, |p| c.value * 1e5 / p);
    }
    let title = format!("{}, per 100,000 population", counts.title);
    let utility = measure_utility(&name, &title, &truth, &protected);
    Ok((
        Entry {
            name,
            title,
            protected,
        },
        utility,
    ))
}

/// The (ε, δ) a DP table's ρ is stated as: δ = 10⁻⁶.
pub(crate) const REPORTED_DELTA: f64 = 1e-6;

enum DpFailure {
    Protect(corridor_protect::ProtectError),
    Domain(String),
    Ledger(corridor_store::StoreError),
}

/// A DP table, charged to the workspace's ledger before any noise is
/// drawn; the ledger line then records the measurements made.
fn dp_table(
    ws: &Workspace,
    reference_period: &str,
    req: &TableRequest,
    raw: &corridor_stats::Table,
    output: &str,
) -> Result<Protected<PublishedTable>, DpFailure> {
    let domains = crate::domain::domains(&raw.dims, reference_period, &req.domain)
        .map_err(DpFailure::Domain)?;
    let dataset = req.dataset.as_deref().unwrap_or(BORDER_DATASET);
    let mut ledger_error = None;
    let protected = corridor_protect::dp_table(
        raw,
        &domains,
        req.rho.unwrap_or_default(),
        &mut |c: &DpCharge| {
            let detail = serde_json::to_string(c).unwrap_or_default();
            let charge = corridor_store::Charge {
                dataset,
                output,
                mechanism: corridor_protect::DP_MECHANISM,
                rho: c.rho,
                epsilon: corridor_synth::dp::epsilon_of(c.rho, REPORTED_DELTA),
                delta: REPORTED_DELTA,
                detail_json: &detail,
            };
            match ws.charge_privacy_loss(&charge) {
                Ok(_) => Ok(()),
                Err(e) => {
                    let why = e.to_string();
                    ledger_error = Some(e);
                    Err(why)
                }
            }
        },
    );
    match (protected, ledger_error) {
        (Ok(p), _) => Ok(p),
        (Err(_), Some(e)) => Err(DpFailure::Ledger(e)),
        (Err(e), None) => Err(DpFailure::Protect(e)),
    }
}

fn measure_utility(
    name: &str,
    title: &str,
    raw: &corridor_stats::Table,
    protected: &Protected<PublishedTable>,
) -> TableUtility {
    // A DP table covers its whole domain: a cell the data lack is a true 0.
    let truth: std::collections::HashMap<&[String], f64> = raw
        .cells
        .iter()
        .map(|c| (c.coords.as_slice(), c.value))
        .collect();
    let cells = protected.value().cells.len();
    let (mut changed, mut abs) = (0usize, 0.0);
    let (mut suppressed, mut value_suppressed, mut value_all) = (0usize, 0.0, 0.0);
    let mut total = (0.0, 0.0);
    for p in &protected.value().cells {
        let r = truth.get(p.coords.as_slice()).copied().unwrap_or(0.0);
        value_all += r;
        let Some(v) = p.value else {
            suppressed += 1;
            value_suppressed += r;
            continue;
        };
        let d = (v - r).abs();
        changed += usize::from(d > 1e-9);
        abs += d;
        if p.coords.iter().all(|c| c == corridor_stats::TOTAL) {
            total = (r, v);
        }
    }
    let published = cells - suppressed;
    TableUtility {
        name: name.into(),
        title: title.into(),
        method: protected.method().clone(),
        cells,
        cells_changed: changed,
        share_changed: share(changed as f64, cells as f64),
        mean_absolute_error: share(abs, published as f64),
        cells_suppressed: suppressed,
        share_suppressed: share(suppressed as f64, cells as f64),
        share_value_suppressed: share(value_suppressed, value_all),
        total_relative_error: if total.0 == 0.0 {
            0.0
        } else {
            (total.1 - total.0).abs() / total.0
        },
    }
}

/// `part / whole`, 0 when there is no whole.
fn share(part: f64, whole: f64) -> f64 {
    if whole == 0.0 { 0.0 } else { part / whole }
}

/// Everything a release holds, protected.
#[derive(Clone, Copy)]
pub(crate) struct Contents<'a> {
    pub entries: &'a [Entry],
    pub micro: &'a [MicroEntry],
    pub synth: &'a [SynthEntry],
    pub nowcasts: &'a [crate::nowcast::NowcastEntry],
    pub utility: &'a [TableUtility],
}

/// Writes every file of the release into a staging folder under `out`,
/// signs it and moves it to `out/<id>`. An existing release is never
/// replaced.
pub(crate) fn seal(
    spec: &ReleaseSpec,
    contents: &Contents,
    seed: &[u8; 32],
    out: &Path,
) -> Result<Built, PublishError> {
    let Contents {
        micro,
        synth,
        utility,
        ..
    } = *contents;
    fs::create_dir_all(out).map_err(io(out))?;
    let mut tag = [0u8; 6];
    getrandom::fill(&mut tag).map_err(|e| PublishError::Write(e.to_string()))?;
    let staging = out.join(format!(".building-{}", hex::encode(tag)));
    let result = write_all(spec, contents, seed, &staging);
    let (id, files, public_key) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let dir = out.join(&id);
    if dir.exists() {
        let _ = fs::remove_dir_all(&staging);
        return Err(PublishError::Write(format!(
            "{}: this release already exists (same content, same id); releases are never overwritten",
            dir.display()
        )));
    }
    fs::rename(&staging, &dir).map_err(io(&dir))?;
    sign::make_read_only(&dir)?;
    Ok(Built {
        id,
        dir,
        version: spec.version.clone(),
        files,
        tables: utility.to_vec(),
        records: micro
            .iter()
            .map(crate::microdata::built)
            .chain(synth.iter().map(crate::synthetic::built))
            .collect(),
        public_key,
    })
}

fn write_all(
    spec: &ReleaseSpec,
    contents: &Contents,
    seed: &[u8; 32],
    dir: &Path,
) -> Result<(String, usize, String), PublishError> {
    let Contents {
        entries,
        micro,
        synth,
        nowcasts,
        utility,
    } = *contents;
    for sub in ["data", "sdmx", "methods"] {
        fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    let write = |rel: &str, bytes: &[u8]| -> Result<(), PublishError> {
        let path = dir.join(rel);
        fs::write(&path, bytes).map_err(io(&path))
    };
    for e in entries {
        write(
            &format!("data/{}.csv", e.name),
            csv_of(e.table()).as_bytes(),
        )?;
        write_parquet(&dir.join(format!("data/{}.parquet", e.name)), e.table())?;
        write(
            &format!("sdmx/{}.csv", e.name),
            sdmx::data_csv(&e.name, e.table()).as_bytes(),
        )?;
    }
    for m in micro {
        crate::microdata::write(dir, m)?;
    }
    for y in synth {
        crate::synthetic::write(dir, y)?;
    }
    for n in nowcasts {
        crate::nowcast::write(dir, n)?;
    }
    write(
        "sdmx/structure.xml",
        sdmx::structure(spec, entries).as_bytes(),
    )?;
    write(
        "datapackage.json",
        package::datapackage(spec, entries, micro, synth, nowcasts).as_bytes(),
    )?;
    write(
        "release.json",
        package::manifest(spec, entries, micro, synth, nowcasts, utility).as_bytes(),
    )?;
    write(
        "utility.json",
        serde_json::to_string_pretty(utility)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    for lang in note::Lang::ALL {
        let md = note::methods_note(spec, entries, micro, synth, nowcasts, utility, lang);
        write(
            &format!("methods/methods.{}.md", lang.code()),
            md.as_bytes(),
        )?;
        write(
            &format!("methods/methods.{}.html", lang.code()),
            note::to_html(&md, lang, &spec.title).as_bytes(),
        )?;
    }
    sign::seal_folder(dir, seed)
}

/// The cells' status in SDMX terms: OBS_STATUS (A normal, P provisional)
/// and CONF_STATUS (F free, C confidential).
pub(crate) fn statuses(c: &corridor_protect::PublishedCell) -> (&'static str, &'static str) {
    let obs = if c.provisional { "P" } else { "A" };
    (obs, if c.value.is_some() { "F" } else { "C" })
}

/// A value as the files write it: empty where it is withheld; a whole
/// number, or a rate with four decimals.
pub(crate) fn value_text(v: Option<f64>, rate: bool) -> String {
    v.map(|v| {
        if rate {
            format!("{v:.4}")
        } else {
            format!("{}", v.round() as i64)
        }
    })
    .unwrap_or_default()
}

/// Whether a table holds rates (per 100,000) rather than counts.
pub(crate) fn is_rate(t: &PublishedTable) -> bool {
    t.measure.ends_with(PER_100000)
}

/// The column of a DP table's 95 % error bounds.
pub(crate) const ERROR_BOUND: &str = "error_bound_95";

/// Whether the table's cells carry error bounds (DP tables).
pub(crate) fn has_bounds(t: &PublishedTable) -> bool {
    t.cells.iter().any(|c| c.error_bound.is_some())
}

fn csv_of(t: &PublishedTable) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bounds = has_bounds(t);
    let rate = is_rate(t);
    let mut header: Vec<&str> = t.dims.iter().map(String::as_str).collect();
    header.extend(["value", "obs_status", "conf_status"]);
    if bounds {
        header.push(ERROR_BOUND);
    }
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for c in &t.cells {
        let (obs, conf) = statuses(c);
        let mut row = c.coords.clone();
        row.extend([value_text(c.value, rate), obs.into(), conf.into()]);
        if bounds {
            row.push(value_text(c.error_bound, rate));
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn write_parquet(path: &Path, t: &PublishedTable) -> Result<(), PublishError> {
    let mut fields: Vec<Field> = t
        .dims
        .iter()
        .map(|d| Field::new(d, DataType::Utf8, false))
        .collect();
    let rate = is_rate(t);
    let number = if rate {
        DataType::Float64
    } else {
        DataType::Int64
    };
    fields.push(Field::new("value", number.clone(), true));
    fields.push(Field::new("obs_status", DataType::Utf8, false));
    fields.push(Field::new("conf_status", DataType::Utf8, false));
    if has_bounds(t) {
        fields.push(Field::new(ERROR_BOUND, number, true));
    }
    let numbers = |values: Vec<Option<f64>>| -> ArrayRef {
        if rate {
            Arc::new(Float64Array::from(values))
        } else {
            Arc::new(Int64Array::from_iter(
                values.into_iter().map(|v| v.map(|v| v.round() as i64)),
            ))
        }
    };
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = (0..t.dims.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                t.cells.iter().map(|c| c.coords[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    columns.push(numbers(t.cells.iter().map(|c| c.value).collect()));
    columns.push(Arc::new(StringArray::from_iter_values(
        t.cells.iter().map(|c| statuses(c).0),
    )));
    columns.push(Arc::new(StringArray::from_iter_values(
        t.cells.iter().map(|c| statuses(c).1),
    )));
    if has_bounds(t) {
        columns.push(numbers(t.cells.iter().map(|c| c.error_bound).collect()));
    }
    let batch = RecordBatch::try_new(schema, columns)
        .map_err(|e| PublishError::Write(format!("{}: {e}", path.display())))?;
    write_batch(path, &batch)
}

/// Writes one batch as a Parquet file.
pub(crate) fn write_batch(path: &Path, batch: &RecordBatch) -> Result<(), PublishError> {
    let err = |e: &dyn std::fmt::Display| PublishError::Write(format!("{}: {e}", path.display()));
    let file = fs::File::create(path).map_err(io(path))?;
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| err(&e))?;
    w.write(batch).map_err(|e| err(&e))?;
    w.close().map_err(|e| err(&e))?;
    Ok(())
}
