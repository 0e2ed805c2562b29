//! `corridor derive`, `corridor table` and `corridor mirror`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use corridor_derive::residence::Rule;
use corridor_derive::status::InitialStatus;
use corridor_derive::{DeriveReport, Options};
use corridor_stats::{STANDARD_TABLES, TableSpec};
use corridor_store::Workspace;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct DeriveArgs {
    /// The workspace folder
    #[arg(long)]
    pub workspace: PathBuf,
    /// Treat the data as ending on this day (YYYY-MM-DD), itself observed; default: each country's last event. migrbc run on date R counts as --as-of R−1
    #[arg(long)]
    pub as_of: Option<String>,
    /// Days in the new state that make a long-term migration
    #[arg(long, default_value_t = 365)]
    pub threshold_days: i32,
    /// Length of the window that starts on the crossing day, in days
    #[arg(long, default_value_t = 487)]
    pub window_days: i32,
    /// Records of the same direction this many minutes apart are one crossing keyed twice
    #[arg(long, default_value_t = 120)]
    pub repeat_minutes: i32,
    /// File of supplied residence statuses (any format intake reads): the identifier columns, reporting_country, resident, status_date (see docs/indicators.md)
    #[arg(long)]
    pub initial_status: Option<PathBuf>,
    /// Columns of --initial-status holding the identifier parts, as the border events' mapping lists them in `person_key = { pseudonymise = [...] }`
    #[arg(long, value_delimiter = ',', default_value = "document_number")]
    pub status_identifiers: Vec<String>,
    /// Standard fields the mapping mixes into person_key (`with = [...]`), each a column of --initial-status; "" for none
    #[arg(long, value_delimiter = ',', default_value = "citizenship")]
    pub status_with: Vec<String>,
    /// Instead of deriving, back-test the provisional model at these cut-off dates (comma-separated YYYY-MM-DD)
    #[arg(long, value_delimiter = ',')]
    pub backtest: Option<Vec<String>>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

fn date(s: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{what} `{s}` is not a date like 2025-06-30"))
}

/// A comma-separated list's names, without the empty one `""` gives.
fn nonempty(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

pub fn derive(args: DeriveArgs) -> Result<()> {
    let workspace = args.workspace.as_path();
    let ws = Workspace::open(workspace)?;
    let opts = Options {
        rule: Rule {
            threshold_days: args.threshold_days,
            window_days: args.window_days,
        },
        as_of: args
            .as_of
            .as_deref()
            .map(|s| date(s, "--as-of"))
            .transpose()?,
        repeat_minutes: args.repeat_minutes,
        initial_status: args.initial_status.map(|path| InitialStatus {
            identifiers: nonempty(args.status_identifiers),
            with: nonempty(args.status_with),
            ..InitialStatus::new(path)
        }),
    };
    if let Some(cutoffs) = args.backtest {
        let cutoffs: Vec<NaiveDate> = cutoffs
            .iter()
            .map(|c| date(c, "--backtest cut-off"))
            .collect::<Result<_>>()?;
        let report = corridor_derive::backtest(&ws, &opts, &cutoffs)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(());
        }
        println!(
            "Back-test at {} cut-offs: {} provisional monthly figures compared with their final values.",
            report.cutoffs.len(),
            report.comparisons
        );
        println!(
            "  95 % intervals holding the final value: {:.1} %",
            100.0 * report.coverage
        );
        println!(
            "  mean absolute revision: {:.1} % of the final value (mean signed: {:+.1} %)",
            100.0 * report.mean_abs_revision,
            100.0 * report.mean_revision
        );
        println!("  by months from crossing to cut-off:");
        println!("    lag  figures  coverage  mean |revision|");
        for (lag, n, c, m) in &report.by_lag {
            println!(
                "    {lag:>3}  {n:>7}  {:>7.1} %  {:>8.1} %",
                100.0 * c,
                100.0 * m
            );
        }
        return Ok(());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} histories ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("deriving");
    let report = corridor_derive::derive(&ws, &opts, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, workspace);
    }
    Ok(())
}

