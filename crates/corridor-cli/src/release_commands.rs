//! `corridor release`: build, list and verify releases.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use corridor_publish::ReleaseSpec;
use corridor_store::Workspace;

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Build a signed, immutable release from a release spec (TOML): every table protected by its method
    Build {
        /// The workspace folder
        #[arg(long)]
        workspace: PathBuf,
        /// The release spec (TOML: title, licence, version, reference_period, [[table]] with method)
        spec: PathBuf,
        /// Folder the release folder goes in [default: WORKSPACE/releases]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the releases in a folder (a workspace's releases/ or any copy)
    List {
        /// The folder holding release folders
        #[arg(conflicts_with = "workspace")]
        dir: Option<PathBuf>,
        /// The workspace whose releases/ to list
        #[arg(long)]
        workspace: Option<PathBuf>,
    },
    /// Check a release: every checksum, no file added or missing, the ed25519 signature, the id
    Verify {
        /// A release folder, or a release id (looked up in --workspace's releases/)
        release: String,
        /// The workspace, when RELEASE is an id
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// The public key you trust (64 hex digits, or a file holding them): the release must be signed by it
        #[arg(long)]
        key: Option<String>,
    },
}

pub fn release(command: ReleaseCommand) -> Result<()> {
    match command {
        ReleaseCommand::Build {
            workspace,
            spec,
            out,
            json,
        } => build(&workspace, &spec, out, json),
        ReleaseCommand::List { dir, workspace } => {
            let dir = match (dir, workspace) {
                (Some(d), _) => d,
                (None, Some(ws)) => Workspace::open(&ws)?.root().join("releases"),
                (None, None) => bail!("give a folder of releases, or --workspace WS"),
            };
            let all = corridor_publish::list_releases(&dir)?;
            if all.is_empty() {
                println!("No releases in {}.", dir.display());
            }
            for r in all {
                println!(
                    "{}  {:<10} {}  {} tables  {}",
                    r.id, r.version, r.built_at, r.tables, r.title
                );
            }
            Ok(())
        }
        ReleaseCommand::Verify {
            release,
            workspace,
            key,
        } => {
            let dir = resolve(&release, workspace.as_deref())?;
            let trusted = match key {
                Some(k) if Path::new(&k).is_file() => Some(
                    std::fs::read_to_string(&k)
                        .with_context(|| format!("reading the key file {k}"))?
                        .trim()
                        .to_string(),
                ),
                other => other,
            };
            let v = corridor_publish::verify_release(&dir, trusted.as_deref())?;
            println!(
                "Release {} verified: {} files, checksums and signature good.",
                v.id, v.files
            );
            if v.key_trusted {
                println!("  signed by the key you trust ({}).", v.public_key);
            } else {
                println!(
                    "  signed by the key it carries ({}); compare it with the publisher's, or pass --key.",
                    v.public_key
                );
            }
            Ok(())
        }
    }
}

fn resolve(release: &str, workspace: Option<&Path>) -> Result<PathBuf> {
    let as_dir = PathBuf::from(release);
    if as_dir.is_dir() {
        return Ok(as_dir);
    }
    let Some(ws) = workspace else {
        bail!("{release}: no such folder; to name a release by its id, add --workspace WS");
    };
    let dir = Workspace::open(ws)?.root().join("releases").join(release);
    if !dir.is_dir() || !release.starts_with('r') || release.contains(['/', '.']) {
        bail!(
            "{release}: no such release in {}/releases (see `corridor release list --workspace {}`)",
            ws.display(),
            ws.display()
        );
    }
    Ok(dir)
}

fn build(workspace: &Path, spec_path: &Path, out: Option<PathBuf>, json: bool) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let spec = ReleaseSpec::load(spec_path)?;
    let out = out.unwrap_or_else(|| ws.root().join("releases"));
    let bar = crate::progress_bar(spec.tables.len() as u64, "tables");
    let built = corridor_publish::build_release(&ws, &spec, &out, &|_, done, _| {
        bar.set_position(done as u64)
    })
    .with_context(|| format!("building the release of {}", spec_path.display()))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&built)?);
        return Ok(());
    }
    print_built(&built);
    Ok(())
}

/// A method's name as release.json writes it (`cell_key`, `dp_synthesis`…).
fn method_tag(m: &corridor_protect::Method) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_string))
        .unwrap_or_default()
}

pub(crate) fn print_built(built: &corridor_publish::Built) {
    println!(
        "Release {} (version {}) built in {}: {} files, signed.",
        built.id,
        built.version,
        built.dir.display(),
        built.files
    );
    for t in &built.tables {
        let effect = if t.cells_suppressed > 0 {
            format!(
                "{:>5.1} % withheld ({:.1} % of the count)",
                100.0 * t.share_suppressed,
                100.0 * t.share_value_suppressed
            )
        } else {
            format!(
                "{:>5.1} % changed, mean change {:.2}",
                100.0 * t.share_changed,
                t.mean_absolute_error
            )
        };
        println!(
            "  {:<28} {:>6} cells, {effect}  ({})",
            t.name,
            t.cells,
            method_tag(&t.method)
        );
    }
    for r in &built.records {
        println!(
            "  {:<28} {:>6} records ({})",
            r.name,
            r.records,
            method_tag(&r.method)
        );
    }
    println!("  public key: {}", built.public_key);
}
