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
                    .map(|(k, v)| format!("{k}: {}", shown(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    for (reason, n) in &report.by_field {
        println!("    {n:>7}  {reason}");
    }
    // Escaped by intake already; once more here, as they reach a terminal.
    for w in &report.warnings {
        println!("  warning: {}", shown(w));
    }
}

/// Text from a file (or a message quoting one) as the terminal gets it:
/// control characters escaped, long lines cut.
fn shown(text: &str) -> corridor_model::ForDisplay<'_> {
    corridor_model::for_display(text, 2_000)
        .bare()
        .keep_newlines()
}

/// `batch` with its text values escaped and cut for the terminal: stored
/// text is the file's, escape sequences included.
fn escaped(batch: &arrow::record_batch::RecordBatch) -> Result<arrow::record_batch::RecordBatch> {
    use arrow::array::{Array, ArrayRef, StringArray};
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<StringArray>() {
            Some(text) => std::sync::Arc::new(
                text.iter()
                    .map(|v| v.map(|v| corridor_model::for_display(v, 60).bare().to_string()))
                    .collect::<StringArray>(),
            ) as ArrayRef,
            None => c.clone(),
        })
        .collect();
    Ok(arrow::record_batch::RecordBatch::try_new(
        batch.schema(),
        columns,
    )?)
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
        let mut summary = outcome.summary();
        summary["file"] = serde_json::json!(file.display().to_string());
        reports.push(summary);
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
    // A throwaway random key: pseudonyms shown here are not the
    // workspace's, and cannot be recomputed from a known key.
    let mut throwaway = vec![0u8; corridor_ingest::secret::MIN_KEY_BYTES];
    getrandom::fill(&mut throwaway).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = Pseudonymiser::new(throwaway);
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
        let first_rows = escaped(&first.slice(0, rows.min(first.num_rows())))?;
        println!("First rows as stored (pseudonyms made with a throwaway key):");
        println!(
            "{}",
            arrow::util::pretty::pretty_format_batches(&[first_rows])?
        );
    }
    for q in sink.quarantined.iter().take(rows) {
        println!(
            "  row {}: {} {} — {}",
            q.row,
            q.reason,
            q.field.as_deref().unwrap_or(""),
            shown(&q.message)
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

pub fn sql(
    workspace: &Path,
    query: &str,
    format: &str,
    out: Option<&Path>,
    memory_limit: Option<&str>,
) -> Result<()> {
    let Some(format) = OutputFormat::from_name(format) else {
        bail!(
            "--format {format}: use one of {}",
            OutputFormat::NAMES.join(", ")
        );
    };
    if format.needs_file() && out.is_none() {
        bail!("--format parquet needs --out FILE");
    }
    let mut limits = corridor_store::QueryLimits::default();
    if let Some(text) = memory_limit {
        limits.memory_bytes = corridor_store::parse_size(text).with_context(|| {
            format!("--memory-limit {text}: give a size such as 512M, 2G or 8GiB")
        })?;
    }
    let ws = Workspace::open(workspace)?;
    let batches = ws.sql_with(query, &limits)?;
    match out {
        Some(path) => {
            corridor_store::write_results_file(&batches, format, path)?;
            println!(
                "Wrote {} rows to {}.",
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
                path.display()
            );
        }
        None => {
            use std::io::Write;
            let mut buf: Vec<u8> = Vec::new();
            corridor_store::write_results(&batches, format, &mut buf)?;
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

/// `corridor budget`: the datasets' budgets, or one dataset's ledger; with
/// `--set`, its new budget first.
pub(crate) fn budget(
    dir: &Path,
    dataset: Option<&str>,
    set: Option<f64>,
    json: bool,
) -> Result<()> {
    let ws = Workspace::open(dir)?;
    if let Some(rho) = set {
        let Some(d) = dataset else {
            bail!(
                "--set needs --dataset: the budget is per dataset (e.g. --dataset trafficking_cases)"
            );
        };
        let b = ws.set_privacy_budget(d, rho)?;
        if !json {
            println!(
                "Budget of {d} set to ρ = {rho} ({} spent, {} left).",
                b.spent,
                b.left()
            );
        }
    }
    let budgets = match dataset {
        Some(d) => vec![ws.privacy_budget(d)?],
        None => ws.privacy_budgets()?,
    };
    let ledger = match dataset {
        Some(d) => ws.privacy_ledger(Some(d))?,
        None => Vec::new(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "budgets": budgets,
                "ledger": ledger,
            }))?
        );
        return Ok(());
    }
    if budgets.is_empty() {
        println!(
            "No budget is set and nothing has been spent. Set one with `corridor budget --workspace {} --dataset DATASET --set RHO`.",
            dir.display()
        );
        return Ok(());
    }
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>8}",
        "dataset", "budget ρ", "spent ρ", "left ρ", "charges"
    );
    for b in &budgets {
        let budget = b
            .rho
            .map_or_else(|| "not set".to_string(), |r| format!("{r:.6}"));
        println!(
            "{:<24} {:>12} {:>12.6} {:>12.6} {:>8}",
            b.dataset,
            budget,
            b.spent,
            b.left(),
            b.charges
        );
    }
    for l in &ledger {
        println!(
            "  #{:<5} {}  ρ = {:.6} (ε = {:.3}, δ = {:e})  {}  → {}",
            l.seq, l.spent_at, l.rho, l.epsilon, l.delta, l.mechanism, l.output
        );
    }
    Ok(())
}
