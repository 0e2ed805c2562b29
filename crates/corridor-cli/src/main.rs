//! `corridor`: the command line of the Corridor platform.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use corridor_model::{CodeListId, Countries, RecordType};
use corridor_world::WorldConfig;
use indicatif::{ProgressBar, ProgressStyle};

/// Corridor collects, harmonises, links and analyses administrative data on
/// human mobility and human trafficking, and makes synthetic case data for
/// publishers to review, and publishes protected tables in signed releases.
#[derive(Parser)]
#[command(name = "corridor", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a realistic multi-country demo world and run everything that exists on it
    Demo {
        /// Folder to build the demo in
        #[arg(long, alias = "out", default_value = "corridor-demo")]
        dir: PathBuf,
        /// Replace DIR/workspace even if the demo did not make it
        #[arg(long)]
        force: bool,
        /// Simulated persons (more is slower and more realistic)
        #[arg(long, default_value_t = 20_000)]
        persons: u64,
        /// Random seed; the same seed gives byte-identical output
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Stop once the release is built and verified (do not serve the portal)
        #[arg(long)]
        no_serve: bool,
        /// Where to serve the release when done
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Generate a synthetic world: agency exports in their real shapes, plus the ground truth
    Generate {
        /// Output folder (created if missing; files in it are overwritten)
        #[arg(long)]
        out: PathBuf,
        /// Random seed; the same seed gives byte-identical output
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Simulated persons
        #[arg(long, default_value_t = 20_000)]
        persons: u64,
        /// Identified victims of trafficking [default: persons / 20, at least 300]
        #[arg(long)]
        victims: Option<u64>,
        /// First year of the export period
        #[arg(long, default_value_t = 2022)]
        start_year: i32,
        /// Years in the export period
        #[arg(long, default_value_t = 4)]
        years: i32,
        /// Share of exported rows carrying a fault (0 = a clean world, everything recorded)
        #[arg(long, default_value_t = 0.02)]
        dirty: f64,
    },
    /// Create a workspace: catalog, secret, data and quarantine folders
    Init {
        /// Folder for the workspace
        dir: PathBuf,
    },
    /// Submit files to a workspace through a mapping: validate, quarantine bad rows, store the rest
    Ingest {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// The source's mapping file (TOML)
        #[arg(long)]
        mapping: PathBuf,
        /// Files to submit
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Supersede an earlier submission of the same file name
        #[arg(long)]
        replace: bool,
        /// Print the submission reports as JSON
        #[arg(long)]
        json: bool,
    },
    /// Check or draft a mapping file
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
    /// Run read-only SQL over a workspace: one table per record type and derived dataset (`SHOW TABLES` lists them)
    Sql {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// The query, e.g. "SELECT citizenship, count(*) FROM border_events GROUP BY 1"
        query: String,
        /// Output: table, csv, json or parquet
        #[arg(long, default_value = "table")]
        format: String,
        /// Write to this file instead of standard output (required for parquet)
        #[arg(long)]
        out: Option<PathBuf>,
        /// Memory the query may use, e.g. 512M or 4G (beyond it, sorts and joins spill to disk or the query fails) [default: half the machine's memory]
        #[arg(long)]
        memory_limit: Option<String>,
    },
    /// List a workspace's sources, submissions and row counts
    Status {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Inside an organisation: turn names, dates and places of birth into a keyed Bloom-filter encoding before sharing
    Encode(trafficking_commands::EncodeArgs),
    /// Record linkage: deduplicate pooled case records, link two files, evaluate against a truth
    Link {
        #[command(subcommand)]
        command: trafficking_commands::LinkCommand,
    },
    /// Publishable synthetic microdata: k-synthetic data and aggregates, or differentially private synthesis
    Synth(trafficking_commands::SynthArgs),
    /// Derive stays, 12/16-month migrations (final and provisional), overstays and month-end stocks from the border events
    Derive(analysis_commands::DeriveArgs),
    /// A disaggregated table with all margins and totals (_T): --measure with --by, --spec FILE.toml, or --standard NAME
    Table(analysis_commands::TableArgs),
    /// Experimental nowcasts of the latest months' flows by corridor from auxiliary signals, with intervals, a bias note, and --backtest
    Nowcast(nowcast_commands::NowcastArgs),
    /// Mirror statistics: departures A→B as A reports them against arrivals from A as B reports them
    Mirror {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// Period: month or year
        #[arg(long, default_value = "month")]
        by: String,
        /// Output: table, csv or json
        #[arg(long, default_value = "table")]
        format: String,
        /// Write to this file instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show or set the privacy-loss budgets (zCDP ρ) of a workspace's datasets, and what DP outputs spent
    Budget {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// One dataset (e.g. trafficking_cases, border_events): show its ledger lines
        #[arg(long)]
        dataset: Option<String>,
        /// Set the dataset's budget to this ρ (needs --dataset)
        #[arg(long, value_name = "RHO")]
        set: Option<f64>,
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Disclosure control on a table or records in CSV files: suppress, dp (differential privacy) or kanon (k-anonymity)
    Protect {
        #[command(subcommand)]
        command: protect_commands::ProtectCommand,
    },
    /// Releases: build a signed release of protected tables, list releases, verify a copy
    Release {
        #[command(subcommand)]
        command: release_commands::ReleaseCommand,
    },
    /// Organisations, users (admin, contributor, analyst, publisher) and API tokens
    Admin {
        #[command(subcommand)]
        command: admin_commands::AdminCommand,
    },
    /// The audit log: verify its hash chain, or show it
    Audit {
        #[command(subcommand)]
        command: admin_commands::AuditCommand,
    },
    /// Serve the published releases: the public, read-only API (JSON, CSV, SDMX-CSV, files, OpenAPI)
    Serve {
        /// The workspace whose releases/ to serve
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Or any folder of releases (a copy, a partner's)
        #[arg(long)]
        releases: Option<PathBuf>,
        /// Address to listen on (port 0 picks a free one)
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// The largest file a contributor may upload (e.g. 512M, 2G); members' routes need --workspace
        #[arg(long, default_value = "1G")]
        max_upload: String,
    },
    /// Print the data standard (record types, fields, code lists) as Markdown
    Standard,
    /// Resolve country names or codes to ISO 3166-1 alpha-3, as intake does
    Country {
        /// Names or codes, e.g. "EEUU" "Côte d'Ivoire" guatemalteca
        #[arg(required = true)]
        values: Vec<String>,
    },
    /// List a code list, or all code lists
    Codes {
        /// Code list name, e.g. sex, age_group, exploitation_type
        list: Option<String>,
    },
}

#[derive(Subcommand)]
enum MappingCommand {
    /// Validate a mapping against a file and show the first rows mapped
    Check {
        /// The mapping file (TOML)
        mapping: PathBuf,
        /// A file of the source
        file: PathBuf,
        /// How many mapped rows to show
        #[arg(long, default_value_t = 5)]
        rows: usize,
    },
    /// Write a first mapping for a file by matching its headers to standard fields
    Draft {
        /// A file of the source
        file: PathBuf,
        /// The record type the file holds (border_events, residence_permits, returns, trafficking_cases, population, signals)
        #[arg(long = "type")]
        record_type: String,
        /// Write the mapping here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

mod admin_commands;
mod analysis_commands;
mod demo_commands;
mod nowcast_commands;
mod protect_commands;
mod release_commands;
mod serve_commands;
mod trafficking_commands;
mod workspace_commands;

/// A user's error is a message, never a Rust backtrace, whatever
/// `RUST_BACKTRACE` says: anyhow would print one from `main`'s `Result`.
/// A reader that stops early (`corridor … | head`) closes the pipe, and
/// `println!` then panics. That is the reader's choice, not an error: exit
/// quietly with the status a shell gives a process killed by SIGPIPE.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> std::process::ExitCode {
    quiet_on_broken_pipe();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A reader that closed the pipe (`| head`) is not an error of ours:
        // end quietly, as the panic hook does for `println!`.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::from(141)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
            if !causes.is_empty() {
                eprintln!("\nCaused by:");
                for c in causes {
                    eprintln!("    {c}");
                }
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo {
            dir,
            persons,
            seed,
            force,
            no_serve,
            addr,
        } => demo_commands::demo(dir, persons, seed, force, (!no_serve).then_some(addr)),
        Command::Generate {
            out,
            seed,
            persons,
            victims,
            start_year,
            years,
            dirty,
        } => {
            let cfg = WorldConfig {
                seed,
                persons,
                victims,
                start_year,
                years,
                dirty,
            };
            generate(&cfg, &out)?;
            Ok(())
        }
        Command::Init { dir } => workspace_commands::init(&dir),
        Command::Ingest {
            workspace,
            mapping,
            files,
            replace,
            json,
        } => workspace_commands::ingest(&workspace, &mapping, &files, replace, json),
        Command::Mapping {
            command:
                MappingCommand::Check {
                    mapping,
                    file,
                    rows,
                },
        } => workspace_commands::mapping_check(&mapping, &file, rows),
        Command::Mapping {
            command:
                MappingCommand::Draft {
                    file,
                    record_type,
                    out,
                },
        } => workspace_commands::mapping_draft(&file, &record_type, out.as_deref()),
        Command::Sql {
            workspace,
            query,
            format,
            out,
            memory_limit,
        } => workspace_commands::sql(
            &workspace,
            &query,
            &format,
            out.as_deref(),
            memory_limit.as_deref(),
        ),
        Command::Status { workspace, json } => workspace_commands::status(&workspace, json),
        Command::Derive(args) => analysis_commands::derive(args),
        Command::Encode(args) => trafficking_commands::encode(args),
        Command::Link { command } => trafficking_commands::link(command),
        Command::Synth(args) => trafficking_commands::synth(args),
        Command::Table(args) => analysis_commands::table(args),
        Command::Nowcast(args) => nowcast_commands::nowcast(args),
        Command::Mirror {
            workspace,
            by,
            format,
            out,
        } => analysis_commands::mirror(&workspace, &by, &format, out.as_deref()),
        Command::Budget {
            workspace,
            dataset,
            set,
            json,
        } => workspace_commands::budget(&workspace, dataset.as_deref(), set, json),
        Command::Protect { command } => protect_commands::protect(command),
        Command::Release { command } => release_commands::release(command),
        Command::Admin { command } => admin_commands::admin(command),
        Command::Audit { command } => admin_commands::audit(command),
        Command::Serve {
            workspace,
            releases,
            addr,
            max_upload,
        } => {
            let Some(max_upload) = corridor_store::parse_size(&max_upload) else {
                anyhow::bail!("--max-upload {max_upload}: write a size such as 512M or 2G");
            };
            let members = match (&workspace, &releases) {
                (Some(ws), None) => Some(serve_commands::members(ws, max_upload as u64)?),
                _ => None,
            };
            let dir = serve_commands::releases_dir(workspace.as_deref(), releases)?;
            serve_commands::serve(&dir, &addr, members)
        }
        Command::Standard => {
            print!("{}", corridor_model::docs::standard_markdown());
            Ok(())
        }
        Command::Country { values } => country(&values),
        Command::Codes { list } => codes(list.as_deref()),
    }
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn generate(cfg: &WorldConfig, out: &std::path::Path) -> Result<corridor_world::Summary> {
    let started = Instant::now();
    let bar = progress_bar(cfg.persons, "persons");
    let summary = corridor_world::generate(cfg, out, &|done, _| bar.set_position(done))
        .with_context(|| format!("generating the world into {}", out.display()))?;
    bar.finish_and_clear();
    print_generated(&summary, out, started.elapsed().as_secs_f64());
    Ok(summary)
}

pub(crate) fn print_generated(
    summary: &corridor_world::Summary,
    out: &std::path::Path,
    seconds: f64,
) {
    println!(
        "Generated {} persons ({} crossings), {} victims ({} case records) into {} in {:.1} s.",
        summary.persons,
        summary.crossings,
        summary.victims,
        summary.case_records,
        out.display(),
        seconds
    );
    for (path, rows, what) in &summary.files {
        println!("  {path:<48} {rows:>9} rows  {what}");
    }
    println!(
        "  truth/ holds the ground truth; {} seeded faults are listed in truth/faults.csv.",
        summary.faults
    );
}

fn country(values: &[String]) -> Result<()> {
    let countries = Countries::get();
    let mut failed = 0;
    for value in values {
        match countries.resolve(value) {
            Ok(c) => println!(
                "{value:<30} {}  {} / {} / {}",
                c.alpha3, c.name_en, c.name_es, c.name_fr
            ),
            Err(e) => {
                failed += 1;
                let hints: Vec<String> = e
                    .candidates
                    .iter()
                    .filter_map(|code| countries.by_alpha3(code))
                    .map(|c| format!("{} ({})", c.alpha3, c.name_en))
                    .collect();
                if hints.is_empty() {
                    println!("{value:<30} not a country we know");
                } else {
                    println!(
                        "{value:<30} not a country we know; closest: {}",
                        hints.join(", ")
                    );
                }
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} values did not resolve", values.len());
    }
    Ok(())
}

fn codes(list: Option<&str>) -> Result<()> {
    let Some(name) = list else {
        for id in CodeListId::ALL {
            println!("{:<24} {} codes", id.name(), id.list().codes.len());
        }
        println!(
            "\nRecord types: {}",
            RecordType::ALL.map(|t| t.name()).join(", ")
        );
        return Ok(());
    };
    let Some(id) = CodeListId::from_name(name) else {
        let names: Vec<&str> = CodeListId::ALL.iter().map(|i| i.name()).collect();
        bail!(
            "no code list named '{name}'; the lists are: {}",
            names.join(", ")
        );
    };
    for code in &id.list().codes {
        println!("{:<22} {:<40} {}", code.code, code.label_en, code.label_es);
    }
    Ok(())
}
