//! `corridor demo`: runs the demo pipeline of `corridor-demo` and prints
//! each step as it finishes.

use std::path::{Path, PathBuf};

use anyhow::Result;
use corridor_demo::{Layout, Step};
use corridor_world::WorldConfig;
use indicatif::{ProgressBar, ProgressStyle};

use crate::analysis_commands::print_report;
use crate::trafficking_commands::{print_evaluation, print_linkage, print_workspace_synthesis};

/// Runs the demo; with `serve`, ends by serving its release there.
pub fn demo(
    dir: PathBuf,
    persons: u64,
    seed: u64,
    force: bool,
    serve: Option<String>,
) -> Result<()> {
    println!(
        "Corridor demo: a region of three reporting countries (Guatemala, Honduras, El Salvador)"
    );
    println!("with travel to and from Mexico, the USA and beyond, 2022–2025.\n");
    let options = corridor_demo::Options {
        world: WorldConfig {
            seed,
            persons,
            ..WorldConfig::default()
        },
        force,
    };
    let layout = Layout::under(&dir);
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let progress = |what: &str, done: u64, total: u64| {
        bar.set_message(what.to_string());
        bar.set_length(total.max(done));
        bar.set_position(done);
    };
    let mut totals = (0, 0, 0);
    let outcome = corridor_demo::run(&dir, &options, &progress, &mut |step| {
        bar.suspend(|| print_step(&step, &layout, &mut totals));
        bar.set_message("working");
        bar.set_length(0);
        bar.set_position(0);
    });
    bar.finish_and_clear();
    outcome?;
    println!();
    println!("What the demo built, in {}:", dir.display());
    println!(
        "  world/sources/   what each agency exports, in its own format, language and encoding, with its mapping file"
    );
    println!("  world/truth/     the ground truth every later step is checked against");
    println!(
        "  workspace/       the Corridor workspace: Parquet data, SQLite catalog, quarantine, reports"
    );
    println!(
        "  trafficking/     k-synthetic and DP synthetic case data, aggregates and publishable reports \
         (the internal reviews stay in workspace/synth-review/)"
    );
    println!("  release.toml     the release spec: which tables, protected how");
    println!(
        "  releases/        the signed release: CSV, Parquet, SDMX, datapackage.json, methods note (EN/ES)"
    );
    println!();
    println!(
        "Try: corridor sql --workspace {} \"SELECT reporting_country, direction, count(*) FROM border_events GROUP BY 1, 2 ORDER BY 1, 2\"",
        layout.workspace.display()
    );
    println!();
    println!(
        "Try: corridor table --workspace {} --measure migrant_arrivals --by month,citizenship,sex",
        layout.workspace.display()
    );
    println!();
    if let Some(newest) = corridor_publish::list_releases(&layout.releases)
        .ok()
        .and_then(|all| all.into_iter().last())
    {
        println!("Try: corridor release verify {}", newest.dir.display());
        println!(
            "     and read {}/methods/methods.en.html",
            newest.dir.display()
        );
    }
    println!();
    match serve {
        None => println!("Stopped after the release (--no-serve)."),
        Some(addr) => {
            let members = crate::serve_commands::members(
                &layout.workspace,
                corridor_server::DEFAULT_MAX_UPLOAD,
            )?;
            crate::serve_commands::serve(&layout.releases, &addr, Some(members))?
        }
    }
    Ok(())
}

fn print_step(step: &Step, layout: &Layout, totals: &mut (u64, u64, u64)) {
    match step {
        Step::Generated { summary, seconds } => {
            crate::print_generated(summary, &layout.world, *seconds);
            println!();
            println!(
                "Ingesting every source into {}:",
                layout.workspace.display()
            );
        }
        Step::Ingested {
            source,
            rows_read,
            stored,
            quarantined,
        } => {
            println!(
                "  {source:<22} {rows_read:>8} rows: {stored:>8} stored, {quarantined:>6} quarantined"
            );
            totals.0 += rows_read;
            totals.1 += stored;
            totals.2 += quarantined;
        }
        Step::BorderEvents(batches) => {
            let (read, stored, quarantined) = totals;
            println!(
                "  {:<22} {read:>8} rows: {stored:>8} stored, {quarantined:>6} quarantined (each with its reason)",
                "all sources"
            );
            println!("\nBorder events stored, by reporting country (SQL over the workspace):");
            match arrow::util::pretty::pretty_format_batches(batches) {
                Ok(text) => println!("{text}"),
                Err(e) => println!("  (cannot show the table: {e})"),
            }
            println!();
            println!("Deriving stays, 12/16-month migrations and stocks:");
        }
        Step::Derived(report) => print_report(report, &layout.workspace),
        Step::Table { title, table } => {
            println!("\n{title}:");
            print!("{}", table.to_text());
        }
        Step::Mirror(rows) => {
            println!(
                "\nMirror statistics over the whole period (departures A→B reported by A against arrivals reported by B):"
            );
            for r in rows.iter().filter(|r| r.period == corridor_stats::TOTAL) {
                println!(
                    "  {} → {}: {:>7} reported by {}, {:>7} by {} (asymmetry {})",
                    r.origin,
                    r.destination,
                    r.reported_by_origin,
                    r.origin,
                    r.reported_by_destination,
                    r.destination,
                    r.asymmetry
                        .map(|a| format!("{a:+.3}"))
                        .unwrap_or_else(|| "–".into())
                );
            }
            println!();
        }
        Step::Nowcast {
            nowcast,
            corridor: (reporter, origin, destination),
            truth,
            backtest,
        } => {
            println!(
                "Nowcast (experimental): departures {origin}→{destination} after {}, as if the border data stopped there; the signals run on.",
                nowcast.origin
            );
            println!("  month      nowcast   95 % interval     truth");
            for r in nowcast.rows.iter().filter(|r| {
                r.horizon.is_some()
                    && &r.reporting_country == reporter
                    && &r.origin == origin
                    && &r.destination == destination
            }) {
                let t = truth
                    .iter()
                    .find(|(m, _)| *m == r.period)
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| "—".into());
                println!(
                    "  {}   {:>7.0}   {:>6.0}–{:<8.0}  {t:>6}",
                    r.period, r.estimate, r.lower95, r.upper95
                );
            }
            print!("{}", crate::nowcast_commands::backtest_text(backtest));
            println!();
            println!(
                "Counter-trafficking: three organisations pool case records without sharing a name."
            );
        }
        Step::Encoded {
            organisation,
            report,
            stored,
        } => println!(
            "  {organisation}: encoded {} records inside the organisation ({} bits, {}), platform stored {stored}",
            report.rows_written,
            report.bits,
            report.hardening.join("+"),
        ),
        Step::Deduplicated(d) => {
            if d.skipped > 0 {
                println!(
                    "  {} stored cases carry no encoding and are not linked.",
                    d.skipped
                );
            }
            print_linkage(
                &d.linkage,
                0.5,
                &layout.workspace.join(Path::new("linkage")),
            );
        }
        Step::Evaluated(e) => {
            println!("Deduplication against the generator's truth:");
            print_evaluation(e);
        }
        Step::Synthesised(s) => print_workspace_synthesis(s),
        Step::Released { built, verified } => {
            crate::release_commands::print_built(built);
            println!(
                "  verified: {} files, checksums and signature good (release {}).",
                verified.files, verified.id
            );
        }
    }
}
