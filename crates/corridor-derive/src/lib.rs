//! Border events into the quantities migration statistics are made of.
//!
//! `derive` reads the workspace's border events, sorts them into each
//! person's history at each reporting country's border, repairs broken
//! sequences by stated rules ([`repair`]), classifies every crossing by the
//! 12/16-month rule ([`residence`]; final where the data decide it,
//! provisional with a modelled probability where they do not yet —
//! [`provisional`]), and writes the derived datasets into the workspace:
//!
//! - `crossings`: every border event with its residence status before, its
//!   outcome, its probability of being a long-term migration and its repair
//!   flags;
//! - `stays`: spells in the country (entry → exit) and abroad (exit →
//!   re-entry), with length and overstay;
//! - `stocks`: persons at each month end by status, location and
//!   characteristics;
//! - `provisional`: monthly migrant arrivals and departures with their 95 %
//!   intervals, `revisions` against the previous run, and
//!   `history_provisional` (every run's figures).
//!
//! [`tables`] names these datasets and their columns once; the schemas
//! written here and the queries of `corridor-stats` both come from it.
//!
//! Everything here happens inside the trust boundary: these are counts of
//! persons, not yet protected for publication.
//!
//! The API: [`derive`] and [`backtest`] with their [`Options`] and reports
//! ([`DeriveReport`], [`BacktestReport`]), [`load`] for the prepared
//! histories, the rules ([`residence::Rule`]), the initial statuses
//! ([`status`]) and the tables' description ([`tables`]); errors are
//! [`DeriveError`].

pub(crate) mod engine;
pub(crate) mod events;
pub(crate) mod output;
pub(crate) mod provisional;
pub(crate) mod repair;
pub mod residence;
pub mod status;
pub mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, Date32Array, Float64Array, StringArray};
use chrono::NaiveDate;
use corridor_model::RecordType;
use corridor_model::age::AgeGrouping;
use corridor_store::Workspace;
use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{
    History, KnownStatus, Prepared, StockCell, StockCount, Stocks, TotalKey, add_stocks,
    add_totals, age_at, classify_group, estimates, migration_p, month_label, month_of,
};
use crate::events::{Event, NONE, person_text};
use crate::output::{Batch, Dataset, Vocabulary};
use crate::provisional::{Total, Training};
use crate::repair::Flag;
use crate::residence::{Outcome, Rule};

