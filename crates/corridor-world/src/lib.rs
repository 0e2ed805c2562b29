//! A realistic demo world for Corridor.
//!
//! [`generate`] simulates, person by person, the travellers of a region of
//! three reporting countries (Guatemala, Honduras, El Salvador) with travel
//! to and from Mexico, the USA and beyond, and writes what each agency would
//! export — in its own format, language and encoding, with the faults real
//! exports have — beside the ground truth (`truth/`) that later work is
//! tested against.
//!
//! Each person's life comes from a random stream seeded by (seed, person),
//! so the output is byte-identical for a seed whatever the number of
//! threads, and persons are generated and written in chunks: memory does not
//! grow with the number of persons.
//!
//! The API: [`generate`] with a [`WorldConfig`] gives a [`Summary`] or a
//! [`WorldError`]; [`geo`], [`mappings`] and [`truth`] tell later layers
//! and tests where things are and what is true.

pub(crate) mod auxiliary;
pub(crate) mod calendar;
pub(crate) mod export;
pub(crate) mod faults;
pub mod geo;
pub mod mappings;
pub(crate) mod names;
pub(crate) mod scratch;
pub(crate) mod sim;
pub(crate) mod table;
pub(crate) mod trafficking;
pub mod truth;

pub use scratch::scratch_dir;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use calendar::{
    Day, MINUTES_PER_DAY, MonthIndex, day_of, first_day_of_month, last_day_of_month, month_label,
    month_of_day,
};
use faults::{FaultKind, Role};
use geo::{Cc, POSTS, REPORTING};
use sim::{Life, Span};
use table::{Cell, CsvSink, DateStyle, NdjsonSink, Sink, XlsxBook, XlsxSheet, csv_field};
use truth::{Accounts, Crossing, Direction};

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: u64,
    /// Simulated travellers (residents who travel, visitors, migrants…).
    pub persons: u64,
    /// Identified victims of trafficking; by default one per 20 persons, at
    /// least 300.
    pub victims: Option<u64>,
    /// First exported year.
    pub start_year: i32,
    /// Number of exported years.
    pub years: i32,
    /// Share of exported rows carrying a fault (0 gives a clean world: every
    /// crossing recorded once, on time, with no faults).
    pub dirty: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 7,
            persons: 20_000,
            victims: None,
            start_year: 2022,
            years: 4,
            dirty: 0.02,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("invalid world configuration: {0}")]
    Config(String),
    #[error("could not write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// (path relative to the output folder, rows written, what it is).
    pub files: Vec<(String, u64, String)>,
    pub persons: u64,
    pub victims: u64,
    pub case_records: u64,
    pub crossings: u64,
    pub faults: u64,
}

const CHUNK: u64 = 8192;

struct Output {
    root: PathBuf,
}

impl Output {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn err(&self, rel: &str) -> impl Fn(io::Error) -> WorldError + '_ {
        let path = self.root.join(rel);
        move |source| WorldError::Io {
            path: path.clone(),
            source,
        }
    }
}

/// A sink with what the fault log needs to know about it.
struct Source {
    rel: String,
    headers: Vec<String>,
    sink: Option<Box<dyn Sink>>,
    roles: Vec<Role>,
    style: DateStyle,
    delimiter: char,
    text: bool,
    rows: u64,
    /// The person of the last row written (the row an interrupted export cuts).
    last_person: String,
    description: String,
}

impl Source {
    fn new(
        rel: &str,
        sink: Box<dyn Sink>,
        columns: &[(&str, Role)],
        delimiter: char,
        text: bool,
        description: &str,
    ) -> Source {
        let style = sink.date_style();
        Source {
            rel: rel.to_string(),
            headers: columns.iter().map(|c| c.0.to_string()).collect(),
            sink: Some(sink),
            roles: columns.iter().map(|c| c.1).collect(),
            style,
            delimiter,
            text,
            rows: 0,
            last_person: String::new(),
            description: description.to_string(),
        }
    }

    fn write(&mut self, cells: &[Cell], unquoted: Option<usize>) -> io::Result<(u64, String)> {
        let sink = self
            .sink
            .as_mut()
            .ok_or_else(|| io::Error::other("sink already finished"))?;
        let row = sink.write_row(cells, unquoted)?;
        self.rows += 1;
        Ok((row, sink.part()))
    }

    fn finish(&mut self, truncate: bool) -> io::Result<()> {
        match self.sink.take() {
            Some(sink) => sink.finish(truncate),
            None => Ok(()),
        }
    }
}

/// The fault log, `truth/faults.csv`.
struct FaultLog {
    out: BufWriter<File>,
    count: u64,
}

impl FaultLog {
    fn write(&mut self, lines: &[String]) -> io::Result<()> {
        for line in lines {
            self.out.write_all(line.as_bytes())?;
        }
        self.count += lines.len() as u64;
        Ok(())
    }
}

/// One line of `truth/faults.csv`.
#[allow(clippy::too_many_arguments)]
fn fault_line(
    file: &str,
    part: &str,
    row: Option<u64>,
    kind: FaultKind,
    column: &str,
    written: &str,
    expected: &str,
    person: &str,
) -> String {
    let row = row.map(|r| r.to_string()).unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{}\n",
        csv_field(file),
        csv_field(part),
        row,
        kind.name(),
        csv_field(column),
        csv_field(written),
        csv_field(expected),
        person
    )
}

/// A planned export row: one recorded crossing, permit or return.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Sort key: minutes since 1970 as recorded.
    t: i64,
    life: u32,
    item: u32,
    direction: Direction,
    fault: Option<FaultKind>,
    duplicate: bool,
    fault_seed: u64,
    record_id: u32,
}

