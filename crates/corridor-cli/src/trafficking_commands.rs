//! `corridor encode`, `corridor link …` and `corridor synth`: pooling
//! trafficking case records without names, deduplicating them, and
//! publishable synthetic data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use corridor_link::schema::LinkageSchema;
use corridor_link::{LinkOptions, Pool};
use corridor_store::Workspace;
use corridor_synth::report::Population as SynthPopulation;
use corridor_synth::{Context as SynthContext, Domain, DpOptions, KOptions, Plan, Table};

use crate::workspace_commands::spinner;

#[derive(Args)]
pub struct EncodeArgs {
    /// The linkage schema (which columns hold personal details, how to encode them)
    #[arg(long, required_unless_present = "new_secret")]
    pub schema: Option<PathBuf>,
    /// File holding the secret shared by the partner organisations (never by the platform)
    #[arg(long, required_unless_present = "new_secret")]
    pub secret_file: Option<PathBuf>,
    /// Write a new random secret to FILE (or to --secret-file), which must not exist, and stop; share it with the partners
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub new_secret: Option<Option<PathBuf>>,
    /// The organisation's export (CSV, Excel, JSON, Parquet)
    #[arg(required_unless_present = "new_secret")]
    pub input: Option<PathBuf>,
    /// The encoded CSV to share
    #[arg(required_unless_present = "new_secret")]
    pub output: Option<PathBuf>,
}

/// The partners' key as `corridor encode` keys with: the file's text,
/// once it has passed the one rule every secret is held to.
fn read_secret(path: &Path) -> Result<Vec<u8>> {
    let secret =
        corridor_ingest::secret::read(path, corridor_ingest::secret::SecretKind::Partners)?;
    Ok(secret.text.into_bytes())
}