#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Data(String),
    /// A supplied-status file's problem, with where it is.
    #[error(
        "{}{}{}: {message}",
        path.display(),
        row.map(|r| format!(", row {r}")).unwrap_or_default(),
        field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default()
    )]
    Status {
        path: PathBuf,
        row: Option<u64>,
        field: Option<String>,
        message: String,
    },
    /// Options that cannot be applied (a rule whose threshold does not
    /// fit its window, a negative repeat interval).
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Ingest(#[from] corridor_ingest::IngestError),
    #[error(transparent)]
    Store(#[from] corridor_store::StoreError),
}

impl DeriveError {
    pub fn io(path: &Path, source: std::io::Error) -> DeriveError {
        DeriveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Days since 1970-01-01 (Arrow's Date32).
pub fn day_of(d: NaiveDate) -> i32 {
    corridor_model::calendar::day_of_date(d)
}

pub fn date_of(day: i32) -> Option<NaiveDate> {
    corridor_model::calendar::date_of_day(day)
}

/// The integer calendar (month ends and ages are taken for every person
/// and month).
pub use corridor_model::calendar::{civil, day_of_civil};

/// Shorter than the standard library's: keys here are small and not chosen
/// by an adversary, so SipHash's protection is not needed, and hashing
/// stock and model cells with it was a large share of the run.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// How `derive` runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub rule: Rule,
    /// Treat the data as ending on this day (default: each reporting
    /// country's last event).
    pub as_of: Option<NaiveDate>,
    /// Same-direction records this close are one crossing keyed twice.
    pub repeat_minutes: i32,
    /// Supplied residence statuses with their dates (a population
    /// register, an earlier run's result), taken as `migrbc` takes them:
    /// see [`residence::classify`].
    pub initial_status: Option<status::InitialStatus>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rule: Rule::default(),
            as_of: None,
            repeat_minutes: 120,
            initial_status: None,
        }
    }
}

impl Options {
    /// Options that can be applied, or what is wrong with them: checked by
    /// [`derive`] and [`backtest`] themselves, so no caller can skip it.
    pub fn check(&self) -> Result<(), DeriveError> {
        self.rule.check().map_err(DeriveError::Options)?;
        if self.repeat_minutes < 0 {
            return Err(DeriveError::Options(format!(
                "the repeat interval is {} minutes; it cannot be negative (0 turns the repair off)",
                self.repeat_minutes
            )));
        }
        Ok(())
    }
}

/// What a derive run did, for the terminal and `derived/report.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeriveReport {
    pub rule: Option<Rule>,
    /// Last observed day per reporting country.
    pub observed_through: BTreeMap<String, String>,
    pub events: u64,
    pub histories: u64,
    pub crossings_counted: u64,
    pub records_not_counted: u64,
    /// Records each repair rule touched.
    pub repairs: BTreeMap<String, u64>,
    /// Counted crossings by outcome of the 12/16-month rule.
    pub outcomes: BTreeMap<String, u64>,
    pub stays: u64,
    pub open_stays: u64,
    pub overstays: u64,
    pub absences: u64,
    pub stock_cells: u64,
    pub training_crossings: u64,
    pub model_cells: u64,
    /// Person keys that were not 32 hex digits (hashed to 128 bits).
    pub odd_person_keys: u64,
    /// Records without a person key, date or direction, left out.
    pub records_unusable: u64,
    /// The previous run the revisions compare against, if any.
    pub revised_against: Option<String>,
    pub seconds: f64,
}

/// Loads and prepares a workspace's border events.
pub fn load(ws: &Workspace, opts: &Options) -> Result<(Prepared, KnownStatus), DeriveError> {
    opts.check()?;
    let files = ws.data_files(RecordType::BorderEvent)?;
    let events = events::load(&files)?;
    // Before the repairs: the same-day order of a first day uses them.
    let known = match &opts.initial_status {
        Some(spec) => status::load(ws, spec, &events.dict)?,
        None => KnownStatus::default(),
    };
    let prepared = engine::prepare(events, opts.repeat_minutes, &known);
    Ok((prepared, known))
}

/// A crossing's outcome code when it is not counted (a repaired-away
/// record).
const NOT_COUNTED: &str = "not_counted";

/// The places in [`Part::outcomes`].
const OUTCOMES: [Option<Outcome>; 5] = [
    None,
    Some(Outcome::NotTested),
    Some(Outcome::Migration),
    Some(Outcome::NotMigration),
    Some(Outcome::Provisional),
];

/// The vocabularies of the coded columns of `crossings` and `stays`.
struct Vocabularies {
    /// The events' codes ([`events::Dict`]): countries, sexes, visas…
    dict: Vocabulary,
    direction: Vocabulary,
    kind: Vocabulary,
    status: Vocabulary,
    outcome: Vocabulary,
    age_group: Vocabulary,
    repairs: Vocabulary,
}

impl Vocabularies {
    fn new(dict: &events::Dict) -> Vocabularies {
        Vocabularies {
            dict: Vocabulary::new(dict.values()),
            direction: Vocabulary::new(["entry", "exit"]),
            kind: Vocabulary::new(["stay", "absence"]),
            status: Vocabulary::new([status_code(false), status_code(true)]),
            outcome: Vocabulary::new(OUTCOMES.map(|o| o.map_or(NOT_COUNTED, Outcome::code))),
            age_group: Vocabulary::new(AgeGrouping::Broad.codes()),
            repairs: Vocabulary::new((0..=u8::MAX).map(Flag::codes)),
        }
    }
}

/// What one slice of histories adds to the outputs.
struct Part {
    crossings: Batch,
    stays: Batch,
    sums: Sums,
}