impl Plan {
    fn new(t: i64, life: u32, item: usize, direction: Direction) -> Plan {
        Plan {
            t,
            life,
            item: item as u32,
            direction,
            fault: None,
            duplicate: false,
            fault_seed: 0,
            record_id: 0,
        }
    }
}

/// Everything the parallel stage works out for one person.
struct PersonWork {
    life: Life,
    crossings: [Vec<Crossing>; 3],
    border: [Vec<Plan>; 3],
    permits: [Vec<Plan>; 3],
    returns: Vec<Plan>,
    missing: Vec<(Cc, usize, Direction, i64)>,
    truth_persons: String,
    truth_crossings: String,
}

/// Decides a planned row's fault. `timed`: the source records times, so a
/// crossing can be keyed in twice minutes apart.
fn plan_faults(
    rng: &mut ChaCha8Rng,
    dirty: f64,
    text: bool,
    timed: bool,
    plans: &mut Vec<Plan>,
    mut plan: Plan,
) {
    plan.fault_seed = rng.random();
    plan.record_id = rng.random();
    if dirty > 0.0 && rng.random_bool(dirty) {
        let kind = faults::draw_row_fault(rng, text, true);
        if kind == FaultKind::DuplicateRecord {
            plans.push(plan);
            plan.duplicate = true;
            plan.fault = Some(kind);
            if timed && rng.random_bool(0.5) {
                // Keyed in again a few minutes later.
                plan.t += rng.random_range(1..5);
                plan.fault = Some(FaultKind::RepeatedCrossing);
            }
        } else {
            plan.fault = Some(kind);
        }
    }
    plans.push(plan);
}

fn work(cfg: &WorldConfig, span: Span, index: u32, id: u64) -> PersonWork {
    let life = sim::life(cfg.seed, id, span, cfg.dirty == 0.0);
    let crossings = REPORTING.map(|r| truth::crossings(&life, r));
    let mut rng = ChaCha8Rng::seed_from_u64(
        cfg.seed ^ 0xFA17_0000_0000_0000 ^ id.wrapping_mul(0xBF58_476D_1CE4_E5B9),
    );
    let mut border: [Vec<Plan>; 3] = Default::default();
    let mut missing = Vec::new();
    let mut truth_crossings = String::new();
    let p = &life.person;
    let in_window = |t: i64| {
        let day = t.div_euclid(MINUTES_PER_DAY) as Day;
        day >= span.start && day <= span.end
    };
    for (ri, cs) in crossings.iter().enumerate() {
        let r = REPORTING[ri];
        for c in cs {
            if !in_window(c.t) {
                continue;
            }
            let mv = &life.moves[c.move_index];
            let post = match c.direction {
                Direction::Arrival => mv.post_to,
                Direction::Departure => mv.post_from,
            };
            let gap = match mv.mode {
                geo::Mode::Land => cfg.dirty * 0.4,
                _ => cfg.dirty * 0.05,
            };
            let unrecorded = if mv.irregular {
                Some("irregular")
            } else if gap > 0.0 && rng.random_bool(gap) {
                missing.push((r, c.move_index, c.direction, c.t));
                Some("not_recorded")
            } else {
                None
            };
            let skew = if cfg.dirty > 0.0 {
                post.map_or(0, |p| POSTS[p as usize].clock_skew_minutes)
            } else {
                0
            };
            let (counterpart, dir) = match c.direction {
                Direction::Arrival => (mv.from, "arrival"),
                Direction::Departure => (mv.to, "departure"),
            };
            let _ = writeln!(
                truth_crossings,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.id,
                geo::alpha3(r),
                dir,
                table::format_date(c.day(), "%Y-%m-%d"),
                table::format_datetime(c.t, "%H:%M"),
                geo::alpha3(counterpart),
                mv.mode.code(),
                unrecorded.unwrap_or("recorded"),
                if c.resident_before {
                    "resident"
                } else {
                    "non_resident"
                },
                c.migration,
                c.day() + truth::WINDOW_DAYS - 1 <= span.end,
                post.map(|p| csv_field(POSTS[p as usize].name))
                    .unwrap_or_default(),
                // The stay granted at entry, as the border export records
                // it (entries of non-citizens only).
                if c.direction == Direction::Arrival && p.citizenship != r {
                    mv.permitted_days.to_string()
                } else {
                    String::new()
                },
            );
            if unrecorded.is_some() {
                continue;
            }
            let plan = Plan::new(c.t + skew as i64, index, c.move_index, c.direction);
            plan_faults(
                &mut rng,
                cfg.dirty,
                r != geo::HND,
                true,
                &mut border[ri],
                plan,
            );
        }
    }
    let mut permits: [Vec<Plan>; 3] = Default::default();
    for (i, permit) in life.permits.iter().enumerate() {
        if permit.issue < span.start || permit.issue > span.end {
            continue;
        }
        let ri = REPORTING
            .iter()
            .position(|&r| r == permit.country)
            .unwrap_or(0);
        let plan = Plan::new(
            permit.issue as i64 * MINUTES_PER_DAY,
            index,
            i,
            Direction::Arrival,
        );
        plan_faults(
            &mut rng,
            cfg.dirty,
            permit.country != geo::HND,
            false,
            &mut permits[ri],
            plan,
        );
    }
    let mut returns = Vec::new();
    for (i, ret) in life.returns.iter().enumerate() {
        if ret.day < span.start
            || ret.day > span.end
            || !(geo::is_reporting(ret.destination) || geo::is_reporting(ret.host))
        {
            continue;
        }
        let plan = Plan::new(
            ret.day as i64 * MINUTES_PER_DAY,
            index,
            i,
            Direction::Arrival,
        );
        plan_faults(&mut rng, cfg.dirty, true, false, &mut returns, plan);
    }
    let truth_persons = format!(
        "{},{},{},{},{},{},{},{},{},{}\n",
        p.id,
        p.profile.name(),
        geo::alpha3(p.citizenship),
        geo::alpha3(p.home),
        if p.female { "F" } else { "M" },
        table::format_date(p.birth, "%Y-%m-%d"),
        match p.doc_type {
            sim::DocType::Passport => "passport",
            sim::DocType::NationalId => "national_id",
        },
        csv_field(&p.doc_number),
        csv_field(&p.name.given),
        csv_field(&p.name.family),
    );
    PersonWork {
        life,
        crossings,
        border,
        permits,
        returns,
        missing,
        truth_persons,
        truth_crossings,
    }
}