pub(crate) fn print_report(r: &DeriveReport, workspace: &Path) {
    println!(
        "Derived {} border events ({} person-country histories) in {:.1} s:",
        r.events, r.histories, r.seconds
    );
    let through: Vec<String> = r
        .observed_through
        .iter()
        .map(|(c, d)| format!("{c} {d}"))
        .collect();
    println!("  data observed through: {}", through.join(", "));
    println!(
        "  {} crossings counted; {} records not counted (repeats of a crossing)",
        r.crossings_counted, r.records_not_counted
    );
    if r.records_unusable > 0 {
        println!(
            "  {} records left out: no person key, date or direction (not written by intake)",
            r.records_unusable
        );
    }
    println!("  repairs (each record flagged in `crossings.repairs`):");
    for (k, v) in &r.repairs {
        println!("    {k:<22} {v:>9}");
    }
    println!("  12/16-month rule outcomes:");
    for (k, v) in &r.outcomes {
        println!("    {k:<22} {v:>9}");
    }
    println!(
        "  stays: {} ({} still open, {} overstays); absences: {}",
        r.stays, r.open_stays, r.overstays, r.absences
    );
    println!(
        "  provisional model: {} finalised crossings in {} cells",
        r.training_crossings, r.model_cells
    );
    if let Some(prev) = &r.revised_against {
        println!("  revisions against the run of {prev} are in `revisions`");
    }
    println!(
        "  datasets: crossings, stays, stocks, provisional, revisions (query them with `corridor sql --workspace {}`)",
        workspace.display()
    );
}

#[derive(clap::Args)]
pub struct TableArgs {
    /// The workspace folder
    #[arg(long)]
    pub workspace: PathBuf,
    /// What to count (see --list)
    #[arg(long)]
    pub measure: Option<String>,
    /// Dimensions, comma-separated, e.g. month,citizenship,sex,age_group
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// A SQL condition over the dimensions, e.g. "citizenship = 'HND' AND month >= '2024-01'"
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// A table spec in TOML (measure, by, where)
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// A table of the standard library (see --list)
    #[arg(long)]
    pub standard: Option<String>,
    /// List measures, their dimensions and the standard tables
    #[arg(long)]
    pub list: bool,
    /// Output: table, csv or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write to this file instead of standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn table(args: TableArgs) -> Result<()> {
    if args.list {
        println!("Measures (--measure) and their dimensions (--by):");
        for m in corridor_stats::MEASURES {
            println!("  {:<22} {}", m.name, m.description);
            println!("  {:<22} by: {}", "", m.dimensions().join(", "));
        }
        println!("\nStandard tables (--standard):");
        for t in STANDARD_TABLES {
            println!("  {:<26} {}", t.name, t.title);
        }
        return Ok(());
    }
    let ws = Workspace::open(&args.workspace)?;
    let spec = match (&args.standard, &args.spec, &args.measure) {
        (Some(name), None, None) => corridor_stats::standard_table(name)?.spec(),
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            TableSpec::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        (None, None, Some(m)) => TableSpec {
            measure: m.clone(),
            by: args.by.clone(),
            filter: args.filter.clone(),
        },
        (None, None, None) => {
            bail!(
                "say what to count: --measure NAME [--by dims], --spec FILE.toml or --standard NAME (see --list)"
            )
        }
        _ => bail!("give only one of --measure, --spec and --standard"),
    };
    let mut spec = spec;
    if args.filter.is_some() && args.measure.is_none() {
        spec.filter = args.filter.clone();
    }
    let t = corridor_stats::table(&ws, &spec)?;
    let text = match args.format.as_str() {
        "table" => t.to_text(),
        "csv" => t.to_csv(),
        "json" => serde_json::to_string_pretty(&t)? + "\n",
        other => bail!("--format is table, csv or json, not `{other}`"),
    };
    write_out(&text, args.out.as_deref())
}

fn write_out(text: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

pub fn mirror(workspace: &Path, by: &str, format: &str, out: Option<&Path>) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let rows = corridor_stats::mirror::mirror(&ws, by)?;
    let text = match format {
        "csv" => corridor_stats::mirror::to_csv(&rows),
        "json" => serde_json::to_string_pretty(&rows)? + "\n",
        "table" => corridor_stats::mirror::to_text(&rows, by),
        other => bail!("--format is table, csv or json, not `{other}`"),
    };
    write_out(&text, out)
}
