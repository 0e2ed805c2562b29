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

/// Loads, verifies and serves the releases in `dir` on `addr` until
/// Ctrl-C.
pub fn serve(dir: &Path, addr: &str) -> Result<()> {
    init_logs();
    let catalogue = corridor_server::Catalogue::load(dir)
        .with_context(|| format!("loading the releases in {}", dir.display()))?;
    for r in catalogue.refused() {
        eprintln!("warning: not serving {}: {}", r.dir.display(), r.why);
    }
    let n = catalogue.ids().len();
    corridor_server::serve_blocking(addr, catalogue, |bound| {
        println!(
            "Serving {n} release{} from {}.\n  Portal:    http://{bound}/  (English; http://{bound}/?lang=es in Spanish)\n  API:       http://{bound}/api/releases  (OpenAPI: http://{bound}/api/openapi.json)\n  SDMX REST: http://{bound}/sdmx/v2/structure/dataflow\nCtrl-C stops.",
            if n == 1 { "" } else { "s" },
            dir.display()
        );
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