/// Writes one chunk's plans to a source, applying faults; returns the
/// fault log's lines for them.
fn write_plans(
    source: &mut Source,
    plans: &mut [Plan],
    cells_of: &(dyn Fn(&Plan) -> Vec<Cell> + Sync),
    person_of: &(dyn Fn(&Plan) -> u64 + Sync),
) -> io::Result<Vec<String>> {
    plans.sort_by_key(|p| (p.t, p.life, p.item, p.duplicate));
    let mut log = Vec::new();
    let mut original_rows: HashMap<(u32, u32), u64> = HashMap::new();
    for plan in plans.iter() {
        let mut cells = cells_of(plan);
        let mut unquoted = None;
        let mut applied = None;
        if let Some(kind) = plan.fault
            && !plan.duplicate
        {
            let mut rng = ChaCha8Rng::seed_from_u64(plan.fault_seed);
            applied = faults::apply(
                &mut rng,
                kind,
                &mut cells,
                &source.roles,
                source.style,
                source.delimiter,
            );
            unquoted = applied.as_ref().and_then(|a| a.unquoted);
        }
        let (row, part) = source.write(&cells, unquoted)?;
        let person = person_of(plan).to_string();
        source.last_person.clone_from(&person);
        if plan.duplicate {
            let of = original_rows
                .get(&(plan.life, plan.item))
                .copied()
                .unwrap_or_default();
            let note = format!("duplicate of row {of}");
            log.push(fault_line(
                &source.rel,
                &part,
                Some(row),
                plan.fault.unwrap_or(FaultKind::DuplicateRecord),
                "",
                "",
                &note,
                &person,
            ));
        }
        if let Some(a) = applied {
            let column = source
                .headers
                .get(a.column)
                .map(String::as_str)
                .unwrap_or_default();
            log.push(fault_line(
                &source.rel,
                &part,
                Some(row),
                a.kind,
                column,
                &a.written,
                &a.expected,
                &person,
            ));
        }
        if !plan.duplicate {
            original_rows.insert((plan.life, plan.item), row);
        }
    }
    Ok(log)
}

fn csv_source(
    out: &Output,
    rel: &str,
    columns: &[(&str, Role)],
    delimiter: u8,
    encoding: &'static encoding_rs::Encoding,
    style: DateStyle,
    description: &str,
) -> Result<Source, WorldError> {
    let headers: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let sink = CsvSink::create(&out.path(rel), &headers, delimiter, encoding, style)
        .map_err(out.err(rel))?;
    Ok(Source::new(
        rel,
        Box::new(sink),
        columns,
        delimiter as char,
        true,
        description,
    ))
}

fn ndjson_source(
    out: &Output,
    rel: &str,
    columns: &[(&str, Role)],
    description: &str,
) -> Result<Source, WorldError> {
    let headers: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let sink = NdjsonSink::create(&out.path(rel), &headers).map_err(out.err(rel))?;
    Ok(Source::new(
        rel,
        Box::new(sink),
        columns,
        '"',
        true,
        description,
    ))
}

fn xlsx_source(
    out: &Output,
    book: &std::sync::Arc<std::sync::Mutex<XlsxBook>>,
    rel: &str,
    sheet: &str,
    columns: &[(&str, Role)],
    description: &str,
) -> Result<Source, WorldError> {
    let headers: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let sink = XlsxSheet::add(book, sheet, &headers).map_err(out.err(rel))?;
    Ok(Source::new(
        rel,
        Box::new(sink),
        columns,
        ',',
        false,
        description,
    ))
}

fn truth_file(out: &Output, rel: &str, header: &str) -> Result<BufWriter<File>, WorldError> {
    let mut w =
        BufWriter::with_capacity(1 << 20, File::create(out.path(rel)).map_err(out.err(rel))?);
    writeln!(w, "{header}").map_err(out.err(rel))?;
    Ok(w)
}

pub const BORDER_FILES: [&str; 3] = [
    "sources/gtm-igm/movimientos_migratorios.csv",
    "sources/hnd-inm/registros_migratorios.xlsx",
    "sources/slv-dgme/movimientos.ndjson",
];
pub const PERMIT_FILES: [&str; 3] = [
    "sources/gtm-igm/residencias.csv",
    "sources/hnd-inm/registros_migratorios.xlsx",
    "sources/slv-dgme/residencias.ndjson",
];
pub const RETURNS_FILE: &str = "sources/returns-register/returns.csv";
pub const POPULATION_FILE: &str = "sources/population/population.csv";
pub const SIGNALS_FILE: &str = "sources/signals/signals.csv";
pub const CASE_FILES: [&str; 3] = [
    "sources/trafficking/org-a/cases.xlsx",
    "sources/trafficking/org-b/cases.csv",
    "sources/trafficking/org-c/expedientes.csv",
];

