//! `corridor serve`: the public API over a folder of published releases.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use corridor_store::Workspace;

/// Where the releases to serve are: `--releases`, else the workspace's.
pub fn releases_dir(workspace: Option<&Path>, releases: Option<PathBuf>) -> Result<PathBuf> {
    match (releases, workspace) {
        (Some(dir), _) => Ok(dir),
        (None, Some(ws)) => Ok(Workspace::open(ws)?.root().join("releases")),
        (None, None) => {
            anyhow::bail!("say what to serve: --workspace WS (its releases/) or --releases DIR")
        }
    }
}

/// The members' routes over `workspace`.
pub fn members(workspace: &Path, max_upload: u64) -> Result<corridor_server::Members> {
    corridor_server::Members::open(workspace, max_upload)
        .with_context(|| format!("opening {} for its members", workspace.display()))
}

/// Loads, verifies and serves the releases in `dir` on `addr` until
/// Ctrl-C; with `members` (a workspace), its members' routes too.
pub fn serve(dir: &Path, addr: &str, members: Option<corridor_server::Members>) -> Result<()> {
    init_logs();
    let catalogue = corridor_server::Catalogue::load(dir)
        .with_context(|| format!("loading the releases in {}", dir.display()))?;
    let with_members = members.is_some();
    for r in catalogue.refused() {
        eprintln!("warning: not serving {}: {}", r.dir.display(), r.why);
    }
    let n = catalogue.ids().len();
    corridor_server::serve_blocking(addr, catalogue, members, |bound| {
        println!(
            "Serving {n} release{} from {}.\n  Portal:    http://{bound}/  (English; http://{bound}/?lang=es in Spanish)\n  API:       http://{bound}/api/releases  (OpenAPI: http://{bound}/api/openapi.json)\n  SDMX REST: http://{bound}/sdmx/v2/structure/dataflow\nCtrl-C stops.",
            if n == 1 { "" } else { "s" },
            dir.display()
        );
        if with_members {
            println!(
                "  Members:   http://{bound}/api/me and the routes of /api/openapi.json tagged `members` (Authorization: Bearer TOKEN)"
            );
        }
    })?;
    println!("Stopped.");
    Ok(())
}

/// Request logs to standard error; `RUST_LOG`-style filtering is not
/// needed yet: one line per request at info.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
