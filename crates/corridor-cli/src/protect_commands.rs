//! `corridor protect`: disclosure control on a table or microdata in CSV
//! files, outside any workspace (a release protects a workspace's tables
//! itself).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Subcommand;
use corridor_protect::{Cost, HierarchySource, LeafFile, SuppressionParams};
use indicatif::ProgressBar;

#[derive(Subcommand)]
pub enum ProtectCommand {
    /// Threshold rule with secondary suppression over hierarchies: no withheld cell can be narrowed to within its protection interval
    Suppress {
        /// The table's finest cells: a CSV with one column per dimension and a count column (rows of margins are checked against their cells)
        #[arg(long)]
        input: PathBuf,
        /// The dimension columns, e.g. month,country,sex
        #[arg(long, value_delimiter = ',', required = true)]
        dims: Vec<String>,
        /// The count column
        #[arg(long, default_value = "value")]
        value: String,
        /// A dimension's hierarchy: DIM=FILE.csv (columns code,parent; the total's parent empty), DIM=calendar (month → quarter → year), DIM=m49 (country → M49 sub-region → region) or DIM=broad (five-year → broad age groups); others are a total over their codes
        #[arg(long, value_name = "DIM=SOURCE")]
        hierarchy: Vec<String>,
        /// Cells of 1 to THRESHOLD − 1 are withheld (primary suppression)
        #[arg(long, default_value_t = 10)]
        threshold: u32,
        /// How far (persons) from its true value the attacker's interval for a withheld cell must reach [default: the threshold]
        #[arg(long)]
        protection: Option<u32>,
        /// What secondary suppression keeps small: values (persons withheld) or cells
        #[arg(long, default_value = "values")]
        cost: String,
        /// Every cell with its margins: DIMS…,value,conf_status (F free; C withheld, value empty)
        #[arg(long)]
        out: PathBuf,
        /// Print the report as one JSON line
        #[arg(long)]
        json: bool,
    },
    /// Differentially private counts (zCDP): every margin noised, least squares, consistent non-negative whole numbers with a 95 % error bound
    Dp {
        /// The table's finest cells: one column per dimension and a count column
        #[arg(long)]
        input: PathBuf,
        /// The dimension columns
        #[arg(long, value_delimiter = ',', required = true)]
        dims: Vec<String>,
        /// The count column
        #[arg(long, default_value = "value")]
        value: String,
        /// The privacy-loss parameter ρ (zCDP) the whole table spends
        #[arg(long)]
        rho: f64,
        /// Every code a dimension may take: DIM=FILE (a header, then one code per row); needed for every dimension, since a DP domain never comes from the data
        #[arg(long, value_name = "DIM=FILE")]
        domain: Vec<String>,
        /// Every cell with its margins: DIMS…,value,error_bound_95
        #[arg(long)]
        out: PathBuf,
        /// Print the report as one JSON line
        #[arg(long)]
        json: bool,
    },
    /// k-anonymise records: generalise the quasi-identifiers along their hierarchies, then suppress single values; no record is dropped
    Kanon {
        /// The records: a CSV with a header
        #[arg(long)]
        input: PathBuf,
        /// The quasi-identifier columns, e.g. age,sex,citizenship
        #[arg(long, value_delimiter = ',', required = true)]
        quasi: Vec<String>,
        /// Every combination of the quasi-identifiers occurs at least k times
        #[arg(long, default_value_t = 11)]
        k: usize,
        /// A quasi-identifier's hierarchy: COL=FILE.csv (code,parent), COL=age (whole ages → five-year → broad → minor/adult) or COL=m49 (country → M49 sub-region → region); others are kept or suppressed
        #[arg(long, value_name = "COL=SOURCE")]
        hierarchy: Vec<String>,
        /// The protected records, every column kept
        #[arg(long)]
        out: PathBuf,
        /// Print the report as one JSON line
        #[arg(long)]
        json: bool,
    },
}

fn pairs(args: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => bail!("{flag} {a}: write it as NAME=VALUE"),
        })
        .collect()
}

fn hierarchies(args: &[String]) -> Result<Vec<(String, HierarchySource)>> {
    Ok(pairs(args, "--hierarchy")?
        .into_iter()
        .map(|(d, s)| (d, HierarchySource::parse(&s)))
        .collect())
}

