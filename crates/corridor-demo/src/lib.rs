//! The demo pipeline: `corridor demo` as one library call, so that the
//! CLI only prints and the server (later) can run the same steps.
//!
//! [`run`] generates the demo world, ingests every source through its
//! mapping, derives stays, migrations and stocks, computes the headline
//! tables and mirror statistics, then runs the trafficking flow: each
//! organisation encodes its case file, the platform ingests the
//! encodings, deduplicates them, checks the result against the world's
//! truth and synthesises the cases; last, it writes a release spec, builds
//! the signed release of the border tables and verifies it. Every finished
//! step is handed to the
//! caller as a [`Step`], in order, with the library's own report types;
//! [`Progress`] carries the long steps' progress. The API is [`run`],
//! [`Options`], [`Step`], [`Progress`], [`Layout`] and [`DemoError`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use corridor_cases::{Dedupe, WorkspaceSynthesis};
use corridor_derive::DeriveReport;
use corridor_link::schema::LinkageSchema;
use corridor_link::{Evaluation, LinkOptions};
use corridor_stats::TableSpec;
use corridor_stats::mirror::MirrorRow;
use corridor_store::{Outcome, Workspace};
use corridor_synth::{DpOptions, KOptions, Plan};
use corridor_world::{Summary, WorldConfig};

/// A step of the demo failed; the message names the step.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct DemoError {
    pub step: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn at<E: std::error::Error + Send + Sync + 'static>(
    step: impl Into<String>,
) -> impl FnOnce(E) -> DemoError {
    let step = step.into();
    move |e| DemoError {
        step,
        source: Box::new(e),
    }
}

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The world: persons simulated, seed.
    pub world: WorldConfig,
    /// Replace a workspace the demo did not make (`--force`).
    pub force: bool,
}

/// Where the demo writes, under its folder.
#[derive(Debug, Clone)]
pub struct Layout {
    pub world: PathBuf,
    pub workspace: PathBuf,
    pub trafficking: PathBuf,
    /// The release spec the demo publishes with.
    pub release_spec: PathBuf,
    /// Where its signed release goes.
    pub releases: PathBuf,
}

impl Layout {
    pub fn under(dir: &Path) -> Layout {
        Layout {
            world: dir.join("world"),
            workspace: dir.join("workspace"),
            trafficking: dir.join("trafficking"),
            release_spec: dir.join("release.toml"),
            releases: dir.join("releases"),
        }
    }
}

