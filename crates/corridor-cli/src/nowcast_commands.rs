//! `corridor nowcast`: experimental nowcasts of the latest months' flows.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use corridor_nowcast::series::{Month, parse_month};
use corridor_nowcast::{Backtest, BacktestOptions, Nowcast, Options};
use corridor_store::Workspace;

#[derive(clap::Args)]
pub struct NowcastArgs {
    /// The workspace folder (border events derived, signals ingested)
    #[arg(long)]
    pub workspace: PathBuf,
    /// The flow to nowcast: arrivals, departures, migrant_arrivals or migrant_departures
    #[arg(long, default_value = "departures")]
    pub measure: String,
    /// The series: corridor (each origin → destination, and each reporting country's total)
    #[arg(long, default_value = "corridor")]
    pub by: String,
    /// Months to nowcast after the last final month
    #[arg(long, default_value_t = 3)]
    pub horizon: usize,
    /// Use administrative figures up to this month only (YYYY-MM), as if the later ones were not reported yet
    #[arg(long)]
    pub as_of: Option<String>,
    /// The longest lead, in months, a signal may have over the flow
    #[arg(long, default_value_t = 3)]
    pub max_lag: i32,
    /// Fit without the signals (the baseline model)
    #[arg(long)]
    pub no_signals: bool,
    /// Use count signals that come by age group and sex as they are, not re-weighted by each group's coverage
    #[arg(long)]
    pub no_reweight: bool,
    /// Instead of one nowcast, back-test at every origin FROM..TO (YYYY-MM..YYYY-MM)
    #[arg(long, value_name = "FROM..TO")]
    pub backtest: Option<String>,
    /// In a back-test: months the signals are known ahead of the final administrative figures (default: the horizon)
    #[arg(long)]
    pub signal_lead: Option<i32>,
    /// Write nowcast.csv, nowcast.json and bias-note.md into this folder
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON instead of a summary
    #[arg(long)]
    pub json: bool,
}

fn month(text: &str, what: &str) -> Result<Month> {
    parse_month(text).with_context(|| format!("{what} `{text}` is not a month like 2025-06"))
}

pub fn nowcast(args: NowcastArgs) -> Result<()> {
    if args.by != "corridor" {
        bail!(
            "--by is `corridor` (each origin → destination and each reporting country's total), not `{}`",
            args.by
        );
    }
    let ws = Workspace::open(&args.workspace)?;
    let mut opts = Options::new(&args.measure);
    opts.horizon = args.horizon;
    opts.max_lag = args.max_lag;
    opts.use_signals = !args.no_signals;
    opts.reweight = !args.no_reweight;
    opts.as_of = args
        .as_of
        .as_deref()
        .map(|a| month(a, "--as-of"))
        .transpose()?;
    if let Some(range) = &args.backtest {
        let (from, to) = range.split_once("..").with_context(|| {
            format!("--backtest `{range}` is not a range like 2024-01..2025-12")
        })?;
        let bt = BacktestOptions {
            from: month(from, "--backtest's first origin")?,
            to: month(to, "--backtest's last origin")?,
            signal_lead: args.signal_lead.unwrap_or(args.horizon as i32),
        };
        let report = corridor_nowcast::backtest(&ws, &opts, &bt)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", backtest_text(&report));
        }
        return Ok(());
    }
    let now = corridor_nowcast::nowcast(&ws, &opts)?;
    if let Some(dir) = &args.out {
        write_out(&now, dir)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&now)?);
    } else {
        print!("{}", summary(&now));
        if let Some(dir) = &args.out {
            println!(
                "Wrote {0}/nowcast.csv, {0}/nowcast.json and {0}/bias-note.md.",
                dir.display()
            );
        }
    }
    Ok(())
}

fn write_out(now: &Nowcast, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("nowcast.csv");
    std::fs::write(&path, now.to_csv(false, true)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let json = dir.join("nowcast.json");
    std::fs::write(&json, serde_json::to_string_pretty(now)? + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    let note = dir.join("bias-note.md");
    std::fs::write(
        &note,
        format!("# Bias note: nowcast of {}\n\n{}", now.measure, now.note),
    )
    .with_context(|| format!("cannot write {}", note.display()))?;
    Ok(())
}

/// The totals of each reporting country, month by month.
fn summary(now: &Nowcast) -> String {
    let mut out = format!(
        "Nowcast of {} after {} (signals through {}), experimental:\n",
        now.measure,
        now.origin,
        now.signals_through.as_deref().unwrap_or("none")
    );
    let models = now
        .models
        .iter()
        .map(|(m, n)| format!("{n} {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    out += &format!("  series: {models}\n");
    out +=
        "  country total        period    estimate   80 % interval      95 % interval      admin\n";
    for r in now.rows.iter().filter(|r| r.is_total()) {
        let end = if r.origin == corridor_stats::TOTAL {
            format!("all→{}", r.destination)
        } else {
            format!("{}→all", r.origin)
        };
        out += &format!(
            "  {end:<20} {:<9} {:>9.0}   {:>7.0}–{:<8.0}   {:>7.0}–{:<8.0}   {}\n",
            r.period,
            r.estimate,
            r.lower80,
            r.upper80,
            r.lower95,
            r.upper95,
            r.administrative
                .map(|a| format!("{a:.0}"))
                .unwrap_or_else(|| "—".into())
        );
    }
    out
}

pub fn backtest_text(b: &Backtest) -> String {
    let mut out = format!(
        "Back-test of {} nowcasts at {} origins ({}..{}), {} corridors:\n",
        b.measure, b.origins, b.from, b.to, b.series
    );
    out += "  method           h   forecasts   MAPE     MASE   80 % cover  95 % cover\n";
    for s in &b.scores {
        let cov = |c: Option<f64>| {
            c.map(|c| format!("{:.1} %", 100.0 * c))
                .unwrap_or_else(|| "—".into())
        };
        out += &format!(
            "  {:<15} {:>2}   {:>9}   {:>5.1} %  {:>5.3}   {:>9}  {:>9}\n",
            s.method,
            s.horizon,
            s.n,
            100.0 * s.mape,
            s.mase,
            cov(s.coverage80),
            cov(s.coverage95)
        );
    }
    out
}
