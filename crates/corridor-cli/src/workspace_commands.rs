//! Commands on workspaces: init, ingest, mapping, sql, status, and the
//! demo's intake step.

use std::path::Path;

use anyhow::{Context, Result, bail};
use corridor_ingest::{Mapping, MemorySink, Pseudonymiser, Report};
use corridor_store::{Outcome, OutputFormat, Workspace};
use indicatif::{ProgressBar, ProgressStyle};

pub fn init(dir: &Path) -> Result<()> {
    Workspace::init(dir).with_context(|| format!("creating a workspace in {}", dir.display()))?;
    println!("Created a Corridor workspace in {}.", dir.display());
    println!(
        "  secret.key      keys every pseudonym (file mode 0600): back it up separately, never share it"
    );
    println!("  catalog.sqlite  sources and submissions");
    println!("  data/           Parquet, by record type, source and submission");
    println!("  quarantine/     rejected rows with their reasons");
    println!(
        "Next: corridor ingest --workspace {} --mapping SOURCE.mapping.toml FILE",
        dir.display()
    );
    Ok(())
}

pub(crate) fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn print_report(report: &Report) {
    println!(
        "  {} rows read: {} stored, {} quarantined{}",
        report.rows_read,
        report.stored,
        report.quarantined,
        if report.detected.is_empty() {
            String::new()
        } else {
            format!(
                " [{}]",
                report
                    .detected
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    for (reason, n) in &report.by_field {
        println!("    {n:>7}  {reason}");
    }
}

pub fn ingest(
    workspace: &Path,
    mapping: &Path,
    files: &[std::path::PathBuf],
    replace: bool,
    json: bool,
) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let mut reports = Vec::new();
    for file in files {
        let bar = spinner(&format!("{}", file.display()));
        let outcome = ws.submit(mapping, file, replace, &mut |n| bar.set_position(n));
        bar.finish_and_clear();
        let outcome = outcome
            .with_context(|| format!("submitting {} with {}", file.display(), mapping.display()))?;
        match outcome {
            Outcome::AlreadyIngested { submission } => {
                if !json {
                    println!(
                        "{}: already ingested with this mapping as submission {} ({} rows stored): nothing to do.",
                        file.display(),
                        submission.id,
                        submission.rows_stored
                    );
                }
                reports.push(serde_json::json!({"file": file.display().to_string(), "already_ingested": submission}));
            }
            Outcome::Committed {
                submission,
                report,
                superseded,
            } => {
                if !json {
                    println!(
                        "{} → source '{}', submission {}",
                        file.display(),
                        submission.source,
                        submission.id
                    );
                    print_report(&report);
                    if report.quarantined > 0 {
                        println!(
                            "  quarantined rows, with reasons: {}",
                            ws.root().join(&submission.quarantine_path).display()
                        );
                    }
                    if !superseded.is_empty() {
                        println!("  superseded: {}", superseded.join(", "));
                    }
                }
                reports.push(serde_json::json!({"submission": submission, "report": report, "superseded": superseded}));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}

pub fn mapping_check(mapping_path: &Path, file: &Path, rows: usize) -> Result<()> {
    let (mapping, _) = Mapping::load(mapping_path)?;
    // A throwaway key: pseudonyms shown here are not the workspace's.
    let key = Pseudonymiser::new(b"mapping-check".to_vec());
    let mut sink = MemorySink::keeping(rows);
    let sub = corridor_ingest::Submission {
        scratch: None,
        file,
        source_id: mapping.source_name(),
        submission_id: "check",
    };
    let bar = spinner(&format!("{}", file.display()));
    let report = corridor_ingest::ingest(&mapping, &sub, &key, &mut sink, &mut |n| {
        bar.set_position(n)
    });
    bar.finish_and_clear();
    let report = report?;
    println!(
        "{} with {}: the mapping fits the file.",
        file.display(),
        mapping_path.display()
    );
    print_report(&report);
    if let Some(first) = sink.batches.first() {
        let shown = first.slice(0, rows.min(first.num_rows()));
        println!("First rows as stored (pseudonyms made with a throwaway key):");
        println!("{}", arrow::util::pretty::pretty_format_batches(&[shown])?);
    }
    for q in sink.quarantined.iter().take(rows) {
        println!(
            "  row {}: {} {} — {}",
            q.row,
            q.reason,
            q.field.as_deref().unwrap_or(""),
            q.message
        );
    }
    Ok(())
}

pub fn mapping_draft(file: &Path, record_type: &str, out: Option<&Path>) -> Result<()> {
    let Some(t) = corridor_model::RecordType::from_name(record_type) else {
        let names: Vec<&str> = corridor_model::RecordType::ALL
            .iter()
            .map(|t| t.name())
            .collect();
        bail!(
            "--type {record_type} is not a record type; use one of: {}",
            names.join(", ")
        );
    };
    let text = corridor_ingest::draft::draft(file, t)?;
    match out {
        Some(path) => {
            if path.exists() {
                bail!("{} exists; not overwriting it", path.display());
            }
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            println!(
                "Wrote {}. Check it, then: corridor mapping check {} {}",
                path.display(),
                path.display(),
                file.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

pub fn sql(workspace: &Path, query: &str, format: &str, out: Option<&Path>) -> Result<()> {
    let format = match format {
        "table" => OutputFormat::Table,
        "csv" => OutputFormat::Csv,
        "json" => OutputFormat::Json,
        "parquet" => OutputFormat::Parquet,
        other => bail!("--format {other}: use table, csv, json or parquet"),
    };
    let ws = Workspace::open(workspace)?;
    let batches = ws.sql(query)?;
    let mut buf: Vec<u8> = Vec::new();
    match format {
        OutputFormat::Table => {
            buf.extend(
                arrow::util::pretty::pretty_format_batches(&batches)?
                    .to_string()
                    .bytes(),
            );
            buf.push(b'\n');
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            for b in &batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut buf);
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
            buf.push(b'\n');
        }
        OutputFormat::Parquet => {
            let Some(path) = out else {
                bail!("--format parquet needs --out FILE")
            };
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            for b in &batches {
                w.write(b)?;
            }
            w.close()?;
            println!(
                "Wrote {} rows to {}.",
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
                path.display()
            );
            return Ok(());
        }
    }
    match out {
        Some(path) => {
            std::fs::write(path, &buf).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&buf)?;
        }
    }
    Ok(())
}

pub fn status(workspace: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let (sources, submissions) = ws.status()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"sources": sources, "submissions": submissions})
            )?
        );
        return Ok(());
    }
    println!("Workspace {}", workspace.display());
    println!(
        "{:<22} {:<18} {:>6} {:>12} {:>12}",
        "source", "record type", "subm.", "stored", "quarantined"
    );
    for s in &sources {
        println!(
            "{:<22} {:<18} {:>6} {:>12} {:>12}",
            s.id, s.record_type, s.submissions, s.rows_stored, s.rows_quarantined
        );
    }
    println!(
        "\n{:<4} {:<20} {:<22} {:<11} {:>9} {:>9}  file",
        "#", "submission", "source", "status", "stored", "quarant."
    );
    for s in &submissions {
        println!(
            "{:<4} {:<20} {:<22} {:<11} {:>9} {:>9}  {}",
            s.seq, s.id, s.source, s.status, s.rows_stored, s.rows_quarantined, s.file_name
        );
    }
    Ok(())
}

/// The demo's intake: a fresh workspace, and every demo source through its mapping.
pub fn demo_ingest(world: &Path, workspace: &Path) -> Result<()> {
    if workspace.join("corridor.toml").is_file() {
        // The demo's own workspace from an earlier run: start afresh.
        std::fs::remove_dir_all(workspace)
            .with_context(|| format!("removing the old demo workspace {}", workspace.display()))?;
    }
    let ws = Workspace::init(workspace)?;
    println!("Ingesting every source into {}:", workspace.display());
    let (mut read, mut stored, mut quarantined) = (0, 0, 0);
    for (mapping, file) in corridor_world::mappings::SUBMISSIONS {
        // Case files come in encoded (names never reach the platform): the
        // trafficking step of the demo encodes and ingests them.
        if corridor_world::CASE_FILES.contains(file) {
            continue;
        }
        let bar = spinner(file);
        let outcome = ws.submit(&world.join(mapping), &world.join(file), false, &mut |n| {
            bar.set_position(n)
        });
        bar.finish_and_clear();
        if let Outcome::Committed {
            report, submission, ..
        } = outcome.with_context(|| format!("ingesting {file}"))?
        {
            println!(
                "  {:<22} {:>8} rows: {:>8} stored, {:>6} quarantined",
                submission.source, report.rows_read, report.stored, report.quarantined
            );
            read += report.rows_read;
            stored += report.stored;
            quarantined += report.quarantined;
        }
    }
    println!(
        "  {:<22} {read:>8} rows: {stored:>8} stored, {quarantined:>6} quarantined (each with its reason)",
        "all sources"
    );
    let batches = ws.sql(
        "SELECT reporting_country AS country, \
                SUM(CASE WHEN direction = 'entry' THEN 1 ELSE 0 END) AS entries, \
                SUM(CASE WHEN direction = 'exit' THEN 1 ELSE 0 END) AS exits, \
                COUNT(DISTINCT person_key) AS travellers \
         FROM border_events GROUP BY 1 ORDER BY 1",
    )?;
    println!("\nBorder events stored, by reporting country (SQL over the workspace):");
    println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);
    Ok(())
}