/// A slice's open output files.
struct Files {
    crossings: Dataset,
    stays: Dataset,
}

impl Files {
    fn close(self) -> Result<(), DeriveError> {
        self.crossings.close()?;
        self.stays.close()?;
        Ok(())
    }
}

/// Histories derived between two writes of a slice's batches.
const FLUSH_HISTORIES: usize = 1 << 16;

/// What slices add up: stocks, provisional totals and the report's counts.
#[derive(Default)]
struct Sums {
    stocks: Stocks,
    totals: HashMap<TotalKey, Total>,
    report: DeriveReport,
    /// Crossings by outcome (`None`: not counted): see [`OUTCOMES`].
    outcomes: [u64; 5],
}

impl Sums {
    fn merge(&mut self, b: Sums) {
        self.stocks.merge(b.stocks);
        for (k, v) in &b.totals {
            self.totals.entry(*k).or_default().merge(v);
        }
        merge_reports(&mut self.report, &b.report);
        for (a, b) in self.outcomes.iter_mut().zip(b.outcomes) {
            *a += b;
        }
    }
}

struct Context<'a> {
    prepared: &'a Prepared,
    known: &'a KnownStatus,
    training: &'a Training,
    as_of: Option<i32>,
    rule: Rule,
}

fn status_code(resident: bool) -> &'static str {
    if resident { "resident" } else { "non_resident" }
}

impl Part {
    fn new(v: &Vocabularies) -> Part {
        let crossings = [
            (1, &v.dict),
            (2, &v.direction),
            (5, &v.dict),
            (6, &v.dict),
            (8, &v.age_group),
            (9, &v.dict),
            (10, &v.dict),
            (12, &v.dict),
            (13, &v.dict),
            (14, &v.status),
            (15, &v.outcome),
            (19, &v.repairs),
            (21, &v.dict),
        ];
        let stays = [
            (1, &v.dict),
            (2, &v.kind),
            (8, &v.status),
            (9, &v.dict),
            (10, &v.dict),
            (11, &v.age_group),
            (12, &v.dict),
            (17, &v.repairs),
        ];
        Part {
            crossings: Batch::coded(&tables::CROSSINGS.schema(), &crossings),
            stays: Batch::coded(&tables::STAYS.schema(), &stays),
            sums: Sums::default(),
        }
    }

    /// Opens the slice's files, `crossings/<file>.parquet` and
    /// `stays/<file>.parquet`.
    fn open(&self, dir: &Path, file: &str) -> Result<Files, DeriveError> {
        Ok(Files {
            crossings: Dataset::create(dir, tables::CROSSINGS.name, file, &self.crossings.schema)?,
            stays: Dataset::create(dir, tables::STAYS.name, file, &self.stays.schema)?,
        })
    }

    /// Writes what the slice has built so far: every few hundred thousand
    /// crossings, so that memory does not grow with the slice.
    fn flush(&mut self, files: &mut Files) -> Result<(), DeriveError> {
        files.crossings.write(&self.crossings.finish()?)?;
        files.stays.write(&self.stays.finish()?)?;
        Ok(())
    }