/// One finished step, in the order the demo runs them.
pub enum Step<'a> {
    Generated {
        summary: &'a Summary,
        seconds: f64,
    },
    /// One source's submission.
    Ingested {
        source: &'a str,
        rows_read: u64,
        stored: u64,
        quarantined: u64,
    },
    /// Border events stored, by reporting country: entries, exits and
    /// distinct travellers, as the workspace's SQL gives them.
    BorderEvents(&'a [RecordBatch]),
    Derived(&'a DeriveReport),
    Table {
        title: &'static str,
        table: &'a corridor_stats::Table,
    },
    /// Mirror statistics by year, totals included.
    Mirror(&'a [MirrorRow]),
    /// The last quarter's departures nowcast from the signals as if its
    /// administrative figures were not in yet, for the busiest corridor,
    /// against the truth; and the rolling back-test's scores.
    Nowcast {
        nowcast: &'a corridor_nowcast::Nowcast,
        corridor: (&'a str, &'a str, &'a str),
        /// True departures of the corridor by month (the world's truth).
        truth: &'a [(String, u64)],
        backtest: &'a corridor_nowcast::Backtest,
    },
    /// One organisation's case file encoded inside it and ingested.
    Encoded {
        organisation: &'a str,
        report: &'a corridor_link::EncodeReport,
        stored: u64,
    },
    Deduplicated(&'a Dedupe),
    /// The deduplication against the world's truth.
    Evaluated(&'a Evaluation),
    Synthesised(&'a WorkspaceSynthesis),
    /// The demo release, built and verified.
    Released {
        built: &'a corridor_publish::Built,
        verified: &'a corridor_publish::Verified,
    },
}

/// Progress of a long step: what, done, total (0 when unknown).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// The headline tables the demo shows.
const HEADLINES: [(&str, &str, [&str; 2]); 3] = [
    (
        "Net migration by year and reporting country",
        "net_migration",
        ["year", "reporting_country"],
    ),
    (
        "Non-residents present at the latest month end, by reporting country and sex",
        "nonresidents_present",
        ["reporting_country", "sex"],
    ),
    (
        "Overstayers at the latest month end, by reporting country and visa type",
        "overstayers",
        ["reporting_country", "visa_type"],
    ),
];

/// Runs the whole demo under `dir` (see [`Layout`]). The workspace is
/// settled first: one the demo did not make is never replaced without
/// `force`, and nothing is written before that is decided.
pub fn run(
    dir: &Path,
    options: &Options,
    progress: Progress,
    on_step: &mut dyn FnMut(Step),
) -> Result<Layout, DemoError> {
    let layout = Layout::under(dir);
    let ws = Workspace::init_demo(&layout.workspace, options.force).map_err(at("workspace"))?;
    let started = Instant::now();
    let summary = corridor_world::generate(&options.world, &layout.world, &|done, total| {
        progress("persons", done, total)
    })
    .map_err(at(format!(
        "generating the world into {}",
        layout.world.display()
    )))?;
    on_step(Step::Generated {
        summary: &summary,
        seconds: started.elapsed().as_secs_f64(),
    });
    ingest(&layout.world, &ws, progress, on_step)?;
    analyse(&ws, progress, on_step)?;
    nowcast(&layout.world, &ws, on_step)?;
    trafficking(&layout, &ws, on_step)?;
    release(&layout, &ws, on_step)?;
    Ok(layout)
}

/// Every source but the case files through its mapping; then the border
/// events by country.
fn ingest(
    world: &Path,
    ws: &Workspace,
    progress: Progress,
    on_step: &mut dyn FnMut(Step),
) -> Result<(), DemoError> {
    for (mapping, file) in corridor_world::mappings::SUBMISSIONS {
        // Case files come in encoded (names never reach the platform): the
        // trafficking step encodes and ingests them.
        if corridor_world::CASE_FILES.contains(file) {
            continue;
        }
        let outcome = ws
            .submit(&world.join(mapping), &world.join(file), false, &mut |n| {
                progress(file, n, 0)
            })
            .map_err(at(format!("ingesting {file}")))?;
        if let Outcome::Committed {
            report, submission, ..
        } = &outcome
        {
            on_step(Step::Ingested {
                source: &submission.source,
                rows_read: report.rows_read,
                stored: report.stored,
                quarantined: report.quarantined,
            });
        }
    }
    let batches = ws
        .sql(
            "SELECT reporting_country AS country, \
                SUM(CASE WHEN direction = 'entry' THEN 1 ELSE 0 END) AS entries, \
                SUM(CASE WHEN direction = 'exit' THEN 1 ELSE 0 END) AS exits, \
                COUNT(DISTINCT person_key) AS travellers \
             FROM border_events GROUP BY 1 ORDER BY 1",
        )
        .map_err(at("counting the border events"))?;
    on_step(Step::BorderEvents(&batches));
    Ok(())
}

/// Derive with the default rule, the headline tables, mirror statistics.
fn analyse(
    ws: &Workspace,
    progress: Progress,
    on_step: &mut dyn FnMut(Step),
) -> Result<(), DemoError> {
    let report = corridor_derive::derive(ws, &corridor_derive::Options::default(), &|d, t| {
        progress("histories", d, t)
    })
    .map_err(at("deriving"))?;
    on_step(Step::Derived(&report));
    for (title, measure, by) in HEADLINES {
        let spec = TableSpec {
            measure: measure.into(),
            by: by.iter().map(|d| d.to_string()).collect(),
            filter: None,
        };
        let table = corridor_stats::table(ws, &spec).map_err(at(format!("the table {measure}")))?;
        on_step(Step::Table {
            title,
            table: &table,
        });
    }
    let rows = corridor_stats::mirror::mirror(ws, "year").map_err(at("mirror statistics"))?;
    on_step(Step::Mirror(&rows));
    Ok(())
}

/// Nowcasts the last quarter of departures from the signals with the
/// administrative figures held back, and back-tests the last year.
fn nowcast(world: &Path, ws: &Workspace, on_step: &mut dyn FnMut(Step)) -> Result<(), DemoError> {
    use corridor_nowcast::series::month_text;
    let mut opts = corridor_nowcast::Options::new("departures");
    let Some(last) =
        corridor_nowcast::last_final_month(ws, &opts.measure).map_err(at("nowcasting"))?
    else {
        return Ok(());
    };
    // The last full quarter the data hold.
    let quarter_end = last - (last.rem_euclid(12) + 1) % 3;
    opts.as_of = Some(quarter_end - 3);
    let held_back = corridor_nowcast::nowcast(ws, &opts).map_err(at("nowcasting"))?;
    let Some(busiest) = held_back
        .rows
        .iter()
        .filter(|r| r.horizon == Some(1) && !r.is_total())
        .max_by(|a, b| a.estimate.total_cmp(&b.estimate))
        .map(|r| {
            (
                r.reporting_country.clone(),
                r.origin.clone(),
                r.destination.clone(),
            )
        })
    else {
        return Ok(());
    };
    let months: Vec<String> = (1..=3).map(|h| month_text(quarter_end - 3 + h)).collect();
    let truth = true_departures(world, &busiest.1, &busiest.2, &months)?;
    let bt = corridor_nowcast::BacktestOptions {
        from: quarter_end - 14,
        to: quarter_end - 3,
        signal_lead: 3,
    };
    opts.as_of = None;
    let backtest =
        corridor_nowcast::backtest(ws, &opts, &bt).map_err(at("back-testing the nowcast"))?;
    on_step(Step::Nowcast {
        nowcast: &held_back,
        corridor: (&busiest.0, &busiest.1, &busiest.2),
        truth: &truth,
        backtest: &backtest,
    });
    Ok(())
}

/// True departures origin → destination in each month, from the world's
/// truth (every crossing, recorded or not).
fn true_departures(
    world: &Path,
    origin: &str,
    destination: &str,
    months: &[String],
) -> Result<Vec<(String, u64)>, DemoError> {
    let path = world.join("truth/crossings.csv");
    let mut reader =
        csv::Reader::from_path(&path).map_err(at(format!("reading {}", path.display())))?;
    let mut counts: Vec<(String, u64)> = months.iter().map(|m| (m.clone(), 0)).collect();
    for row in reader.records() {
        let row = row.map_err(at(format!("reading {}", path.display())))?;
        let (Some(country), Some(direction), Some(date), Some(counterpart)) =
            (row.get(1), row.get(2), row.get(3), row.get(5))
        else {
            continue;
        };
        if country != origin || direction != "departure" || counterpart != destination {
            continue;
        }
        if let Some(c) = counts
            .iter_mut()
            .find(|(m, _)| date.starts_with(m.as_str()))
        {
            c.1 += 1;
        }
    }
    Ok(counts)
}

/// Each organisation encodes and submits its cases; the platform
/// deduplicates, evaluates against the truth and synthesises.
fn trafficking(
    layout: &Layout,
    ws: &Workspace,
    on_step: &mut dyn FnMut(Step),
) -> Result<(), DemoError> {
    use corridor_world::mappings::{LINKAGE, PARTNERS_KEY};
    let world = &layout.world;
    let secret = corridor_ingest::secret::read(
        &world.join(PARTNERS_KEY),
        corridor_ingest::secret::SecretKind::Partners,
    )
    .map_err(at("the partners' secret"))?;
    for l in &LINKAGE {
        let schema = LinkageSchema::load(&world.join(l.schema)).map_err(at(l.schema))?;
        let report = corridor_link::encode_file(
            &schema,
            secret.text.as_bytes(),
            &world.join(l.raw),
            &world.join(l.encoded),
            |_| {},
        )
        .map_err(at(format!("encoding {}", l.raw)))?;
        let outcome = ws
            .submit(
                &world.join(l.mapping),
                &world.join(l.encoded),
                false,
                &mut |_| {},
            )
            .map_err(at(format!("ingesting {}", l.encoded)))?;
        let stored = match outcome {
            Outcome::Committed { report, .. } => report.stored,
            Outcome::AlreadyIngested { .. } => 0,
        };
        on_step(Step::Encoded {
            organisation: l.organisation,
            report: &report,
            stored,
        });
    }
    let agreed = match LINKAGE.first() {
        Some(l) => Some(LinkageSchema::load(&world.join(l.schema)).map_err(at(l.schema))?),
        None => None,
    };
    let links = ws.root().join("linkage");
    let dedupe = corridor_cases::dedupe_workspace(
        ws,
        agreed,
        &LinkOptions {
            threshold: 0.5,
            across_sources_only: false,
            keep_pairs_from: corridor_link::DEFAULT_KEEP_PAIRS_FROM,
            one_to_one: false,
        },
        &links,
    )
    .map_err(at("deduplicating the cases"))?;
    on_step(Step::Deduplicated(&dedupe));
    let evaluation = corridor_cases::evaluate_workspace_links(
        ws,
        &links,
        &world.join("truth/case_records.csv"),
        &["case_id"],
        "victim_id",
        "organisation",
    )
    .map_err(at("evaluating the deduplication"))?;
    on_step(Step::Evaluated(&evaluation));
    let plan = Plan {
        k_synthetic: Some(KOptions {
            k: 10,
            length: 4,
            resolution: 10,
            seed: 1,
            keep_counts: true,
        }),
        dp: Some(DpOptions::new(
            corridor_synth::dp::rho_of(1.0, 1e-6),
            1e-6,
            1,
        )),
    };
    // The demo's publisher sets the cases' budget: one DP synthesis here and
    // one in the release (`victims_dp_synthetic`, the same ε).
    let dp_rho = plan.dp.as_ref().map_or(0.0, |d| d.rho);
    ws.set_privacy_budget(corridor_cases::CASES_DATASET, 2.0 * dp_rho)
        .map_err(at("setting the cases' privacy budget"))?;
    let synthesis =
        corridor_cases::synthesise_workspace(ws, &plan, None, None, &layout.trafficking, None)
            .map_err(at(format!(
                "synthesising into {}",
                layout.trafficking.display()
            )))?;
    on_step(Step::Synthesised(&synthesis));
    Ok(())
}

/// The demo's release spec: the standard border tables, each protected by
/// cell-key perturbation, and one by random rounding.
pub const RELEASE_SPEC: &str = r#"# The demo release: what `corridor release build` publishes.
title = "Human mobility in the demo world: border statistics and trafficking cases"
description = "Flows, long-term migration by the 12/16-month rule, stocks, overstays, returns and residence permits, from the border agencies' records of the demo world; identified victims of trafficking (SDG 16.2.2), their k-anonymised records and synthetic data, from the organisations' case records."
licence = "CC-BY-4.0"
version = "demo-1"
reference_period = "2022-01/2025-12"

[[table]]
name = "flows_by_citizenship"
standard = "flows_by_citizenship"
method = "cell_key"
ptable = { D = 2, V = 1.0, js = 1 }

[[table]]
name = "departures_by_citizenship"
standard = "departures_by_citizenship"
method = "cell_key"

[[table]]
name = "migrant_arrivals"
standard = "migrant_arrivals"
method = "cell_key"

[[table]]
name = "migrant_departures"
standard = "migrant_departures"
method = "cell_key"

[[table]]
name = "stock_nonresidents"
standard = "stock_nonresidents"
method = "cell_key"

[[table]]
name = "residents_abroad"
standard = "residents_abroad"
method = "cell_key"

[[table]]
name = "overstayers"
standard = "overstayers"
method = "cell_key"

[[table]]
name = "overstays"
standard = "overstays"
method = "cell_key"

[[table]]
name = "returns"
standard = "returns"
method = "cell_key"

[[table]]
name = "permits"
standard = "permits"
method = "cell_key"

[[table]]
name = "arrivals_by_year_and_sex"
title = "Arrivals by year, reporting country and sex"
measure = "arrivals"
by = ["year", "reporting_country", "sex"]
method = "rr3"

# Mirror statistics: each country's departures to the others beside the
# others' arrivals from it (the portal's mirror view pairs them).
[[table]]
name = "departures_by_counterpart"
title = "Departures by year, reporting country and country of destination"
measure = "departures"
by = ["year", "reporting_country", "counterpart_country"]
method = "rr3"

[[table]]
name = "arrivals_by_counterpart"
title = "Arrivals by year, reporting country and country of origin"
measure = "arrivals"
by = ["year", "reporting_country", "counterpart_country"]
method = "rr3"

# Differentially private: noise on every cell and margin under a budget
# the ledger keeps; whole numbers of 0 or more that add up, each with its
# 95 % error bound. The categories come from the code lists (regions)
# and from the publisher (the reporting countries), never from the data.
[[table]]
name = "migrant_arrivals_by_region"
title = "Long-term immigrants by year, reporting country and region of citizenship"
measure = "migrant_arrivals"
by = ["year", "reporting_country", "citizenship_region"]
method = "dp"
rho = 0.25
domain = { reporting_country = ["GTM", "HND", "SLV"] }

[[table]]
name = "migrant_departures_by_region"
title = "Long-term emigrants by year, reporting country and region of citizenship"
measure = "migrant_departures"
by = ["year", "reporting_country", "citizenship_region"]
method = "dp"
rho = 0.25
domain = { reporting_country = ["GTM", "HND", "SLV"] }

# Suppressed: counts from 1 to 9 withheld, with enough others that none
# can be worked out to within 3 persons from everything published. The
# two tables share their year and country totals and are protected
# together: a cell they share is withheld in both or in neither.
[[table]]
name = "permits_by_year"
title = "Residence permits by year, reporting country and type"
measure = "permits"
by = ["year", "reporting_country", "permit_type"]
method = "suppression"

[[table]]
name = "permits_by_region"
title = "Residence permits by year, reporting country and region of citizenship"
measure = "permits"
by = ["year", "reporting_country", "citizenship_region"]
method = "suppression"

# SDG 16.2.2: identified victims by sex, age group and form of
# exploitation, each person once, randomly rounded to base 3; and the same
# per 100,000 of the population (sdg_16_2_2_per_100000).
[[table]]
name = "sdg_16_2_2"
title = "SDG 16.2.2: identified victims of trafficking by sex, age group and form of exploitation"
measure = "victims"
by = ["sex", "age_group", "exploitation_form"]
method = "rr3"
per_100000 = true

[[table]]
name = "victims_by_year"
title = "Identified victims of trafficking by year of registration, citizenship region and country of exploitation"
measure = "victims"
by = ["year", "citizenship_region", "country_of_exploitation"]
method = "cell_key"

# One record per identified victim (the linkage keeps each person once),
# k-anonymous over what someone could know of a victim from elsewhere.
[[microdata]]
name = "victims"
title = "Identified victims of trafficking, one record per person, 11-anonymous"
columns = ["sex", "age_group", "citizenship", "country_of_exploitation", "exploitation", "registration_year"]
quasi = ["sex", "age_group", "citizenship", "country_of_exploitation"]
k = 11

# Synthetic victims: k-synthetic (nothing about fewer than 10 victims),
# and differentially private (ε = 1, charged to the cases' budget).
[[synthetic]]
name = "victims_k_synthetic"
method = "k_synthetic"
k = 10
length = 4
resolution = 10

[[synthetic]]
name = "victims_dp_synthetic"
method = "dp"
epsilon = 1.0
delta = 1e-6

# Experimental: departures by corridor nowcast for the last quarter from
# the signals, as if the border data stopped three months earlier; computed
# from the cell-key protected monthly table, with the bias note.
[[nowcast]]
name = "departures_nowcast"
measure = "departures"
horizon = 3
as_of = "2025-09"

[suppression]
threshold = 10
protection = 3
cost = "values"
"#;

/// Writes the release spec beside the workspace, builds the release from
/// it and verifies the result.
fn release(
    layout: &Layout,
    ws: &Workspace,
    on_step: &mut dyn FnMut(Step),
) -> Result<(), DemoError> {
    std::fs::write(&layout.release_spec, RELEASE_SPEC)
        .map_err(at(format!("writing {}", layout.release_spec.display())))?;
    let spec = corridor_publish::ReleaseSpec::load(&layout.release_spec)
        .map_err(at("the demo release spec"))?;
    // The demo's publisher sets the border records' budget to what the
    // release's DP tables spend.
    let rho: f64 = spec.tables.iter().filter_map(|t| t.rho).sum();
    ws.set_privacy_budget(corridor_publish::BORDER_DATASET, rho)
        .map_err(at("setting the border records' privacy budget"))?;
    let built = corridor_publish::build_release(ws, &spec, &layout.releases, &|_, _, _| {})
        .map_err(at("building the demo release"))?;
    let verified = corridor_publish::verify_release(&built.dir, Some(&built.public_key))
        .map_err(at("verifying the demo release"))?;
    on_step(Step::Released {
        built: &built,
        verified: &verified,
    });
    Ok(())
}
