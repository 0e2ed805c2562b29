//! One synthesis as a user asks for it: k-synthetic, DP or both, each
//! into its folder pair. Callers choose what to run; this decides where it
//! goes and times it, the same for the CLI, the demo and the server.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{
    Context, Domain, DpOptions, Folders, InDomain, KOptions, PrivacyLoss, Report, SynthError,
    Table, write_dp, write_ksynthetic,
};

/// Which methods to run, with their parameters.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub k_synthetic: Option<KOptions>,
    pub dp: Option<DpOptions>,
}

/// One method's run: its two folders, its report and how long it took.
pub struct Run {
    pub publish: PathBuf,
    pub review: PathBuf,
    pub report: Report,
    pub seconds: f64,
}

/// A DP run, with its privacy loss and how the data met the domain.
pub struct DpRun {
    pub run: Run,
    pub privacy: PrivacyLoss,
    pub input: InDomain,
}

/// What [`synthesise`] wrote.
#[derive(Default)]
pub struct Synthesised {
    pub k_synthetic: Option<Run>,
    pub dp: Option<DpRun>,
}

/// Runs the plan's methods on `table`. With one method its folders are
/// `publish` and `review`; with both, each method gets a subfolder of each
/// (`k-synthetic/`, `dp/`). DP needs a domain for every column it
/// synthesises: an empty `domain` is refused, never filled from the data.
/// `before_noise` is called with the DP folder and options before any
/// noise is drawn: a workspace charges its privacy ledger there, and an
/// error (a refused charge) stops the run.
pub fn synthesise(
    table: &Table,
    domain: &Domain,
    ctx: &Context,
    plan: &Plan,
    folders: Folders,
    before_noise: &mut dyn FnMut(&Path, &DpOptions) -> Result<(), SynthError>,
) -> Result<Synthesised, SynthError> {
    let (publish, review) = (folders.publish, folders.review);
    if plan.k_synthetic.is_none() && plan.dp.is_none() {
        return Err(SynthError::Input("no synthesis method chosen".into()));
    }
    if table.rows() == 0 {
        return Err(SynthError::Input("no records to synthesise".into()));
    }
    if plan.dp.is_some() && domain.attributes.is_empty() {
        return Err(SynthError::Input(
            "DP synthesis needs the public domain of every column: give a domain file (`--domain FILE`: CSV with the \
             columns attribute,value, one allowed value per row). It is never taken from the data: \
             whether a rare category appears at all would reveal the record that holds it."
                .into(),
        ));
    }
    let both = plan.k_synthetic.is_some() && plan.dp.is_some();
    let folders = |method: &str| {
        if both {
            (publish.join(method), review.join(method))
        } else {
            (publish.to_path_buf(), review.to_path_buf())
        }
    };
    let mut done = Synthesised::default();
    if let Some(opts) = &plan.k_synthetic {
        let (publish, review) = folders("k-synthetic");
        let t = Instant::now();
        let (_, report) = write_ksynthetic(
            table,
            opts,
            ctx,
            Folders {
                publish: &publish,
                review: &review,
            },
        )?;
        done.k_synthetic = Some(Run {
            publish,
            review,
            report,
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    if let Some(opts) = &plan.dp {
        let (publish, review) = folders("dp");
        before_noise(&publish, opts)?;
        let t = Instant::now();
        let (out, input, report) = write_dp(
            table,
            domain,
            opts,
            ctx,
            Folders {
                publish: &publish,
                review: &review,
            },
        )?;
        done.dp = Some(DpRun {
            run: Run {
                publish,
                review,
                report,
                seconds: t.elapsed().as_secs_f64(),
            },
            privacy: out.privacy,
            input,
        });
    }
    Ok(done)
}
