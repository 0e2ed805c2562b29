//! The releases the server publishes: read once from their folders, each
//! verified (checksums and signature) before it is served. A release that
//! fails verification is refused, with the reason, and never served.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ServerError;

/// One table of a release, in memory: its CSV and SDMX-CSV rows.
pub(crate) struct TableData {
    pub name: String,
    pub title: String,
    pub measure: String,
    /// Its SDMX dataflow id, empty where it has none.
    pub dataflow: String,
    pub dims: Vec<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Rates have decimals; counts are whole numbers.
    pub number: bool,
    pub sdmx_header: Vec<String>,
    pub sdmx_rows: Vec<Vec<String>>,
    /// Per dimension, each code's rows (ascending): a filter reads its
    /// codes' rows instead of scanning the table.
    pub index: Vec<HashMap<String, Vec<u32>>>,
}

impl TableData {
    /// The rows (ascending) whose dimension `d` holds one of `codes`.
    pub(crate) fn rows_with(&self, d: usize, codes: &[String]) -> Vec<u32> {
        let Some(ix) = self.index.get(d) else {
            return Vec::new();
        };
        let mut out: Vec<u32> = Vec::new();
        for c in codes {
            if let Some(rows) = ix.get(c) {
                out.extend_from_slice(rows);
            }
        }
        if codes.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        out
    }
}

/// Each dimension's code → rows.
pub(crate) fn index(dims: usize, rows: &[Vec<String>]) -> Vec<HashMap<String, Vec<u32>>> {
    let mut ix: Vec<HashMap<String, Vec<u32>>> = vec![HashMap::new(); dims];
    for (i, row) in rows.iter().enumerate() {
        for (d, map) in ix.iter_mut().enumerate() {
            if let Some(code) = row.get(d) {
                map.entry(code.clone()).or_default().push(i as u32);
            }
        }
    }
    ix
}

/// A verified release.
pub(crate) struct Release {
    pub id: String,
    pub dir: PathBuf,
    pub manifest: Value,
    /// Every file of the release (the paths `SHA256SUMS` lists, and the
    /// two files that seal it): the only files a download may open.
    pub files: BTreeSet<String>,
    pub tables: BTreeMap<String, TableData>,
    /// Its SDMX structure message, split into artefacts.
    pub sdmx: Option<crate::sdmx::Structures>,
    /// English and Spanish names of its codes, from that message.
    pub labels: crate::sdmx::Labels,
}

/// A release folder that was not served, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub dir: PathBuf,
    pub why: String,
}

/// The published releases of a folder, oldest first.
pub struct Catalogue {
    pub(crate) releases: Vec<Release>,
    refused: Vec<Refused>,
}

impl Catalogue {
    /// Loads and verifies every release in `dir` (a workspace's
    /// `releases/`, or any copy). A release that fails verification is
    /// refused, not served; see [`Catalogue::refused`].
    pub fn load(dir: &Path) -> Result<Catalogue, ServerError> {
        let mut releases = Vec::new();
        let mut refused = Vec::new();
        for info in corridor_publish::list_releases(dir)? {
            if let Err(e) = corridor_publish::verify_release(&info.dir, None) {
                refused.push(Refused {
                    dir: info.dir.clone(),
                    why: e.to_string(),
                });
                continue;
            }
            releases.push(load_release(&info.id, &info.dir)?);
        }
        Ok(Catalogue { releases, refused })
    }

    /// Release ids, oldest first.
    pub fn ids(&self) -> Vec<&str> {
        self.releases.iter().map(|r| r.id.as_str()).collect()
    }

    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    pub(crate) fn release(&self, id: &str) -> Option<&Release> {
        // `latest` names the newest release.
        if id == "latest" {
            return self.releases.last();
        }
        self.releases.iter().find(|r| r.id == id)
    }
}

fn load_release(id: &str, dir: &Path) -> Result<Release, ServerError> {
    let bad = |why: String| ServerError::Release {
        id: id.to_string(),
        why,
    };
    let text =
        |rel: &str| std::fs::read_to_string(dir.join(rel)).map_err(|e| bad(format!("{rel}: {e}")));
    let manifest: Value = serde_json::from_str(&text("release.json")?)
        .map_err(|e| bad(format!("release.json: {e}")))?;
    let mut files: BTreeSet<String> = text("SHA256SUMS")?
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(_, path)| path.to_string()))
        .collect();
    files.insert("SHA256SUMS".into());
    files.insert("SHA256SUMS.sig".into());
    let mut tables = BTreeMap::new();
    for t in manifest["tables"].as_array().into_iter().flatten() {
        let field = |k: &str| t[k].as_str().unwrap_or_default().to_string();
        let name = field("name");
        let (header, rows) = read_csv(dir, t["files"]["csv"].as_str().unwrap_or_default())
            .map_err(|e| bad(format!("table {name}: {e}")))?;
        let (sdmx_header, sdmx_rows) =
            read_csv(dir, t["files"]["sdmx_csv"].as_str().unwrap_or_default())
                .map_err(|e| bad(format!("table {name}: {e}")))?;
        let dims: Vec<String> = t["dims"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect();
        let index = index(dims.len(), &rows);
        tables.insert(
            name.clone(),
            TableData {
                title: field("title"),
                measure: field("measure"),
                dataflow: field("dataflow"),
                number: t["value_type"] == "number",
                name,
                dims,
                header,
                rows,
                sdmx_header,
                sdmx_rows,
                index,
            },
        );
    }
    let sdmx = match manifest["sdmx_structure"].as_str() {
        Some(rel) if files.contains(rel) => Some(
            crate::sdmx::Structures::parse(&text(rel)?).map_err(|e| bad(format!("{rel}: {e}")))?,
        ),
        _ => None,
    };
    Ok(Release {
        labels: sdmx.as_ref().map(|s| s.labels()).unwrap_or_default(),
        sdmx,
        id: id.to_string(),
        dir: dir.to_path_buf(),
        manifest,
        files,
        tables,
    })
}

type Rows = (Vec<String>, Vec<Vec<String>>);

fn read_csv(dir: &Path, rel: &str) -> Result<Rows, String> {
    let path = dir.join(rel);
    let mut r = csv::Reader::from_path(&path).map_err(|e| format!("{rel}: {e}"))?;
    let header = r
        .headers()
        .map_err(|e| format!("{rel}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{rel}: {e}"))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok((header, rows))
}