    fn add(&mut self, cx: &Context, group: &[Event]) {
        let country = group[0].country;
        let through = engine::through(cx.prepared, country, cx.as_of);
        let h = classify_group(group, cx.known, through, cx.rule);
        let est = estimates(group, &h, cx.training, through);
        self.sums.report.histories += 1;
        // Coded columns take positions in their vocabularies (`Vocabularies`):
        // an event's code number in the dictionary (NONE lies past its end,
        // so it is written as missing), 0/1 for entry/exit and
        // non_resident/resident, a place in OUTCOMES, the flags' bits.
        let code = |i: u16| Some(usize::from(i));
        let person = person_text(group[0].person);
        // Crossings.
        let mut k = 0;
        for (i, e) in group.iter().enumerate() {
            if e.day > through {
                continue;
            }
            let b = &mut self.crossings;
            let counted = h.counted.get(k) == Some(&i);
            let (status, outcome, p) = if counted {
                let c = &h.classes[k];
                let p = migration_p(c, est[k].as_ref());
                k += 1;
                (Some(usize::from(c.resident_before)), Some(c.outcome), p)
            } else {
                (None, None, 0.0)
            };
            // A place in OUTCOMES.
            let outcome = outcome.map_or(0, |o| o as usize + 1);
            self.sums.outcomes[outcome] += 1;
            if counted {
                self.sums.report.crossings_counted += 1;
            } else {
                self.sums.report.records_not_counted += 1;
            }
            self.sums.report.events += 1;
            b.text(0, Some(&person));
            b.code(1, code(e.country));
            b.code(2, Some(usize::from(!e.entry)));
            b.date(3, Some(e.day));
            b.text(4, Some(&month_label(month_of(e.day))));
            b.code(5, code(e.citizenship));
            b.code(6, code(e.sex));
            let age = age_at(e, e.day);
            b.int(7, (age >= 0).then_some(age));
            b.code(8, Some(usize::from(engine::broad_age_index(age))));
            b.code(9, code(e.purpose));
            b.code(10, code(e.visa));
            b.int(11, (e.permitted >= 0).then_some(e.permitted));
            b.code(12, code(e.mode));
            b.code(13, code(e.counterpart));
            b.code(14, status);
            b.code(15, Some(outcome));
            b.real(16, Some(p));
            b.flag(17, counted);
            b.flag(18, e.day + cx.rule.window_days <= through + 1);
            b.code(19, Some(usize::from(e.flags)));
            b.count(20, e.record_key);
            b.code(21, code(e.source));
            b.count(22, e.source_row);
        }
        self.add_stays(group, &h, through, &person);
        let first_day = cx.prepared.period.get(&country).map_or(0, |p| p.0);
        add_stocks(&mut self.sums.stocks, group, &h, first_day, through);
        add_totals(&mut self.sums.totals, group, &h, &est);
    }

    fn add_stays(&mut self, group: &[Event], h: &History, through: i32, person: &str) {
        let code = |i: u16| Some(usize::from(i));
        for k in 0..h.counted.len() {
            let start = &group[h.counted[k]];
            let end = h.counted.get(k + 1).map(|&j| &group[j]);
            let c = &h.classes[k];
            let resident_after = c.resident_before != (c.outcome == Outcome::Migration);
            let end_day = end.map_or(through, |e| e.day);
            let length = end_day - start.day;
            let stay = start.entry;
            let overstay_days = (stay && start.permitted >= 0 && !resident_after)
                .then(|| length - start.permitted)
                .filter(|&o| o > 0);
            let b = &mut self.stays;
            b.text(0, Some(person));
            b.code(1, code(start.country));
            b.code(2, Some(usize::from(!stay)));
            b.date(3, Some(start.day));
            b.date(4, end.map(|e| e.day));
            b.text(5, Some(&month_label(month_of(start.day))));
            b.int(6, Some(length));
            b.flag(7, end.is_none());
            b.code(8, Some(usize::from(resident_after)));
            b.code(9, code(start.citizenship));
            b.code(10, code(start.sex));
            b.code(
                11,
                Some(usize::from(engine::broad_age_index(age_at(
                    start, start.day,
                )))),
            );
            b.code(12, code(start.visa));
            b.int(13, (start.permitted >= 0).then_some(start.permitted));
            b.int(14, overstay_days);
            b.flag(15, overstay_days.is_some());
            b.text(
                16,
                overstay_days
                    .map(|_| month_label(month_of(start.day + start.permitted + 1)))
                    .as_deref(),
            );
            b.code(17, end.map(|e| usize::from(e.flags)));
            b.count(18, start.record_key);
            if stay {
                self.sums.report.stays += 1;
                self.sums.report.open_stays += u64::from(end.is_none());
                self.sums.report.overstays += u64::from(overstay_days.is_some());
            } else {
                self.sums.report.absences += 1;
            }
        }
    }
}

