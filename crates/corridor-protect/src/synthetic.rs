//! Synthetic case data for a release. `corridor-synth` writes a
//! synthesis's publishable folder; here it writes into a fresh folder of
//! this crate's making, and the files are read back into a
//! [`Protected`] [`PublishedSynthetic`], so that a release can hold
//! synthetic data without accepting any folder a caller points at.

use std::fs;
use std::path::Path;

use corridor_store::Workspace;
use corridor_synth::{DpOptions, KOptions, Plan, PublicReport};
use serde::Serialize;

use crate::{Method, ProtectError, Protected};

/// Which synthesis to run, with its parameters.
#[derive(Debug, Clone)]
pub enum Synthesis {
    /// k-synthetic data (in the manner of the Synthetic Data Showcase):
    /// every combination of up to `length` attributes in the data or the
    /// aggregates is held by at least `k` victims.
    KSynthetic(KOptions),
    /// Differentially private synthetic data, charged to the cases'
    /// privacy budget before any noise is drawn.
    Dp(DpOptions),
}

/// A synthesis's publishable files (the synthetic records, the
/// aggregates or the privacy accounting, the report and its README), by
/// their name in the folder, and the public report.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedSynthetic {
    #[serde(skip)]
    pub files: Vec<(String, Vec<u8>)>,
    pub report: PublicReport,
    /// Case records read, and persons synthesised once linked.
    pub case_records: usize,
    pub persons: usize,
    /// ρ spent on the cases so far, this synthesis included (DP).
    pub rho_spent: Option<f64>,
}

/// Synthesises the workspace's cases by `method` through a scratch folder
/// `scratch` (created here, and removed); the internal review goes inside
/// the workspace, as every workspace synthesis's does.
pub fn synthesise_cases(
    ws: &Workspace,
    method: Synthesis,
    scratch: &Path,
) -> Result<Protected<PublishedSynthetic>, ProtectError> {
    if scratch.exists() {
        return Err(ProtectError::File {
            path: scratch.to_path_buf(),
            message: "the synthesis's scratch folder exists already; it must be new".into(),
        });
    }
    let plan = match &method {
        Synthesis::KSynthetic(k) => Plan {
            k_synthetic: Some(k.clone()),
            dp: None,
        },
        Synthesis::Dp(d) => Plan {
            k_synthetic: None,
            dp: Some(*d),
        },
    };
    let result = run(ws, &plan, &method, scratch);
    let _ = fs::remove_dir_all(scratch);
    result
}

fn run(
    ws: &Workspace,
    plan: &Plan,
    method: &Synthesis,
    scratch: &Path,
) -> Result<Protected<PublishedSynthetic>, ProtectError> {
    let done = corridor_cases::synthesise_workspace(ws, plan, None, None, scratch, None)
        .map_err(|e| ProtectError::Synthesis(e.to_string()))?;
    let (report, method) = match (method, &done.runs.k_synthetic, &done.runs.dp) {
        (Synthesis::KSynthetic(k), Some(run), _) => (
            run.report.publishable(),
            Method::KSynthetic {
                k: k.k,
                length: k.length,
                resolution: k.resolution,
            },
        ),
        (Synthesis::Dp(d), _, Some(dp)) => (
            dp.run.report.publishable(),
            Method::DpSynthesis {
                rho: dp.privacy.rho,
                epsilon: dp.privacy.epsilon,
                delta: d.delta,
                mechanism: corridor_synth::dp::MECHANISM.into(),
            },
        ),
        _ => {
            return Err(ProtectError::Synthesis(
                "the synthesis ran no method".into(),
            ));
        }
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| ProtectError::File {
            path,
            message: e.to_string(),
        }
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(scratch).map_err(io(scratch))? {
        let path = entry.map_err(io(scratch))?.path();
        // Only the files the synthesis wrote at the top of its folder.
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path).map_err(io(&path))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, bytes));
    }
    files.sort();
    Ok(Protected::new(
        PublishedSynthetic {
            files,
            report,
            case_records: done.case_records,
            persons: done.persons,
            rho_spent: done.rho_spent,
        },
        method,
    ))
}