/// Generates a world into `out`, calling `progress(done, total)` as persons
/// are written.
pub fn generate(
    cfg: &WorldConfig,
    out_dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary, WorldError> {
    check(cfg)?;
    let out = Output {
        root: out_dir.to_path_buf(),
    };
    create_folders(&out)?;
    let period = Period::of(cfg)?;
    let mut exports = Exports::create(&out)?;
    let mut truth = TruthFiles::create(&out)?;
    let mut accounts = Accounts::new(period.months);
    let mut crossings = 0u64;
    let chunks = cfg.persons.div_ceil(CHUNK);
    for chunk in 0..chunks {
        let ids = chunk * CHUNK..((chunk + 1) * CHUNK).min(cfg.persons);
        let (mut works, chunk_accounts) = simulate(cfg, &period, ids);
        accounts.merge(&chunk_accounts);
        crossings += truth.write(&out, &works)?;
        exports.write(&out, &mut works, &mut truth.faults)?;
        progress(((chunk + 1) * CHUNK).min(cfg.persons), cfg.persons);
    }
    let mut summary = Summary {
        persons: cfg.persons,
        crossings,
        ..Default::default()
    };
    exports.finish(cfg, &out, &mut truth.faults, &mut summary)?;
    write_trafficking(cfg, period.span, &out, &mut summary)?;
    write_aux(cfg, &out, &accounts, period.first_month, &mut summary)?;
    write_accounts(&out, &accounts, &period.month_ends, period.first_month)?;
    summary.faults = truth.finish(&out)?;
    write_mappings(&out)?;
    write_partners_key(cfg, &out)?;
    write_readme(cfg, &out, &summary)?;
    Ok(summary)
}

/// Refuses a configuration the generator cannot make a world of.
fn check(cfg: &WorldConfig) -> Result<(), WorldError> {
    if cfg.persons == 0 {
        return Err(WorldError::Config("--persons must be at least 1".into()));
    }
    if !(0.0..=0.5).contains(&cfg.dirty) {
        return Err(WorldError::Config(format!(
            "--dirty must be between 0 and 0.5, not {}",
            cfg.dirty
        )));
    }
    if !(1..=30).contains(&cfg.years) || !(1990..=2100).contains(&cfg.start_year) {
        return Err(WorldError::Config(
            "the period must start between 1990 and 2100 and last 1 to 30 years".into(),
        ));
    }
    Ok(())
}

fn create_folders(out: &Output) -> Result<(), WorldError> {
    for dir in [
        "sources/gtm-igm",
        "sources/hnd-inm",
        "sources/slv-dgme",
        "sources/returns-register",
        "sources/population",
        "sources/signals",
        "sources/trafficking/org-a",
        "sources/trafficking/org-b",
        "sources/trafficking/org-c",
        "truth",
    ] {
        fs::create_dir_all(out.path(dir)).map_err(out.err(dir))?;
    }
    Ok(())
}

/// The simulated period: its span of days and its months.
struct Period {
    span: Span,
    first_month: MonthIndex,
    months: usize,
    /// The last minute of each month, from the month before the first.
    month_ends: Vec<i64>,
}

impl Period {
    fn of(cfg: &WorldConfig) -> Result<Period, WorldError> {
        let start = day_of(
            chrono::NaiveDate::from_ymd_opt(cfg.start_year, 1, 1)
                .ok_or_else(|| WorldError::Config("bad start year".into()))?,
        );
        let end = day_of(
            chrono::NaiveDate::from_ymd_opt(cfg.start_year + cfg.years - 1, 12, 31)
                .ok_or_else(|| WorldError::Config("bad period".into()))?,
        );
        let span = Span {
            warmup: start - 365,
            start,
            end,
            horizon: end + truth::WINDOW_DAYS + 60,
        };
        let first_month = month_of_day(start);
        let months = (cfg.years * 12) as usize;
        let month_ends = (0..=months as i32)
            .map(|m| (last_day_of_month(first_month + m - 1) as i64 + 1) * MINUTES_PER_DAY - 1)
            .collect();
        Ok(Period {
            span,
            first_month,
            months,
            month_ends,
        })
    }
}

/// Simulates the lives of one chunk of persons, in parallel, and counts
/// them into the chunk's accounts.
fn simulate(
    cfg: &WorldConfig,
    period: &Period,
    ids: std::ops::Range<u64>,
) -> (Vec<PersonWork>, Accounts) {
    let base = ids.start;
    let works: Vec<PersonWork> = ids
        .into_par_iter()
        .map(|id| work(cfg, period.span, (id - base) as u32, id))
        .collect();
    let accounts = works
        .par_iter()
        .fold(
            || Accounts::new(period.months),
            |mut acc, w| {
                acc.add(&w.life, &w.crossings, &period.month_ends);
                acc
            },
        )
        .reduce(
            || Accounts::new(period.months),
            |mut a, b| {
                a.merge(&b);
                a
            },
        );
    (works, accounts)
}

/// The agencies' exports of crossings, permits and returns.
struct Exports {
    border: [Source; 3],
    permits: [Source; 3],
    returns: Source,
}

impl Exports {
    fn create(out: &Output) -> Result<Exports, WorldError> {
        let w1252 = encoding_rs::WINDOWS_1252;
        let hnd_book = XlsxBook::create(&out.path(BORDER_FILES[1]));
        let border = [
            csv_source(
                out,
                BORDER_FILES[0],
                export::GTM_BORDER_COLUMNS,
                b';',
                w1252,
                table::DMY,
                "Guatemala, Instituto Guatemalteco de Migración: entries and exits (CSV, Windows-1252, ';', dd/mm/yyyy, Spanish headers)",
            )?,
            xlsx_source(
                out,
                &hnd_book,
                BORDER_FILES[1],
                "Movimientos",
                export::HND_BORDER_COLUMNS,
                "Honduras, Instituto Nacional de Migración: entries and exits (Excel, sheet Movimientos)",
            )?,
            ndjson_source(
                out,
                BORDER_FILES[2],
                export::SLV_BORDER_COLUMNS,
                "El Salvador, Dirección General de Migración y Extranjería: entries and exits (NDJSON, nested traveller and document)",
            )?,
        ];
        let permits = [
            csv_source(
                out,
                PERMIT_FILES[0],
                export::permit_columns(geo::GTM),
                b';',
                w1252,
                table::DMY,
                "Guatemala: residence permits (CSV, Windows-1252)",
            )?,
            xlsx_source(
                out,
                &hnd_book,
                PERMIT_FILES[1],
                "Residencias",
                export::permit_columns(geo::HND),
                "Honduras: residence permits (Excel, sheet Residencias)",
            )?,
            ndjson_source(
                out,
                PERMIT_FILES[2],
                export::permit_columns(geo::SLV),
                "El Salvador: residence permits (NDJSON)",
            )?,
        ];
        let returns = csv_source(
            out,
            RETURNS_FILE,
            export::RETURN_COLUMNS,
            b',',
            encoding_rs::UTF_8,
            table::ISO,
            "Regional returns register: forced, assisted voluntary and voluntary returns (UTF-8 CSV, English)",
        )?;
        Ok(Exports {
            border,
            permits,
            returns,
        })
    }

    /// Writes one chunk's records into every export.
    fn write(
        &mut self,
        out: &Output,
        works: &mut [PersonWork],
        faults: &mut FaultLog,
    ) -> Result<(), WorldError> {
        let mut border_plans: [Vec<Plan>; 3] = Default::default();
        let mut permit_plans: [Vec<Plan>; 3] = Default::default();
        let mut return_plans: Vec<Plan> = Vec::new();
        for w in works.iter_mut() {
            for ri in 0..3 {
                border_plans[ri].append(&mut w.border[ri]);
                permit_plans[ri].append(&mut w.permits[ri]);
            }
            return_plans.append(&mut w.returns);
        }
        let lives: Vec<&Life> = works.iter().map(|w| &w.life).collect();
        let lives = &lives;
        let person_of = |p: &Plan| lives[p.life as usize].person.id;
        // Each source is its own file: write them side by side, then log
        // their faults in a fixed order so the output stays deterministic.
        type CellsOf<'a> = Box<dyn Fn(&Plan) -> Vec<Cell> + Sync + Send + 'a>;
        let mut jobs: Vec<(&mut Source, &mut Vec<Plan>, CellsOf)> = Vec::new();
        for ((ri, source), plans) in self
            .border
            .iter_mut()
            .enumerate()
            .zip(border_plans.iter_mut())
        {
            let r = REPORTING[ri];
            jobs.push((
                source,
                plans,
                Box::new(move |p: &Plan| {
                    let life = lives[p.life as usize];
                    let mv = &life.moves[p.item as usize];
                    let post = match p.direction {
                        Direction::Arrival => mv.post_to,
                        Direction::Departure => mv.post_from,
                    };
                    export::border_cells(&export::BorderRecord {
                        life,
                        mv,
                        r,
                        direction: p.direction,
                        t: p.t,
                        post,
                        record_id: p.record_id,
                    })
                }),
            ));
        }
        for (source, plans) in self.permits.iter_mut().zip(permit_plans.iter_mut()) {
            jobs.push((
                source,
                plans,
                Box::new(move |p: &Plan| {
                    let life = lives[p.life as usize];
                    export::permit_cells(life, &life.permits[p.item as usize])
                }),
            ));
        }
        jobs.push((
            &mut self.returns,
            &mut return_plans,
            Box::new(move |p: &Plan| {
                let life = lives[p.life as usize];
                export::return_cells(life, &life.returns[p.item as usize], p.record_id as u64)
            }),
        ));
        let logs: Vec<Result<Vec<String>, WorldError>> = jobs
            .into_par_iter()
            .map(|(source, plans, cells_of)| {
                let rel = source.rel.clone();
                write_plans(source, plans, &*cells_of, &person_of).map_err(|e| WorldError::Io {
                    path: out.path(&rel),
                    source: e,
                })
            })
            .collect();
        for log in logs {
            faults.write(&log?).map_err(out.err("truth/faults.csv"))?;
        }
        Ok(())
    }

    /// Closes every export (an interrupted export: the last line of two
    /// text files is cut short) and lists them in the summary.
    fn finish(
        &mut self,
        cfg: &WorldConfig,
        out: &Output,
        faults: &mut FaultLog,
        summary: &mut Summary,
    ) -> Result<(), WorldError> {
        for (i, source) in self.border.iter_mut().enumerate() {
            let truncate = cfg.dirty > 0.0 && source.text && source.rows > 0;
            if truncate {
                let line = fault_line(
                    &source.rel,
                    "",
                    Some(source.rows + u64::from(i == 0)),
                    FaultKind::TruncatedLine,
                    "",
                    "",
                    "",
                    &source.last_person,
                );
                faults.write(&[line]).map_err(out.err("truth/faults.csv"))?;
            }
            source
                .finish(truncate)
                .map_err(out.err(&source.rel.clone()))?;
            summary
                .files
                .push((source.rel.clone(), source.rows, source.description.clone()));
        }
        for source in self
            .permits
            .iter_mut()
            .chain(std::iter::once(&mut self.returns))
        {
            source.finish(false).map_err(out.err(&source.rel.clone()))?;
            summary
                .files
                .push((source.rel.clone(), source.rows, source.description.clone()));
        }
        Ok(())
    }
}

/// The truth files written as persons stream past: the persons, their
/// crossings, and the fault log.
struct TruthFiles {
    faults: FaultLog,
    persons: BufWriter<File>,
    crossings: BufWriter<File>,
}

impl TruthFiles {
    fn create(out: &Output) -> Result<TruthFiles, WorldError> {
        Ok(TruthFiles {
            faults: FaultLog {
                out: truth_file(
                    out,
                    "truth/faults.csv",
                    "file,part,row,kind,column,written,expected,person_id",
                )?,
                count: 0,
            },
            persons: truth_file(
                out,
                "truth/persons.csv",
                "person_id,profile,citizenship,residence_at_start,sex,date_of_birth,document_type,document_number,given_names,family_names",
            )?,
            crossings: truth_file(
                out,
                "truth/crossings.csv",
                "person_id,country,direction,date,time,counterpart,mode,recording,status_before,long_term_migration,window_observed,post,permitted_days",
            )?,
        })
    }

    /// Writes one chunk's persons and crossings, and logs the crossings no
    /// export recorded; returns the number of crossings.
    fn write(&mut self, out: &Output, works: &[PersonWork]) -> Result<u64, WorldError> {
        let mut crossings = 0;
        for w in works {
            self.persons
                .write_all(w.truth_persons.as_bytes())
                .map_err(out.err("truth/persons.csv"))?;
            self.crossings
                .write_all(w.truth_crossings.as_bytes())
                .map_err(out.err("truth/crossings.csv"))?;
            crossings += w.truth_crossings.lines().count() as u64;
            for &(r, move_index, direction, t) in &w.missing {
                let line = missing_record_line(w, r, move_index, direction, t);
                self.faults
                    .write(&[line])
                    .map_err(out.err("truth/faults.csv"))?;
            }
        }
        Ok(crossings)
    }

    /// Flushes the files; returns the number of faults logged.
    fn finish(mut self, out: &Output) -> Result<u64, WorldError> {
        self.faults
            .out
            .flush()
            .map_err(out.err("truth/faults.csv"))?;
        self.persons.flush().map_err(out.err("truth/persons.csv"))?;
        self.crossings
            .flush()
            .map_err(out.err("truth/crossings.csv"))?;
        Ok(self.faults.count)
    }
}

/// The fault-log line of a crossing that no export recorded.
fn missing_record_line(
    w: &PersonWork,
    r: Cc,
    move_index: usize,
    direction: Direction,
    t: i64,
) -> String {
    let ri = REPORTING.iter().position(|&x| x == r).unwrap_or(0);
    let mv = &w.life.moves[move_index];
    let post = if direction == Direction::Arrival {
        mv.post_to
    } else {
        mv.post_from
    };
    let what = format!(
        "{} {} on {} at {}",
        if direction == Direction::Arrival {
            "entry"
        } else {
            "exit"
        },
        geo::alpha3(r),
        table::format_datetime(t, "%Y-%m-%d %H:%M"),
        post.map(|p| POSTS[p as usize].name).unwrap_or("")
    );
    fault_line(
        BORDER_FILES[ri],
        "",
        None,
        FaultKind::MissingRecord,
        "",
        "",
        &what,
        &w.life.person.id.to_string(),
    )
}

/// The mapping files of every source and the organisations' linkage
/// schemas, as a newcomer would write them.
fn write_mappings(out: &Output) -> Result<(), WorldError> {
    for (rel, text) in mappings::MAPPINGS {
        fs::write(out.path(rel), text).map_err(out.err(rel))?;
    }
    for (rel, text) in mappings::linkage_files() {
        fs::write(out.path(&rel), text).map_err(out.err(&rel))?;
    }
    Ok(())
}

/// The secret the three organisations share for `corridor encode`
/// (derived from the seed, so a demo is reproducible; real partners draw
/// it at random and never give it to the platform).
fn write_partners_key(cfg: &WorldConfig, out: &Output) -> Result<(), WorldError> {
    use rand::RngCore;
    let rel = mappings::PARTNERS_KEY;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0CA5_E5EC_2E70_0000);
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    fs::write(out.path(rel), format!("{hex}\n")).map_err(out.err(rel))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(out.path(rel), fs::Permissions::from_mode(0o600))
            .map_err(out.err(rel))?;
    }
    Ok(())
}