fn merge_reports(a: &mut DeriveReport, b: &DeriveReport) {
    a.events += b.events;
    a.histories += b.histories;
    a.crossings_counted += b.crossings_counted;
    a.records_not_counted += b.records_not_counted;
    a.stays += b.stays;
    a.open_stays += b.open_stays;
    a.overstays += b.overstays;
    a.absences += b.absences;
    for (k, v) in &b.outcomes {
        *a.outcomes.entry(k.clone()).or_default() += v;
    }
}

/// Runs derive on a workspace and replaces its derived datasets.
/// `progress(done, total)` counts histories.
pub fn derive(
    ws: &Workspace,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<DeriveReport, DeriveError> {
    let started = Instant::now();
    let (prepared, known) = load(ws, opts)?;
    let as_of = opts.as_of.map(day_of);
    let training = engine::train(&prepared, &known, as_of, opts.rule);
    let staged = ws.derived_staging()?;
    let cx = Context {
        prepared: &prepared,
        known: &known,
        training: &training,
        as_of,
        rule: opts.rule,
    };
    let mut report = DeriveReport {
        rule: Some(opts.rule),
        odd_person_keys: prepared.odd_keys as u64,
        records_unusable: prepared.unusable as u64,
        training_crossings: training.crossings,
        model_cells: training.cells() as u64,
        ..DeriveReport::default()
    };
    // Histories in fixed slices, each written to its own Parquet files by
    // the thread that derived it: files and rows do not depend on thread
    // timing, and encoding runs on every core.
    let groups = &prepared.groups;
    let vocabularies = Vocabularies::new(&prepared.dict);
    let total = groups.len() as u64;
    // Sixteen slices (fewer for small runs), whatever the cores.
    let slice = (groups.len() / 16).max(1 << 14);
    let done = std::sync::atomic::AtomicU64::new(0);
    let sums = groups
        .par_chunks(slice)
        .enumerate()
        .map(|(i, chunk)| -> Result<Sums, DeriveError> {
            let mut part = Part::new(&vocabularies);
            let mut files = part.open(&staged, &format!("part-{i:05}"))?;
            for histories in chunk.chunks(FLUSH_HISTORIES) {
                for g in histories {
                    part.add(&cx, &prepared.events[g.clone()]);
                }
                part.flush(&mut files)?;
            }
            files.close()?;
            let n = done.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            progress(n + chunk.len() as u64, total);
            Ok(part.sums)
        })
        .collect::<Result<Vec<Sums>, DeriveError>>()?
        .into_iter()
        // In slice order, so that sums of estimates are the same every run.
        .fold(Sums::default(), |mut a, b| {
            a.merge(b);
            a
        });
    if groups.is_empty() {
        // An empty run still has its (empty) datasets.
        let mut part = Part::new(&vocabularies);
        let mut files = part.open(&staged, "part-00000")?;
        part.flush(&mut files)?;
        files.close()?;
    }
    let Sums {
        stocks,
        totals,
        report: counted,
        outcomes,
    } = sums;
    merge_reports(&mut report, &counted);
    for (i, n) in outcomes.into_iter().enumerate() {
        let code = OUTCOMES[i].map_or(NOT_COUNTED, Outcome::code);
        if n > 0 {
            *report.outcomes.entry(code.to_string()).or_default() += n;
        }
    }
    report.stock_cells = write_stocks(&staged, &prepared, &stocks.cells())?;
    let run_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (&c, &(_, last)) in &prepared.period {
        let through = as_of.unwrap_or(last);
        report.observed_through.insert(
            prepared.dict.text(c).to_string(),
            date_of(through).map(|d| d.to_string()).unwrap_or_default(),
        );
    }
    let rows = provisional_rows(&prepared, &totals, as_of);
    write_provisional(&staged, &rows, &run_at)?;
    report.revised_against = write_revisions(ws, &staged, &rows)?;
    report.repairs = engine::repair_counts(&prepared.events)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    report.seconds = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let report_path = staged.join("report.json");
    std::fs::write(&report_path, json).map_err(|e| DeriveError::io(&report_path, e))?;
    ws.replace_derived(&staged)?;
    Ok(report)
}

fn write_stocks(
    dir: &Path,
    prepared: &Prepared,
    cells: &[(StockCell, StockCount)],
) -> Result<u64, DeriveError> {
    let d = &prepared.dict;
    let code = |i: u16| if i == NONE { None } else { d.get(i) };
    let schema = tables::STOCKS.schema();
    let mut out = Dataset::create(dir, tables::STOCKS.name, "part-0", &schema)?;
    for slice in cells.chunks(1 << 16) {
        let mut b = Batch::new(&schema);
        for (cell, v) in slice {
            let k = &cell.key;
            b.text(0, code(k.country));
            b.text(1, Some(&month_label(cell.month)));
            b.text(2, code(k.citizenship));
            b.text(3, code(k.sex));
            b.text(4, AgeGrouping::Broad.code_at(k.age_group));
            b.text(5, Some(status_code(k.resident)));
            b.text(6, Some(if k.present { "present" } else { "abroad" }));
            b.text(7, code(k.visa));
            b.flag(8, k.overstaying);
            b.count(9, v.persons);
            b.count(10, v.key_sum);
        }
        out.write(&b.finish()?)?;
    }
    out.close()
}

/// One month's provisional figure for one country and measure.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionalRow {
    pub country: String,
    pub month: String,
    pub measure: &'static str,
    pub final_migrations: u64,
    pub open_crossings: u64,
    pub expected_open: f64,
    pub estimate: f64,
    pub lower95: f64,
    pub upper95: f64,
    pub as_of: i32,
}

