//! Synthesising a workspace's cases as one user action: the cases as a
//! table, the code lists' domain (a publisher's file may replace columns
//! of it), the workspace's population, the review folder inside the
//! workspace, and the privacy ledger charged for DP.

use std::path::{Path, PathBuf};

use corridor_store::Workspace;
use corridor_synth::report::Population;
use corridor_synth::{Context, Domain, Plan, Synthesised};

use corridor_store::Budget;
use corridor_synth::Folders;

use crate::{
    CasesError, charge, record_detail, review_folder, workspace_cases, workspace_domain,
    workspace_population,
};

/// What [`synthesise_workspace`] did.
pub struct WorkspaceSynthesis {
    /// Case records stored, and persons (rows synthesised) after
    /// deduplication.
    pub case_records: usize,
    pub persons: usize,
    pub attributes: usize,
    pub review: PathBuf,
    pub runs: Synthesised,
    /// ρ spent on the workspace's cases so far, this run included, when
    /// DP ran.
    pub rho_spent: Option<f64>,
}

/// Synthesises the workspace's (deduplicated) cases into `publish` by
/// `plan`. `population` replaces the workspace's population table for
/// SDG 16.2.2 rates; `domain` replaces the code lists' domain of the
/// columns it lists; `review` defaults to `WS/synth-review/<name>/`.
pub fn synthesise_workspace(
    ws: &Workspace,
    plan: &Plan,
    population: Option<f64>,
    domain: Option<Domain>,
    publish: &Path,
    review: Option<&Path>,
) -> Result<WorkspaceSynthesis, CasesError> {
    let (table, case_records) = workspace_cases(ws)?;
    let ctx = Context {
        indicator: Default::default(),
        population: population
            .map(Population::total)
            .or_else(|| workspace_population(ws)),
        source: format!("the trafficking cases of workspace {}", ws.root().display()),
    };
    let domain = match domain {
        Some(given) => workspace_domain().overridden_by(given),
        None => workspace_domain(),
    };
    let review = review.map_or_else(|| review_folder(ws, publish), Path::to_path_buf);
    let mut charged: Option<(Budget, i64)> = None;
    let mut refused: Option<CasesError> = None;
    let runs = corridor_synth::synthesise(
        &table,
        &domain,
        &ctx,
        plan,
        Folders {
            publish,
            review: &review,
        },
        &mut |folder, opts| match charge(ws, folder, opts) {
            Ok(c) => {
                charged = Some(c);
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                refused = Some(e);
                Err(corridor_synth::SynthError::Refused(message))
            }
        },
    );
    if let Some(e) = refused {
        return Err(e);
    }
    let runs = runs?;
    let rho_spent = match (&runs.dp, charged) {
        (Some(dp), Some((budget, seq))) => {
            record_detail(ws, seq, &dp.privacy)?;
            Some(budget.spent)
        }
        _ => None,
    };
    Ok(WorkspaceSynthesis {
        case_records,
        persons: table.rows(),
        attributes: table.width(),
        review,
        runs,
        rho_spent,
    })
}