fn write_trafficking(
    cfg: &WorldConfig,
    span: Span,
    out: &Output,
    summary: &mut Summary,
) -> Result<(), WorldError> {
    let n = cfg.victims.unwrap_or((cfg.persons / 20).max(300));
    let victims: Vec<trafficking::Victim> = (0..n)
        .into_par_iter()
        .map(|id| trafficking::victim(cfg.seed, id, span.start, span.end))
        .collect();
    let mut records: Vec<trafficking::CaseRecord> = victims
        .par_iter()
        .flat_map_iter(|v| trafficking::records(cfg.seed, v, span.end))
        .collect();
    records
        .sort_by(|a, b| (a.org, a.registered, &a.case_id).cmp(&(b.org, b.registered, &b.case_id)));
    // Case numbers as registries give them: prefix, year, running number;
    // unique within each organisation.
    let mut seq = [0u32; 3];
    for r in records.iter_mut() {
        seq[r.org] += 1;
        let year = table::format_date(r.registered, "%Y");
        r.case_id = format!("{}-{year}-{:06}", ["CM", "SH", "FT"][r.org], seq[r.org]);
    }

    let mut tv = truth_file(
        out,
        "truth/victims.csv",
        "victim_id,given_names,family_names,sex,date_of_birth,place_of_birth,citizenship,country_of_exploitation,exploitation_types,labour_industry,means_of_control,recruiter_relationship,identified",
    )?;
    for v in &victims {
        writeln!(
            tv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            v.id,
            csv_field(&v.name.given),
            csv_field(&v.name.family),
            if v.female { "F" } else { "M" },
            table::format_date(v.birth, "%Y-%m-%d"),
            csv_field(&v.place_of_birth),
            geo::alpha3(v.citizenship),
            geo::alpha3(v.exploitation_country),
            v.exploitation.join("|"),
            v.labour_industry.unwrap_or(""),
            v.means.join("|"),
            v.recruiter,
            table::format_date(v.identified, "%Y-%m-%d"),
        )
        .map_err(out.err("truth/victims.csv"))?;
    }
    tv.flush().map_err(out.err("truth/victims.csv"))?;
    let mut tr = truth_file(
        out,
        "truth/case_records.csv",
        "file,case_id,victim_id,organisation,disagreements",
    )?;
    for r in &records {
        writeln!(
            tr,
            "{},{},{},{},{}",
            CASE_FILES[r.org],
            r.case_id,
            r.victim,
            trafficking::ORGANISATIONS[r.org].code,
            r.disagreements.join("|")
        )
        .map_err(out.err("truth/case_records.csv"))?;
    }
    tr.flush().map_err(out.err("truth/case_records.csv"))?;
    // The personal details each organisation recorded, in one tidy file:
    // what linkage peers (and plaintext linkage under an agreement) read.
    let mut td = truth_file(
        out,
        "truth/case_details.csv",
        "record_id,organisation,given_name,family_name,birth_date,place_of_birth,sex,citizenship,victim_id",
    )?;
    for r in &records {
        writeln!(
            td,
            "{},{},{},{},{},{},{},{},{}",
            r.case_id,
            trafficking::ORGANISATIONS[r.org].code,
            csv_field(&r.given),
            csv_field(&r.family),
            r.birth
                .map(|b| table::format_date(b, "%Y-%m-%d"))
                .unwrap_or_default(),
            csv_field(r.place_of_birth.as_deref().unwrap_or("")),
            match r.female {
                Some(true) => "F",
                Some(false) => "M",
                None => "",
            },
            r.citizenship.map(geo::alpha3).unwrap_or(""),
            r.victim
        )
        .map_err(out.err("truth/case_details.csv"))?;
    }
    td.flush().map_err(out.err("truth/case_details.csv"))?;

    let a_columns = trafficking::org_a_columns();
    let a_headers: Vec<&str> = a_columns.iter().map(String::as_str).collect();
    let book = XlsxBook::create(&out.path(CASE_FILES[0]));
    let mut a = XlsxSheet::add(&book, "Cases", &a_headers).map_err(out.err(CASE_FILES[0]))?;
    let mut b = CsvSink::create(
        &out.path(CASE_FILES[1]),
        trafficking::ORG_B_COLUMNS,
        b',',
        encoding_rs::UTF_8,
        table::MDY,
    )
    .map_err(out.err(CASE_FILES[1]))?;
    let mut c = CsvSink::create(
        &out.path(CASE_FILES[2]),
        trafficking::ORG_C_COLUMNS,
        b';',
        encoding_rs::WINDOWS_1252,
        table::DMY,
    )
    .map_err(out.err(CASE_FILES[2]))?;
    let mut counts = [0u64; 3];
    for r in &records {
        counts[r.org] += 1;
        match r.org {
            0 => a
                .write_row(&trafficking::org_a_cells(r), None)
                .map_err(out.err(CASE_FILES[0]))?,
            1 => b
                .write_row(&trafficking::org_b_cells(r), None)
                .map_err(out.err(CASE_FILES[1]))?,
            _ => c
                .write_row(&trafficking::org_c_cells(r), None)
                .map_err(out.err(CASE_FILES[2]))?,
        };
    }
    Box::new(a).finish(false).map_err(out.err(CASE_FILES[0]))?;
    Box::new(b).finish(false).map_err(out.err(CASE_FILES[1]))?;
    Box::new(c).finish(false).map_err(out.err(CASE_FILES[2]))?;
    for (i, org) in trafficking::ORGANISATIONS.iter().enumerate() {
        summary
            .files
            .push((CASE_FILES[i].to_string(), counts[i], org.name.to_string()));
    }
    summary.victims = n;
    summary.case_records = records.len() as u64;
    Ok(())
}