fn measure_name(arrival: bool) -> &'static str {
    if arrival {
        "migrant_arrivals"
    } else {
        "migrant_departures"
    }
}

fn provisional_rows(
    prepared: &Prepared,
    totals: &HashMap<TotalKey, Total>,
    as_of: Option<i32>,
) -> Vec<ProvisionalRow> {
    let mut keys: Vec<&TotalKey> = totals.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let t = &totals[k];
            let (lo, hi) = t.interval();
            ProvisionalRow {
                country: prepared.dict.text(k.0).to_string(),
                month: month_label(k.1).to_string(),
                measure: measure_name(k.2),
                final_migrations: t.final_migrations,
                open_crossings: t.open,
                expected_open: t.expected,
                estimate: t.estimate(),
                lower95: lo,
                upper95: hi,
                as_of: engine::through(prepared, k.0, as_of),
            }
        })
        .collect()
}

fn provisional_batch(
    rows: &[ProvisionalRow],
    run_at: Option<&str>,
) -> Result<arrow::record_batch::RecordBatch, DeriveError> {
    let table = if run_at.is_some() {
        &tables::PROVISIONAL_HISTORY
    } else {
        &tables::PROVISIONAL
    };
    let mut b = Batch::new(&table.schema());
    for r in rows {
        b.text(0, Some(&r.country));
        b.text(1, Some(&r.month));
        b.text(2, Some(r.measure));
        b.count(3, r.final_migrations);
        b.count(4, r.open_crossings);
        b.real(5, Some(r.expected_open));
        b.real(6, Some(r.estimate));
        b.real(7, Some(r.lower95));
        b.real(8, Some(r.upper95));
        b.date(9, Some(r.as_of));
        if let Some(run) = run_at {
            b.text(10, Some(run));
        }
    }
    b.finish()
}

fn write_provisional(dir: &Path, rows: &[ProvisionalRow], run_at: &str) -> Result<(), DeriveError> {
    let mut out = Dataset::create(
        dir,
        tables::PROVISIONAL.name,
        "part-0",
        &tables::PROVISIONAL.schema(),
    )?;
    out.write(&provisional_batch(rows, None)?)?;
    out.close()?;
    let stamp: String = run_at.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut hist = Dataset::create(
        dir,
        tables::PROVISIONAL_HISTORY.name,
        &format!("run-{stamp}-{}", std::process::id()),
        &tables::PROVISIONAL_HISTORY.schema(),
    )?;
    hist.write(&provisional_batch(rows, Some(run_at))?)?;
    hist.close()?;
    Ok(())
}