pub fn encode(args: EncodeArgs) -> Result<()> {
    if let Some(to) = &args.new_secret {
        let Some(path) = to.as_ref().or(args.secret_file.as_ref()) else {
            bail!("corridor encode --new-secret needs the file to write: --new-secret FILE")
        };
        corridor_ingest::secret::create(path)?;
        println!(
            "Wrote a new partners' secret to {} (mode 0600): 64 hexadecimal digits, 256 random bits. \
             Give it to each partner organisation by a safe channel, never to the platform; every \
             partner encodes with the same file.",
            path.display()
        );
        return Ok(());
    }
    let (Some(input), Some(output), Some(secret_file), Some(schema)) =
        (&args.input, &args.output, &args.secret_file, &args.schema)
    else {
        bail!(
            "corridor encode needs --schema, --secret-file, the export to encode and the file to write"
        )
    };
    // The secret first: a weak one is refused whatever else is wrong.
    let secret = read_secret(secret_file)?;
    let schema = LinkageSchema::load(schema)?;
    let bar = spinner(&input.display().to_string());
    let report =
        corridor_link::encode_file(&schema, &secret, input, output, |n| bar.set_position(n))
            .with_context(|| format!("encoding {}", input.display()))?;
    bar.finish_and_clear();
    println!(
        "Encoded {} of {} rows of {} into {} ({} bits, hardening: {}).",
        report.rows_written,
        report.rows_read,
        input.display(),
        output.display(),
        report.bits,
        report.hardening.join(", ")
    );
    for f in &report.fields {
        println!(
            "  {:<16} {:>8} present {:>8} missing {:>6} unreadable",
            f.field, f.present, f.missing, f.unreadable
        );
    }
    if report.rows_rejected > 0 {
        println!(
            "  {} rows could not be split into fields: listed by row number in {}",
            report.rows_rejected,
            output.with_extension("rejected.csv").display()
        );
    }
    // A field most of whose values do not read is a schema that does not
    // fit the export (a date format, most often): the encodings would
    // match nobody, so they are not left to be shared.
    let unread = report.mostly_unreadable();
    if !unread.is_empty() {
        let _ = std::fs::remove_file(output);
        let listed: Vec<String> = unread
            .iter()
            .map(|f| {
                format!(
                    "{} ({} of {} values unreadable)",
                    f.field,
                    f.unreadable,
                    f.present + f.unreadable
                )
            })
            .collect();
        bail!(
            "most values of {} in {} do not read: check the schema's date_formats (or the field's formats) against the export, then encode again; {} was not kept",
            listed.join(", "),
            input.display(),
            output.display()
        );
    }
    println!(
        "  Personal-detail columns are not in the output: it can be shared with the platform."
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum LinkCommand {
    /// Find records of the same person across organisations (one pooled set of records)
    Dedupe(DedupeArgs),
    /// Link two files: pairs of records, one from each, that are the same person
    Pair {
        /// The linkage schema the files were encoded with (or plaintext columns)
        #[arg(long)]
        schema: PathBuf,
        /// Files are plaintext shared under agreement, not encoded
        #[arg(long)]
        plaintext: bool,
        /// Match probability from which two records are the same person
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// pairs.csv keeps candidate pairs from this match probability (0 keeps every candidate pair)
        #[arg(long, default_value_t = corridor_link::DEFAULT_KEEP_PAIRS_FROM)]
        keep_pairs_from: f64,
        /// Each file holds each person at most once: a record matches at
        /// most one record of the other file (the most probable pairs are
        /// assigned first)
        #[arg(long)]
        one_to_one: bool,
        /// Output folder
        #[arg(long)]
        out: PathBuf,
        a: PathBuf,
        b: PathBuf,
    },
    /// Precision, recall, F1, pair completeness and reduction ratio against a truth file
    Evaluate {
        /// Output folder of `corridor link dedupe` or `pair`
        #[arg(long)]
        links: PathBuf,
        /// CSV with a record id and the true person of every record
        #[arg(long, required_unless_present = "truth_pattern")]
        truth: Option<PathBuf>,
        /// Or: a regular expression over each record id whose first group is
        /// its true person (`rec-(\d+)-` for ids like rec-12-org, rec-12-dup-0)
        #[arg(long, conflicts_with_all = ["truth", "workspace"])]
        truth_pattern: Option<String>,
        /// Truth column(s) holding the record id
        #[arg(long, value_delimiter = ',', default_value = "case_id")]
        truth_id: Vec<String>,
        /// Truth column holding the true person
        #[arg(long, default_value = "victim_id")]
        truth_entity: String,
        /// Records were linked in this workspace: truth ids are pseudonymised
        /// like case numbers at intake (needs --truth-org)
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Truth column holding the organisation (with --workspace)
        #[arg(long, default_value = "organisation")]
        truth_org: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct DedupeArgs {
    /// Link the trafficking cases stored in this workspace (encoded files ingested)
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// The linkage schema (in a workspace: the partners' agreed part, i.e. filters, fields and blocking)
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Inputs are plaintext shared under agreement, compared with string comparators
    #[arg(long)]
    pub plaintext: bool,
    /// Match probability from which two records are the same person
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// pairs.csv keeps candidate pairs from this match probability (0 keeps every candidate pair)
    #[arg(long, default_value_t = corridor_link::DEFAULT_KEEP_PAIRS_FROM)]
    pub keep_pairs_from: f64,
    /// Output folder [default: WORKSPACE/linkage with --workspace]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Encoded (or plaintext) files to pool
    pub inputs: Vec<PathBuf>,
}

pub fn dedupe(args: DedupeArgs) -> Result<corridor_link::LinkReport> {
    let agreed = args
        .schema
        .as_deref()
        .map(LinkageSchema::load)
        .transpose()?;
    let options = LinkOptions {
        threshold: args.threshold,
        across_sources_only: false,
        keep_pairs_from: args.keep_pairs_from,
        one_to_one: false,
    };
    let bar = spinner("linking");
    let (linkage, out) = if let Some(ws_dir) = &args.workspace {
        let ws = Workspace::open(ws_dir)?;
        let out = args.out.clone().unwrap_or_else(|| ws_dir.join("linkage"));
        let done = corridor_cases::dedupe_workspace(&ws, agreed, &options, &out)?;
        if done.skipped > 0 {
            bar.println(format!(
                "  {} stored cases carry no encoding and are not linked.",
                done.skipped
            ));
        }
        (done.linkage, out)
    } else {
        let Some(schema) = agreed else {
            bail!("give --schema (the linkage schema of the files) or --workspace");
        };
        if args.inputs.is_empty() {
            bail!("no input files: give the encoded files to pool, or --workspace");
        }
        let Some(out) = args.out.clone() else {
            bail!("give --out, the folder for clusters.csv, pairs.csv and report.json");
        };
        let pool = files_pool(&schema, &args.inputs, args.plaintext)?;
        (
            corridor_link::link_into(&out, &pool, &schema, &options)?,
            out,
        )
    };
    bar.finish_and_clear();
    print_linkage(&linkage, args.threshold, &out);
    Ok(linkage.report)
}

fn files_pool(schema: &LinkageSchema, inputs: &[PathBuf], plaintext: bool) -> Result<Pool> {
    let (pool, counts) = Pool::from_files(schema, inputs, plaintext)?;
    for (path, n) in inputs.iter().zip(counts) {
        println!("  {n:>9} records from {}", path.display());
    }
    Ok(pool)
}

pub(crate) fn print_linkage(linkage: &corridor_link::Linkage, threshold: f64, out: &Path) {
    let r = &linkage.report;
    println!(
        "Linked {} records ({} mode) from {}: {} candidate pairs (reduction ratio {:.5}), {} at probability ≥ {}, {} persons ({} records share a person with another record).",
        r.records,
        r.mode,
        r.sources.join(", "),
        r.candidate_pairs,
        r.reduction_ratio,
        r.pairs_at_threshold,
        threshold,
        r.clusters,
        r.records_in_multi_record_clusters
    );
    println!(
        "  blocking {:.2} s, scoring {:.2} s, clustering {:.2} s; model: λ = {:.3e} after {} EM iterations. Written to {}.",
        r.seconds_blocking,
        r.seconds_scoring,
        r.seconds_clustering,
        linkage.model.lambda,
        linkage.model.em_iterations,
        out.display()
    );
    if !r.term_frequency_adjusted.is_empty() {
        println!(
            "  term frequencies weigh exact agreement on: {}.",
            r.term_frequency_adjusted.join(", ")
        );
    }
    let b = &r.bands;
    let keys: Vec<String> = r
        .blocking_keys
        .iter()
        .map(|(k, n)| format!("{k} ({n} pairs)"))
        .collect();
    println!(
        "  blocking: {} LSH bands of {} bits ({}){}; keys: {}.",
        b.bands,
        b.band_bits,
        if b.calibrated {
            format!(
                "chosen from {} {} for {:.0} expected candidates, budget {:.0}",
                b.likely_matches,
                if b.recalibrated {
                    "of the model's matches, weighted by their chance of being found (the first bands missed many)"
                } else {
                    "likely matches"
                },
                b.expected_candidates.unwrap_or_default(),
                b.candidate_budget
            )
        } else {
            "as the schema sets them".to_string()
        },
        r.estimated_pair_completeness
            .map(|pc| format!(", estimated pair completeness {pc:.4}"))
            .unwrap_or_default(),
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        }
    );
    for w in &r.warnings {
        println!("  warning: {w}");
    }
}

pub fn link(cmd: LinkCommand) -> Result<()> {
    match cmd {
        LinkCommand::Dedupe(args) => dedupe(args).map(|_| ()),
        LinkCommand::Pair {
            schema,
            plaintext,
            threshold,
            keep_pairs_from,
            one_to_one,
            out,
            a,
            b,
        } => {
            let schema = LinkageSchema::load(&schema)?;
            let pool = files_pool(&schema, &[a, b], plaintext)?;
            let options = LinkOptions {
                threshold,
                across_sources_only: true,
                keep_pairs_from,
                one_to_one,
            };
            let bar = spinner("linking");
            let linkage = corridor_link::link_into(&out, &pool, &schema, &options)?;
            bar.finish_and_clear();
            print_linkage(&linkage, threshold, &out);
            Ok(())
        }
        LinkCommand::Evaluate {
            links,
            truth,
            truth_pattern,
            truth_id,
            truth_entity,
            workspace,
            truth_org,
            json,
        } => {
            let e = match (&truth_pattern, &truth) {
                (Some(pattern), _) => {
                    corridor_link::evaluate::evaluate_by_pattern(&links, pattern)?
                }
                (None, Some(truth)) => evaluate(
                    &links,
                    truth,
                    &truth_id,
                    &truth_entity,
                    workspace.as_deref(),
                    &truth_org,
                )?,
                (None, None) => {
                    bail!("corridor link evaluate needs --truth FILE or --truth-pattern REGEX")
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                print_evaluation(&e);
            }
            Ok(())
        }
    }
}

pub fn print_evaluation(e: &corridor_link::Evaluation) {
    println!(
        "  precision {:.4}  recall {:.4}  F1 {:.4}  ({} of {} predicted pairs correct; {} true pairs)",
        e.precision, e.recall, e.f1, e.correct_pairs, e.predicted_pairs, e.true_pairs
    );
    println!(
        "  blocking: pair completeness {:.4}{}, reduction ratio {:.6} ({} candidate pairs)",
        e.pair_completeness,
        if e.pairs_kept_from > 0.0 {
            format!(
                " (among pairs kept at probability ≥ {}; link with --keep-pairs-from 0 for all)",
                e.pairs_kept_from
            )
        } else {
            String::new()
        },
        e.reduction_ratio,
        e.candidate_pairs
    );
    if e.records_not_in_truth > 0 {
        println!(
            "  {} linked records are not in the truth file and were left out",
            e.records_not_in_truth
        );
    }
}

pub fn evaluate(
    links: &Path,
    truth: &Path,
    truth_id: &[String],
    truth_entity: &str,
    workspace: Option<&Path>,
    truth_org: &str,
) -> Result<corridor_link::Evaluation> {
    let ids: Vec<&str> = truth_id.iter().map(String::as_str).collect();
    Ok(match workspace {
        Some(dir) => corridor_cases::evaluate_workspace_links(
            &Workspace::open(dir)?,
            links,
            truth,
            &ids,
            truth_entity,
            truth_org,
        )?,
        None => corridor_link::evaluate::evaluate_files(links, truth, &ids, truth_entity)?,
    })
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SynthMethod {
    /// k-synthetic microdata and aggregates
    KSynthetic,
    /// differentially private synthesis from noisy marginals
    Dp,
    /// both, in two folders
    Both,
}

#[derive(Args)]
pub struct SynthArgs {
    /// Synthesise the deduplicated trafficking cases of this workspace
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Or any categorical CSV (UTF-8, header row)
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Columns of --input to use [default: all]
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Nothing is published about fewer than k records
    #[arg(long, default_value_t = 10)]
    pub k: u32,
    /// Longest attribute combination protected and counted (L, 1 to 5)
    #[arg(long, default_value_t = 4)]
    pub length: usize,
    /// Published counts are rounded down to a multiple of this
    #[arg(long, default_value_t = 10)]
    pub resolution: u32,
    /// k-synthetic: one synthetic record per sensitive record, none added
    /// to bring single-attribute counts back to the published ones
    #[arg(long)]
    pub one_per_record: bool,
    #[arg(long, value_enum, default_value_t = SynthMethod::KSynthetic)]
    pub method: SynthMethod,
    /// Privacy loss of DP synthesis as ε (with --delta), converted to zCDP ρ
    #[arg(long, default_value_t = 1.0)]
    pub epsilon: f64,
    #[arg(long, default_value_t = 1e-6)]
    pub delta: f64,
    /// Privacy loss as zCDP ρ directly (overrides --epsilon)
    #[arg(long)]
    pub rho: Option<f64>,
    /// DP synthesis: how many columns each column is drawn given. 2 fits three-way factors where
    /// the budget affords them; 1 is MST's spanning tree of two-way marginals
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub parents: u8,
    /// Population for SDG 16.2.2 rates per 100,000 [default in a workspace: its population table]
    #[arg(long)]
    pub population: Option<f64>,
    /// Public domain of DP synthesis: CSV `attribute,value`, one allowed value per row [default in a
    /// workspace: the code lists; the file's columns replace theirs]. Never taken from the data
    #[arg(long)]
    pub domain: Option<PathBuf>,
    /// Synthetic-data folder (protected figures only)
    #[arg(long)]
    pub out: PathBuf,
    /// Folder of the internal review report, which holds sensitive counts and is never handed out
    /// [default: WORKSPACE/synth-review/<name of --out>, or <--out>.internal-review beside --out]
    #[arg(long)]
    pub review_dir: Option<PathBuf>,
    /// Seed of the synthesis (not of the privacy noise, which is always fresh)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn synth(args: SynthArgs) -> Result<()> {
    let given = args
        .domain
        .as_deref()
        .map(Domain::from_csv)
        .transpose()
        .context("reading --domain")?;
    let plan = Plan {
        k_synthetic: matches!(args.method, SynthMethod::KSynthetic | SynthMethod::Both).then(
            || KOptions {
                k: args.k,
                length: args.length,
                resolution: args.resolution,
                seed: args.seed,
                keep_counts: !args.one_per_record,
            },
        ),
        dp: matches!(args.method, SynthMethod::Dp | SynthMethod::Both).then(|| DpOptions {
            rho: args
                .rho
                .unwrap_or_else(|| corridor_synth::dp::rho_of(args.epsilon, args.delta)),
            delta: args.delta,
            seed: args.seed,
            parents: usize::from(args.parents),
        }),
    };
    let context = || format!("synthesising into {}", args.out.display());
    match (&args.workspace, &args.input) {
        (Some(dir), None) => {
            let ws = Workspace::open(dir)?;
            let done = corridor_cases::synthesise_workspace(
                &ws,
                &plan,
                args.population,
                given,
                &args.out,
                args.review_dir.as_deref(),
            )
            .with_context(context)?;
            print_workspace_synthesis(&done);
        }
        (None, Some(input)) => {
            let table = Table::from_csv(input, args.columns.as_deref())?;
            let ctx = SynthContext {
                indicator: Default::default(),
                population: args.population.map(SynthPopulation::total),
                source: format!("{}", input.display()),
            };
            let review = args
                .review_dir
                .clone()
                .unwrap_or_else(|| corridor_synth::review_beside(&args.out));
            let runs = corridor_synth::synthesise(
                &table,
                &given.unwrap_or_default(),
                &ctx,
                &plan,
                corridor_synth::Folders {
                    publish: &args.out,
                    review: &review,
                },
                // A file outside any workspace has no ledger to charge.
                &mut |_, _| Ok(()),
            )
            .with_context(context)?;
            print_synthesised(&runs);
        }
        _ => bail!("give either --workspace or --input"),
    }
    Ok(())
}

pub(crate) fn print_workspace_synthesis(s: &corridor_cases::WorkspaceSynthesis) {
    println!(
        "  {} case records, {} persons after deduplication, {} attributes",
        s.case_records, s.persons, s.attributes
    );
    print_synthesised(&s.runs);
    if let Some(total) = s.rho_spent {
        println!(
            "  recorded in the workspace's privacy ledger: ρ spent on trafficking_cases so far = {total:.4}"
        );
    }
}

fn print_synthesised(runs: &corridor_synth::Synthesised) {
    if let Some(run) = &runs.k_synthetic {
        print_synth_summary(run);
    }
    let Some(dp) = &runs.dp else { return };
    print_synth_summary(&dp.run);
    println!(
        "  domain: {}",
        dp.input
            .notes()
            .iter()
            .map(|n| format!("{} ({} values)", n.column, n.values))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for o in dp.input.outside() {
        let values: Vec<String> = o.values.iter().map(|(v, n)| format!("{v} ({n})")).collect();
        println!(
            "  {} {} a {} outside the domain, synthesised as no value: {}",
            o.records,
            if o.records == 1 {
                "record has"
            } else {
                "records have"
            },
            o.column,
            values.join(", ")
        );
    }
    println!(
        "  privacy loss ρ = {:.4} (ε = {:.3} at δ = {:e}) over {} measurements",
        dp.privacy.rho,
        dp.privacy.epsilon,
        dp.privacy.delta,
        dp.privacy.measurements.len()
    );
}

fn print_synth_summary(run: &corridor_synth::Run) {
    let (report, dir, review, seconds) = (&run.report, &run.publish, &run.review, run.seconds);
    println!(
        "{}: {} synthetic records from {} in {:.2} s → {}",
        report.method,
        report.synthetic_rows,
        report.sensitive_rows,
        seconds,
        dir.display()
    );
    for l in &report.by_length {
        println!(
            "  length {}: {:>7} reportable, {:>5.1} % preserved, mean relative error {:>5.1} %, {:>7} suppressed, {:>5} fabricated",
            l.length,
            l.reportable,
            100.0 * l.preserved_share,
            100.0 * l.mean_relative_error,
            l.suppressed,
            l.fabricated
        );
    }
    println!(
        "  TVD 1/2/3-way: {:.4} / {:.4} / {:.4}; records unique on a published combination: {} ({})",
        report.tvd[0],
        report.tvd[1],
        report.tvd[2],
        report.records_unique_on_a_published_combination,
        if report.k_guarantee {
            "check passed"
        } else {
            "informational: DP protects by its privacy loss"
        }
    );
    println!(
        "  internal review with sensitive counts (keep it inside, never hand it out): {}",
        review.display()
    );
}