fn write_aux(
    cfg: &WorldConfig,
    out: &Output,
    accounts: &Accounts,
    first_month: i32,
    summary: &mut Summary,
) -> Result<(), WorldError> {
    let mut pop = CsvSink::create(
        &out.path(POPULATION_FILE),
        auxiliary::POPULATION_COLUMNS,
        b',',
        encoding_rs::UTF_8,
        table::ISO,
    )
    .map_err(out.err(POPULATION_FILE))?;
    let rows = auxiliary::population_rows(cfg.start_year, cfg.years);
    for row in &rows {
        pop.write_row(row, None).map_err(out.err(POPULATION_FILE))?;
    }
    Box::new(pop)
        .finish(false)
        .map_err(out.err(POPULATION_FILE))?;
    summary.files.push((
        POPULATION_FILE.into(),
        rows.len() as u64,
        "Mid-year population by country, year, sex and five-year age group (UTF-8 CSV)".into(),
    ));

    let mut sig = CsvSink::create(
        &out.path(SIGNALS_FILE),
        auxiliary::SIGNAL_COLUMNS,
        b',',
        encoding_rs::UTF_8,
        table::ISO,
    )
    .map_err(out.err(SIGNALS_FILE))?;
    let rows = auxiliary::signal_rows(cfg.seed, accounts, first_month);
    for row in &rows {
        sig.write_row(row, None).map_err(out.err(SIGNALS_FILE))?;
    }
    Box::new(sig).finish(false).map_err(out.err(SIGNALS_FILE))?;
    summary.files.push((
        SIGNALS_FILE.into(),
        rows.len() as u64,
        "Monthly mobile-device counts and search interest by corridor (UTF-8 CSV)".into(),
    ));

    let mut bias = truth_file(
        out,
        "truth/signal_bias.csv",
        "signal,age_group,sex,coverage",
    )?;
    let bands = corridor_model::age::AgeGrouping::Broad.codes();
    for (a, band) in bands.iter().enumerate() {
        for (s, sex) in ["F", "M"].iter().enumerate() {
            writeln!(
                bias,
                "mobile_devices,{band},{sex},{}",
                auxiliary::MOBILE_COVERAGE[a][s]
            )
            .map_err(out.err("truth/signal_bias.csv"))?;
        }
    }
    bias.flush().map_err(out.err("truth/signal_bias.csv"))
}