/// Compares this run's figures with the previous run's (the newest file of
/// `history_provisional` in the current derived folder) and writes the
/// differences. Returns the previous run's time.
fn write_revisions(
    ws: &Workspace,
    dir: &Path,
    rows: &[ProvisionalRow],
) -> Result<Option<String>, DeriveError> {
    let schema = tables::REVISIONS.schema();
    let mut out = Dataset::create(dir, tables::REVISIONS.name, "part-0", &schema)?;
    let history = ws.derived_dir().join(tables::PROVISIONAL_HISTORY.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&history)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let mut against = None;
    if let Some(prev) = files.last() {
        let previous = read_history(prev)?;
        let mut b = Batch::new(&schema);
        for r in rows {
            if let Some(&(prev_as_of, prev_est, ref run_at)) =
                previous.get(&(r.country.clone(), r.month.clone(), r.measure.to_string()))
            {
                against = Some(run_at.clone());
                b.text(0, Some(&r.country));
                b.text(1, Some(&r.month));
                b.text(2, Some(r.measure));
                b.date(3, Some(prev_as_of));
                b.real(4, Some(prev_est));
                b.date(5, Some(r.as_of));
                b.real(6, Some(r.estimate));
                b.real(7, Some(r.estimate - prev_est));
            }
        }
        out.write(&b.finish()?)?;
    }
    out.close()?;
    Ok(against)
}

type HistoryRows = HashMap<(String, String, String), (i32, f64, String)>;

fn read_history(path: &Path) -> Result<HistoryRows, DeriveError> {
    let err = |e: &dyn std::fmt::Display| DeriveError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(|e| err(&e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(|e| err(&e))?;
    let mut out = HashMap::default();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        let text = |n: &str| -> Result<Arc<StringArray>, DeriveError> {
            batch
                .column_by_name(n)
                .and_then(|c| c.as_string_opt::<i32>())
                .map(|c| Arc::new(c.clone()))
                .ok_or_else(|| err(&format!("no `{n}` column")))
        };
        let (country, month, measure, run) = (
            text("reporting_country")?,
            text("month")?,
            text("measure")?,
            text("run_at")?,
        );
        let est = batch
            .column_by_name("estimate")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or_else(|| err(&"no `estimate` column"))?;
        let as_of = batch
            .column_by_name("as_of")
            .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            .ok_or_else(|| err(&"no `as_of` column"))?;
        for i in 0..batch.num_rows() {
            if est.is_null(i) {
                continue;
            }
            out.insert(
                (
                    country.value(i).to_string(),
                    month.value(i).to_string(),
                    measure.value(i).to_string(),
                ),
                (as_of.value(i), est.value(i), run.value(i).to_string()),
            );
        }
    }
    Ok(out)
}

/// One back-test comparison: a month's figure estimated at a cut-off
/// against its final value.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    pub cutoff: String,
    pub country: String,
    pub month: String,
    pub measure: &'static str,
    /// Whole months from the crossing month to the cut-off month.
    pub lag_months: i32,
    pub estimate: f64,
    pub lower95: f64,
    pub upper95: f64,
    pub final_value: u64,
    pub covered: bool,
}

/// The back-test's summary.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    pub cutoffs: Vec<String>,
    pub comparisons: usize,
    /// Share of 95 % intervals that hold the final value.
    pub coverage: f64,
    /// Mean of |final − estimate| / final, over figures with a final value > 0.
    pub mean_abs_revision: f64,
    /// Mean of (final − estimate) / final.
    pub mean_revision: f64,
    /// Same, by lag in months: (lag, comparisons, coverage, mean abs revision).
    pub by_lag: Vec<(i32, usize, f64, f64)>,
    pub rows: Vec<BacktestRow>,
}