fn working(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

pub fn protect(command: ProtectCommand) -> Result<()> {
    let started = Instant::now();
    match command {
        ProtectCommand::Suppress {
            input,
            dims,
            value,
            hierarchy,
            threshold,
            protection,
            cost,
            out,
            json,
        } => {
            let cost = match cost.as_str() {
                "values" => Cost::Values,
                "cells" => Cost::Cells,
                other => bail!("--cost {other}: use values or cells"),
            };
            let params = SuppressionParams {
                threshold,
                protection,
                cost,
            };
            let file = LeafFile {
                path: input,
                dims,
                value,
            };
            let bar = working("suppressing");
            let done =
                corridor_protect::suppress_file(&file, &hierarchies(&hierarchy)?, &params, &out);
            bar.finish_and_clear();
            let done = done?;
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let mut v = serde_json::to_value(&done)?;
                v["seconds"] = seconds.into();
                println!("{v}");
            } else {
                let r = &done.report;
                let share = |a: u64, b: u64| {
                    if b == 0 {
                        0.0
                    } else {
                        100.0 * a as f64 / b as f64
                    }
                };
                println!(
                    "{} cells ({} rows read{}): {} below {} withheld, {} more to protect them \
                     ({:.1} % of the cells, {:.2} % of the count){}; wrote {} in {seconds:.1} s",
                    r.cells,
                    done.rows,
                    if done.margin_rows > 0 {
                        format!(", {} margins checked", done.margin_rows)
                    } else {
                        String::new()
                    },
                    r.primary,
                    params.threshold,
                    r.secondary,
                    share((r.primary + r.secondary) as u64, r.cells as u64),
                    share(r.value_suppressed, r.value_total),
                    if r.whole_subtables > 0 {
                        format!(
                            ", {} sub-tables too small withheld whole",
                            r.whole_subtables
                        )
                    } else {
                        String::new()
                    },
                    out.display()
                );
            }
        }
        ProtectCommand::Dp {
            input,
            dims,
            value,
            rho,
            domain,
            out,
            json,
        } => {
            let domains: Vec<(String, PathBuf)> = pairs(&domain, "--domain")?
                .into_iter()
                .map(|(d, f)| (d, PathBuf::from(f)))
                .collect();
            let file = LeafFile {
                path: input,
                dims,
                value,
            };
            let bar = working("adding noise");
            let done = corridor_protect::dp_file(&file, &domains, rho, &out);
            bar.finish_and_clear();
            let done = done?;
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let mut v = serde_json::to_value(&done)?;
                v["seconds"] = seconds.into();
                println!("{v}");
            } else {
                println!(
                    "{} cells published under ρ = {} (zCDP; no workspace ledger was charged: count it against your budget); wrote {} in {seconds:.1} s",
                    done.cells,
                    done.rho,
                    out.display()
                );
                if done.margin_rows > 0 {
                    println!(
                        "{} rows of margins were not used: margins are computed from the cells",
                        done.margin_rows
                    );
                }
                if done.outside_domain_rows > 0 {
                    println!(
                        "warning: {} rows ({} counted) have a code outside the domain and are in no cell; add the codes to the domain files to count them",
                        done.outside_domain_rows, done.outside_domain_value
                    );
                }
            }
        }
        ProtectCommand::Kanon {
            input,
            quasi,
            k,
            hierarchy,
            out,
            json,
        } => {
            let bar = working("k-anonymising");
            let done =
                corridor_protect::kanon_file(&input, &quasi, k, &hierarchies(&hierarchy)?, &out);
            bar.finish_and_clear();
            let done = done?;
            let seconds = started.elapsed().as_secs_f64();
            let r = &done.report;
            if json {
                let mut v = serde_json::to_value(&done)?;
                v["levels"] = r
                    .columns
                    .iter()
                    .map(|c| (c.column.clone(), c.level.into()))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                v["seconds"] = seconds.into();
                println!("{v}");
            } else {
                println!(
                    "{} records, {k}-anonymous over {}: {} values generalised, {} suppressed \
                     ({} records with a suppressed value, {} with all); smallest class {}; wrote {} in {seconds:.1} s",
                    r.records,
                    quasi.join(", "),
                    r.generalised_values,
                    r.suppressed_values,
                    done.records_with_suppression,
                    r.records_fully_suppressed,
                    r.smallest_class,
                    out.display()
                );
                for c in &r.columns {
                    println!(
                        "  {:<28} level {}  {} generalised, {} suppressed",
                        c.column, c.level, c.generalised, c.suppressed
                    );
                }
            }
        }
    }
    Ok(())
}