/// `truth/stocks.csv` and `truth/flows.csv`.
fn write_accounts(
    out: &Output,
    acc: &Accounts,
    month_ends: &[i64],
    first_month: i32,
) -> Result<(), WorldError> {
    let mut stocks = truth_file(
        out,
        "truth/stocks.csv",
        "country,month,month_end,citizenship,sex,status,location,persons",
    )?;
    let mut flows = truth_file(
        out,
        "truth/flows.csv",
        "country,month,citizenship,sex,arrivals,departures,migrant_arrivals,migrant_departures",
    )?;
    for (ri, &r) in REPORTING.iter().enumerate() {
        for (m, month_end) in month_ends.iter().enumerate().take(acc.months + 1) {
            let label = month_label(first_month + m as i32 - 1);
            let end =
                table::format_date((month_end.div_euclid(MINUTES_PER_DAY)) as Day, "%Y-%m-%d");
            for cit in 0..truth::N_CIT {
                for sex in 0..2 {
                    let sex_code = if sex == 0 { "F" } else { "M" };
                    for resident in 0..2 {
                        for abroad in 0..2 {
                            let n = acc.stock[acc.stock_index(ri, m, cit, sex, resident, abroad)];
                            if n > 0 {
                                writeln!(
                                    stocks,
                                    "{},{label},{end},{},{sex_code},{},{},{n}",
                                    geo::alpha3(r),
                                    geo::COUNTRIES[cit],
                                    if resident == 1 {
                                        "resident"
                                    } else {
                                        "non_resident"
                                    },
                                    if abroad == 1 { "abroad" } else { "present" },
                                )
                                .map_err(out.err("truth/stocks.csv"))?;
                            }
                        }
                    }
                    if m > 0 {
                        let f = |k| acc.flows[acc.flow_index(ri, m, cit, sex, k)];
                        if (0..4).any(|k| f(k) > 0) {
                            writeln!(
                                flows,
                                "{},{label},{},{sex_code},{},{},{},{}",
                                geo::alpha3(r),
                                geo::COUNTRIES[cit],
                                f(0),
                                f(1),
                                f(2),
                                f(3)
                            )
                            .map_err(out.err("truth/flows.csv"))?;
                        }
                    }
                }
            }
        }
    }
    let _ = first_day_of_month;
    stocks.flush().map_err(out.err("truth/stocks.csv"))?;
    flows.flush().map_err(out.err("truth/flows.csv"))
}