/// Cuts the data at each cut-off, estimates the months whose windows are
/// still open, and compares with the figures the full data give.
pub fn backtest(
    ws: &Workspace,
    opts: &Options,
    cutoffs: &[NaiveDate],
) -> Result<BacktestReport, DeriveError> {
    let (prepared, known) = load(ws, opts)?;
    let rule = opts.rule;
    let totals_at = |as_of: Option<i32>| {
        let training = engine::train(&prepared, &known, as_of, rule);
        prepared
            .groups
            .par_iter()
            .fold(HashMap::default, |mut t: HashMap<TotalKey, Total>, g| {
                let group = &prepared.events[g.clone()];
                let through = engine::through(&prepared, group[0].country, as_of);
                let h = classify_group(group, &known, through, rule);
                add_totals(&mut t, group, &h, &estimates(group, &h, &training, through));
                t
            })
            .reduce(HashMap::default, |mut a, b| {
                for (k, v) in &b {
                    a.entry(*k).or_default().merge(v);
                }
                a
            })
    };
    let full = totals_at(None);
    let mut rows = Vec::new();
    for &cut in cutoffs {
        let cut_day = day_of(cut);
        let est = totals_at(Some(cut_day));
        let cut_month = month_of(cut_day);
        for (k, t) in &est {
            let lag = cut_month - k.1;
            if t.open == 0 || !(0..16).contains(&lag) {
                continue;
            }
            let last = prepared.period.get(&k.0).map_or(0, |p| p.1);
            // Final only where the whole month's windows are observed.
            if engine::month_end(k.1) + rule.window_days - 1 > last {
                continue;
            }
            let final_value = full.get(k).map_or(0, |f| f.final_migrations);
            let (lo, hi) = t.interval();
            rows.push(BacktestRow {
                cutoff: cut.to_string(),
                country: prepared.dict.text(k.0).to_string(),
                month: month_label(k.1).to_string(),
                measure: measure_name(k.2),
                lag_months: lag,
                estimate: t.estimate(),
                lower95: lo,
                upper95: hi,
                final_value,
                covered: lo <= final_value as f64 && final_value as f64 <= hi,
            });
        }
    }
    rows.sort_by(|a, b| {
        (&a.cutoff, &a.country, &a.month, a.measure)
            .cmp(&(&b.cutoff, &b.country, &b.month, b.measure))
    });
    let summarise = |rs: &[&BacktestRow]| {
        let n = rs.len();
        let covered = rs.iter().filter(|r| r.covered).count();
        let rel: Vec<(f64, f64)> = rs
            .iter()
            .filter(|r| r.final_value > 0)
            .map(|r| {
                let f = r.final_value as f64;
                ((f - r.estimate).abs() / f, (f - r.estimate) / f)
            })
            .collect();
        let mean = |v: &dyn Fn(&(f64, f64)) -> f64| {
            if rel.is_empty() {
                0.0
            } else {
                rel.iter().map(v).sum::<f64>() / rel.len() as f64
            }
        };
        (
            n,
            if n == 0 {
                0.0
            } else {
                covered as f64 / n as f64
            },
            mean(&|r| r.0),
            mean(&|r| r.1),
        )
    };
    let all: Vec<&BacktestRow> = rows.iter().collect();
    let (n, coverage, mabs, mrev) = summarise(&all);
    let mut by_lag = Vec::new();
    for lag in 0..16 {
        let rs: Vec<&BacktestRow> = rows.iter().filter(|r| r.lag_months == lag).collect();
        if !rs.is_empty() {
            let (n, c, m, _) = summarise(&rs);
            by_lag.push((lag, n, c, m));
        }
    }
    Ok(BacktestReport {
        cutoffs: cutoffs.iter().map(|c| c.to_string()).collect(),
        comparisons: n,
        coverage,
        mean_abs_revision: mabs,
        mean_revision: mrev,
        by_lag,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_places_follow_the_enum() {
        for (i, o) in OUTCOMES.iter().enumerate() {
            assert_eq!(o.map_or(0, |o| o as usize + 1), i);
        }
    }
}