fn write_readme(cfg: &WorldConfig, out: &Output, summary: &Summary) -> Result<(), WorldError> {
    let mut s = String::new();
    let _ = writeln!(s, "# A Corridor demo world\n");
    let _ = writeln!(
        s,
        "Generated by `corridor generate --seed {} --persons {} --dirty {}`: {} simulated persons, {} to {}. \
         Everything here is synthetic; no real person is described.\n",
        cfg.seed,
        cfg.persons,
        cfg.dirty,
        cfg.persons,
        cfg.start_year,
        cfg.start_year + cfg.years - 1
    );
    let _ = writeln!(
        s,
        "## Sources (what agencies export)\n\n| file | rows | what |\n|---|---|---|"
    );
    for (path, rows, what) in &summary.files {
        let _ = writeln!(s, "| `{path}` | {rows} | {what} |");
    }
    let _ = writeln!(
        s,
        "\n## Ground truth (`truth/`)\n\n\
         - `persons.csv`: every simulated person, with profile, citizenship, residence at the start and the raw identifiers the exports carry.\n\
         - `crossings.csv`: every true crossing of a reporting country's border in the export period, whether it was recorded (`recorded`, `irregular`: away from any post, `not_recorded`: a coverage gap), the person's statistical residence before it and whether it is a long-term migration by the 12/16-month rule (exact `migrbc` counting, computed on the complete life, which runs 16 months past the period); `window_observed` says whether the whole 487-day window lies inside the export period; `permitted_days` is the stay granted at an entry of a non-citizen, as the border export records it.\n\
         - `stocks.csv`: persons present at each month end (month 0 is the opening stock), by country, citizenship, sex and statistical residence; residents abroad are listed with `location=abroad`.\n\
         - `flows.csv`: arrivals, departures, migrant arrivals and migrant departures by month.\n\
         - `faults.csv`: every fault seeded into the exports ({} in all): file, sheet, row (1-based line or sheet row, header = 1), kind, column, the value written and the value it should have been.\n\
         - `victims.csv`, `case_records.csv`: the true victims of trafficking and which organisation's record is which victim (the duplicate clusters), with how each record disagrees with the truth.\n\
         - `signal_bias.csv`: the coverage of the mobile-device signal by age and sex.\n",
        summary.faults
    );
    fs::write(out.path("README.md"), s).map_err(out.err("README.md"))
}

#[cfg(test)]
mod csv_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn truth_fields_read_back_with_the_csv_crate(a in "[a-zA-Z ,\"\r\n]{0,8}", b in "[a-z,\r]{0,4}") {
            let line = format!("{},{},x\n", super::csv_field(&a), super::csv_field(&b));
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("csv");
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(&rows[0][0], a.as_str());
            prop_assert_eq!(&rows[0][1], b.as_str());
        }
    }
}
