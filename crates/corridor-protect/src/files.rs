//! Protecting a table or microdata given as CSV files, outside any
//! workspace: what `corridor protect suppress|dp|kanon` runs. A table comes
//! as its leaf cells (one column per dimension and a value column), a
//! hierarchy as `code,parent` rows, a domain as one code per row.
//!
//! Nothing is dropped silently: a row whose codes are margins is checked
//! against the sum of its leaves (suppression) or counted (DP), a row
//! outside a DP domain is counted, and every error names the file, the
//! line and the column.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use corridor_model::Countries;
use corridor_model::age::{AgeGrouping, age_range};
use corridor_stats::{Cell, Table};
use serde::Serialize;

use crate::{
    DpCharge, Hierarchy, KAnonParams, KAnonReport, Ladder, LeafTable, ProtectError, SUPPRESSED,
    SuppressionParams, SuppressionReport, dp_table, k_anonymise, suppress_leaves,
};

/// The code of a total.
const TOTAL: &str = "_T";

/// Where a dimension's hierarchy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HierarchySource {
    /// A CSV file with the columns `code,parent`; the total has an empty
    /// parent.
    File(PathBuf),
    /// `YYYY-MM` → `YYYY-Qn` → `YYYY` → `_T` (quarters or years may be the
    /// leaves too).
    Calendar,
    /// ISO 3166-1 alpha-3 → UN M49 sub-region → M49 region → `_T`.
    M49,
    /// Five-year age groups (`Y0T4` … `Y_GE85`) → broad age groups → `_T`.
    Broad,
    /// Whole ages in years → five-year → broad → minor or adult (for
    /// k-anonymity, where a value climbs a ladder).
    Age,
}

impl HierarchySource {
    /// `calendar`, `m49`, `broad`, `age`, or else a file path.
    pub fn parse(text: &str) -> HierarchySource {
        match text {
            "calendar" => HierarchySource::Calendar,
            "m49" => HierarchySource::M49,
            "broad" => HierarchySource::Broad,
            "age" => HierarchySource::Age,
            path => HierarchySource::File(PathBuf::from(path)),
        }
    }
}

/// A table given by its leaf cells in a CSV file.
#[derive(Debug, Clone)]
pub struct LeafFile {
    pub path: PathBuf,
    /// The columns that are dimensions, in the output's order.
    pub dims: Vec<String>,
    /// The column of counts.
    pub value: String,
}

fn file_err(path: &Path, message: impl std::fmt::Display) -> ProtectError {
    ProtectError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn reader(path: &Path) -> Result<csv::Reader<File>, ProtectError> {
    csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| file_err(path, e))
}

fn headers(path: &Path, r: &mut csv::Reader<File>) -> Result<Vec<String>, ProtectError> {
    Ok(r.headers()
        .map_err(|e| file_err(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect())
}

fn column(path: &Path, headers: &[String], name: &str) -> Result<usize, ProtectError> {
    headers.iter().position(|h| h == name).ok_or_else(|| {
        file_err(
            path,
            format!("no column `{name}`; the file has {}", headers.join(", ")),
        )
    })
}

/// A leaf file's rows, each code stored once per dimension.
struct Rows {
    /// Per dimension, its distinct codes in the order first seen.
    codes: Vec<Vec<String>>,
    /// Row-major: a code index per dimension.
    coded: Vec<u32>,
    values: Vec<u64>,
    lines: Vec<u64>,
}

fn read_rows(file: &LeafFile) -> Result<Rows, ProtectError> {
    let path = &file.path;
    if file.dims.is_empty() {
        return Err(file_err(path, "give at least one dimension column"));
    }
    let mut r = reader(path)?;
    let headers = headers(path, &mut r)?;
    let at: Vec<usize> = file
        .dims
        .iter()
        .map(|d| column(path, &headers, d))
        .collect::<Result<_, _>>()?;
    let value_at = column(path, &headers, &file.value)?;
    let n = at.len();
    let mut index: Vec<HashMap<String, u32>> = vec![HashMap::new(); n];
    let mut rows = Rows {
        codes: vec![Vec::new(); n],
        coded: Vec::new(),
        values: Vec::new(),
        lines: Vec::new(),
    };
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(|e| file_err(path, e))? {
        let line = rec.position().map_or(0, |p| p.line());
        for (d, &c) in at.iter().enumerate() {
            let code = rec.get(c).unwrap_or("").trim();
            if code.is_empty() {
                return Err(ProtectError::Row {
                    path: path.clone(),
                    line,
                    column: file.dims[d].clone(),
                    message: "no code; every cell needs one per dimension (write unknowns as _U)"
                        .into(),
                });
            }
            let i = match index[d].get(code) {
                Some(&i) => i,
                None => {
                    let i = rows.codes[d].len() as u32;
                    index[d].insert(code.to_string(), i);
                    rows.codes[d].push(code.to_string());
                    i
                }
            };
            rows.coded.push(i);
        }
        let text = rec.get(value_at).unwrap_or("").trim();
        let value = text.parse::<u64>().map_err(|_| ProtectError::Row {
            path: path.clone(),
            line,
            column: file.value.clone(),
            message: format!("`{text}` is not a count (a whole number of 0 or more)"),
        })?;
        rows.values.push(value);
        rows.lines.push(line);
    }
    if rows.values.is_empty() {
        return Err(file_err(path, "no rows"));
    }
    Ok(rows)
}

/// (code, parent) pairs of a `code,parent` file.
fn read_pairs(path: &Path) -> Result<Vec<(String, Option<String>)>, ProtectError> {
    let mut r = reader(path)?;
    let headers = headers(path, &mut r)?;
    let code = column(path, &headers, "code")?;
    let parent = column(path, &headers, "parent")?;
    let mut pairs = Vec::new();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(|e| file_err(path, e))? {
        let line = rec.position().map_or(0, |p| p.line());
        let c = rec.get(code).unwrap_or("").trim();
        if c.is_empty() {
            return Err(ProtectError::Row {
                path: path.to_path_buf(),
                line,
                column: "code".into(),
                message: "empty code".into(),
            });
        }
        let p = rec.get(parent).unwrap_or("").trim();
        pairs.push((c.to_string(), (!p.is_empty()).then(|| p.to_string())));
    }
    Ok(pairs)
}

/// The parent of a code under a built-in hierarchy, `None` at the total.
fn builtin_parent(source: &HierarchySource, code: &str) -> Result<Option<String>, String> {
    if code == TOTAL {
        return Ok(None);
    }
    // Unknown (`_U`), not applicable (`_Z`) and the like sit under the total.
    if code.starts_with('_') {
        return Ok(Some(TOTAL.into()));
    }
    let parent = match source {
        HierarchySource::Calendar => calendar_parent(code).ok_or_else(|| {
            format!("`{code}` is not a month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY)")
        })?,
        HierarchySource::M49 => {
            if let Some(c) = Countries::get().by_alpha3(code) {
                [&c.m49_subregion, &c.m49_region]
                    .into_iter()
                    .find(|p| !p.is_empty())
                    .map_or_else(|| TOTAL.to_string(), |p| format!("M49_{p}"))
            } else if let Some(region) = m49_region_of_subregion(code) {
                region
            } else if is_m49_region(code) {
                TOTAL.into()
            } else {
                return Err(format!(
                    "`{code}` is not an ISO 3166-1 alpha-3 country code; give a code,parent file instead"
                ));
            }
        }
        HierarchySource::Broad => {
            if AgeGrouping::Broad.codes().contains(&code) {
                TOTAL.into()
            } else {
                let five = AgeGrouping::FiveYear.codes().contains(&code);
                match age_range(code).filter(|_| five) {
                    Some((from, _)) => AgeGrouping::Broad
                        .code_of(from)
                        .ok_or_else(|| format!("no broad age group holds `{code}`"))?
                        .to_string(),
                    None => {
                        return Err(format!(
                            "`{code}` is not a five-year age group (Y0T4 … Y_GE85) of the age_group code list"
                        ));
                    }
                }
            }
        }
        HierarchySource::Age | HierarchySource::File(_) => {
            return Err("not a built-in hierarchy of table codes".into());
        }
    };
    Ok(Some(parent))
}

fn calendar_parent(code: &str) -> Option<String> {
    let b = code.as_bytes();
    let year_ok = |s: &str| s.len() == 4 && s.bytes().all(|c| c.is_ascii_digit());
    match b.len() {
        4 if year_ok(code) => Some(TOTAL.into()),
        7 if year_ok(&code[..4])
            && b[4] == b'-'
            && b[5] == b'Q'
            && (b'1'..=b'4').contains(&b[6]) =>
        {
            Some(code[..4].to_string())
        }
        7 if year_ok(&code[..4]) && b[4] == b'-' => {
            let m: u32 = code[5..].parse().ok().filter(|m| (1..=12).contains(m))?;
            Some(format!("{}-Q{}", &code[..4], (m - 1) / 3 + 1))
        }
        _ => None,
    }
}

/// Sub-regions and regions are written `M49_<code>`: bare M49 numbers
/// would collide with the numeric codes of countries.
fn m49_region_of_subregion(code: &str) -> Option<String> {
    let sub = code.strip_prefix("M49_")?;
    Countries::get()
        .all()
        .iter()
        .find(|c| c.m49_subregion == sub)
        .map(|c| {
            if c.m49_region.is_empty() {
                TOTAL.to_string()
            } else {
                format!("M49_{}", c.m49_region)
            }
        })
}

fn is_m49_region(code: &str) -> bool {
    code.strip_prefix("M49_")
        .is_some_and(|r| Countries::get().all().iter().any(|c| c.m49_region == r))
}

/// A built-in hierarchy over the codes seen, with every ancestor.
fn builtin_hierarchy(
    dim: &str,
    source: &HierarchySource,
    seen: &[String],
) -> Result<Hierarchy, ProtectError> {
    let mut parent_of: HashMap<String, Option<String>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut todo: Vec<String> = seen.to_vec();
    todo.push(TOTAL.into());
    while let Some(code) = todo.pop() {
        if parent_of.contains_key(&code) {
            continue;
        }
        let parent = builtin_parent(source, &code)
            .map_err(|why| ProtectError::Parameters(format!("dimension `{dim}`: {why}")))?;
        if let Some(p) = &parent {
            todo.push(p.clone());
        }
        parent_of.insert(code.clone(), parent);
        order.push(code);
    }
    order.sort();
    let pairs: Vec<(String, Option<String>)> = order
        .into_iter()
        .map(|c| {
            let p = parent_of.remove(&c).flatten();
            (c, p)
        })
        .collect();
    Hierarchy::from_parents(&pairs)
}

fn hierarchy_for(
    dim: &str,
    source: Option<&HierarchySource>,
    seen: &[String],
) -> Result<Hierarchy, ProtectError> {
    match source {
        None => {
            let mut leaves: Vec<String> = seen.iter().filter(|c| *c != TOTAL).cloned().collect();
            leaves.sort();
            Hierarchy::flat(TOTAL, leaves)
        }
        Some(HierarchySource::File(path)) => {
            Hierarchy::from_parents(&read_pairs(path)?).map_err(|e| file_err(path, e))
        }
        Some(HierarchySource::Age) => Err(ProtectError::Parameters(format!(
            "dimension `{dim}`: `age` is a k-anonymity ladder of whole ages; for a table of age groups use `broad` or a file"
        ))),
        Some(s) => builtin_hierarchy(dim, s, seen),
    }
}

/// Refuses a source named for a column that is not among `dims`.
fn check_sources(
    dims: &[String],
    sources: &[(String, HierarchySource)],
    what: &str,
) -> Result<(), ProtectError> {
    if let Some((d, _)) = sources.iter().find(|(d, _)| !dims.contains(d)) {
        return Err(ProtectError::Parameters(format!(
            "{what} `{d}` is not one of the columns given ({})",
            dims.join(", ")
        )));
    }
    Ok(())
}

/// Writes `rows` to `path` through a temporary file, so that a failed run
/// never leaves half an output.
fn write_csv(
    path: &Path,
    write: impl FnOnce(&mut csv::Writer<BufWriter<File>>) -> Result<(), csv::Error>,
) -> Result<(), ProtectError> {
    let tmp = path.with_extension("partial");
    let file = File::create(&tmp).map_err(|e| file_err(&tmp, e))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    write(&mut w).map_err(|e| file_err(&tmp, e))?;
    let mut inner = w.into_inner().map_err(|e| file_err(&tmp, e.error()))?;
    inner.flush().map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

/// What [`suppress_file`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressFileReport {
    #[serde(flatten)]
    pub report: SuppressionReport,
    /// Leaf rows read, and rows of margins checked against their leaves.
    pub rows: usize,
    pub margin_rows: usize,
}

/// Suppresses the table of `file` and writes every cell, margins included,
/// to `out` (`<dims>,value,conf_status`: F free, C withheld, value empty).
pub fn suppress_file(
    file: &LeafFile,
    hierarchies: &[(String, HierarchySource)],
    params: &SuppressionParams,
    out: &Path,
) -> Result<SuppressFileReport, ProtectError> {
    check_sources(&file.dims, hierarchies, "--hierarchy")?;
    let rows = read_rows(file)?;
    let n = file.dims.len();
    let dims: Vec<Hierarchy> = (0..n)
        .map(|d| {
            let source = hierarchies
                .iter()
                .find(|(x, _)| *x == file.dims[d])
                .map(|(_, s)| s);
            hierarchy_for(&file.dims[d], source, &rows.codes[d])
        })
        .collect::<Result<_, _>>()?;
    // Each dimension's code index → node of its hierarchy.
    let node_of: Vec<Vec<usize>> = (0..n)
        .map(|d| {
            rows.codes[d]
                .iter()
                .map(|c| dims[d].index_of(c).unwrap_or(usize::MAX))
                .collect()
        })
        .collect();
    let mut leaves = Vec::with_capacity(rows.values.len());
    let mut margins = Vec::new();
    for (r, &value) in rows.values.iter().enumerate() {
        let mut nodes = Vec::with_capacity(n);
        let mut leaf = true;
        for d in 0..n {
            let node = node_of[d][rows.coded[r * n + d] as usize];
            if node == usize::MAX {
                return Err(ProtectError::Row {
                    path: file.path.clone(),
                    line: rows.lines[r],
                    column: file.dims[d].clone(),
                    message: format!(
                        "`{}` is not a code of the hierarchy given for it",
                        rows.codes[d][rows.coded[r * n + d] as usize]
                    ),
                });
            }
            leaf &= dims[d].is_leaf(node);
            nodes.push(node);
        }
        if leaf {
            leaves.push((nodes, value));
        } else {
            margins.push((nodes, value, rows.lines[r]));
        }
    }
    let leaf_rows = leaves.len();
    let done = suppress_leaves(LeafTable { dims, leaves }, params)?;
    for (nodes, value, line) in &margins {
        let sum = done.value_at(nodes);
        if sum != *value {
            return Err(ProtectError::Row {
                path: file.path.clone(),
                line: *line,
                column: file.value.clone(),
                message: format!(
                    "this margin holds {value} but the finest cells under it sum to {sum}; \
                     fix it or give the finest cells only (margins are computed)"
                ),
            });
        }
    }
    write_csv(out, |w| {
        let mut header: Vec<&str> = file.dims.iter().map(String::as_str).collect();
        header.extend(["value", "conf_status"]);
        w.write_record(&header)?;
        let mut rec: Vec<String> = Vec::with_capacity(n + 2);
        for (codes, value, withheld) in done.cells() {
            rec.clear();
            rec.extend(codes.iter().map(|c| c.to_string()));
            if withheld {
                rec.push(String::new());
                rec.push("C".into());
            } else {
                rec.push(value.to_string());
                rec.push("F".into());
            }
            w.write_record(&rec)?;
        }
        Ok(())
    })?;
    Ok(SuppressFileReport {
        report: done.report.clone(),
        rows: leaf_rows,
        margin_rows: margins.len(),
    })
}

/// A domain file: one code per row, under a header (`code`).
pub fn read_domain(path: &Path) -> Result<Vec<String>, ProtectError> {
    let mut r = reader(path)?;
    let headers = headers(path, &mut r)?;
    if headers.len() != 1 {
        return Err(file_err(
            path,
            format!(
                "a domain file has one column (a header such as `code`, then one code per row), not {}",
                headers.len()
            ),
        ));
    }
    let mut codes = Vec::new();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(|e| file_err(path, e))? {
        let c = rec.get(0).unwrap_or("").trim();
        if !c.is_empty() {
            codes.push(c.to_string());
        }
    }
    Ok(codes)
}

/// What [`dp_file`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DpFileReport {
    /// Cells published, margins included.
    pub cells: usize,
    pub rho: f64,
    /// Rows read; rows of margins (recomputed, not used); rows with a code
    /// outside the domain (not counted in any cell), and their value.
    pub rows: usize,
    pub margin_rows: usize,
    pub outside_domain_rows: usize,
    pub outside_domain_value: u64,
}

/// Publishes the table of `file` under ρ-zCDP over `domains` (a file per
/// dimension) and writes every cell to `out` (`<dims>,value,error_bound_95`).
/// Outside a workspace no ledger is charged: the caller states the spend.
pub fn dp_file(
    file: &LeafFile,
    domains: &[(String, PathBuf)],
    rho: f64,
    out: &Path,
) -> Result<DpFileReport, ProtectError> {
    if let Some((d, _)) = domains.iter().find(|(d, _)| !file.dims.contains(d)) {
        return Err(ProtectError::Parameters(format!(
            "--domain `{d}` is not one of the dimensions given ({})",
            file.dims.join(", ")
        )));
    }
    let domain_codes: Vec<Vec<String>> = file
        .dims
        .iter()
        .map(|d| match domains.iter().find(|(x, _)| x == d) {
            Some((_, path)) => read_domain(path),
            None => Err(ProtectError::Parameters(format!(
                "the domain of `{d}` is needed: --domain {d}=FILE with every code it may take \
                 (a DP table's domain never comes from the data)"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let rows = read_rows(file)?;
    let n = file.dims.len();
    let in_domain: Vec<Vec<bool>> = (0..n)
        .map(|d| {
            rows.codes[d]
                .iter()
                .map(|c| domain_codes[d].contains(c))
                .collect()
        })
        .collect();
    let mut report = DpFileReport {
        cells: 0,
        rho,
        rows: rows.values.len(),
        margin_rows: 0,
        outside_domain_rows: 0,
        outside_domain_value: 0,
    };
    let mut cells = Vec::with_capacity(rows.values.len());
    for (r, &value) in rows.values.iter().enumerate() {
        let coords: Vec<String> = (0..n)
            .map(|d| rows.codes[d][rows.coded[r * n + d] as usize].clone())
            .collect();
        if coords.iter().any(|c| c == TOTAL) {
            report.margin_rows += 1;
            continue;
        }
        if !(0..n).all(|d| in_domain[d][rows.coded[r * n + d] as usize]) {
            report.outside_domain_rows += 1;
            report.outside_domain_value += value;
            continue;
        }
        cells.push(Cell {
            coords,
            value: value as f64,
            records: value,
            cell_key: 0,
            provisional: false,
        });
    }
    let measure = file
        .path
        .file_stem()
        .map_or_else(|| "table".into(), |s| s.to_string_lossy().into_owned());
    let table = Table {
        measure,
        dims: file.dims.clone(),
        filter: None,
        cells,
        notes: Vec::new(),
    };
    let mut accept = |_: &DpCharge| Ok(());
    let protected = dp_table(&table, &domain_codes, rho, &mut accept)?;
    let published = protected.value();
    report.cells = published.cells.len();
    write_csv(out, |w| {
        let mut header: Vec<&str> = file.dims.iter().map(String::as_str).collect();
        header.extend(["value", "error_bound_95"]);
        w.write_record(&header)?;
        let mut rec: Vec<String> = Vec::with_capacity(n + 2);
        for c in &published.cells {
            rec.clear();
            rec.extend(c.coords.iter().cloned());
            rec.push(c.value.map_or_else(String::new, |v| format!("{v}")));
            rec.push(
                c.error_bound
                    .map_or_else(String::new, |b| format!("{b:.1}")),
            );
            w.write_record(&rec)?;
        }
        Ok(())
    })?;
    Ok(report)
}

/// What [`kanon_file`] did.
#[derive(Debug, Clone, Serialize)]
pub struct KAnonFileReport {
    #[serde(flatten)]
    pub report: KAnonReport,
    /// Records with at least one quasi-identifier suppressed.
    pub records_with_suppression: usize,
}

/// k-anonymises the records of `input` over the `quasi` columns and writes
/// them all, every other column as it was, to `out`.
pub fn kanon_file(
    input: &Path,
    quasi: &[String],
    k: usize,
    hierarchies: &[(String, HierarchySource)],
    out: &Path,
) -> Result<KAnonFileReport, ProtectError> {
    check_sources(quasi, hierarchies, "--hierarchy")?;
    let mut r = reader(input)?;
    let columns = headers(input, &mut r)?;
    let mut ladders = Vec::with_capacity(quasi.len());
    for q in quasi {
        let at = column(input, &columns, q)?;
        let ladder = match hierarchies.iter().find(|(d, _)| d == q).map(|(_, s)| s) {
            None => Ladder::Flat,
            Some(HierarchySource::Age) => Ladder::Age,
            Some(HierarchySource::M49) => Ladder::Country,
            Some(HierarchySource::File(path)) => Ladder::Parents(
                read_pairs(path)?
                    .into_iter()
                    .filter_map(|(c, p)| p.map(|p| (c, p)))
                    .collect(),
            ),
            Some(other) => {
                return Err(ProtectError::Parameters(format!(
                    "--hierarchy {q}={}: k-anonymity takes age, m49 or a code,parent file",
                    match other {
                        HierarchySource::Calendar => "calendar",
                        _ => "broad",
                    }
                )));
            }
        };
        ladders.push((at, ladder));
    }
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(|e| file_err(input, e))? {
        rows.push(rec.iter().map(|v| v.trim().to_string()).collect::<Vec<_>>());
    }
    let at: Vec<usize> = ladders.iter().map(|(c, _)| *c).collect();
    let params = KAnonParams { k, quasi: ladders };
    let (protected, report) = k_anonymise(&columns, &rows, &params)?;
    drop(rows);
    let micro = protected.value();
    let records_with_suppression = micro
        .rows
        .iter()
        .filter(|r| at.iter().any(|&c| r[c] == SUPPRESSED))
        .count();
    write_csv(out, |w| {
        w.write_record(&micro.columns)?;
        for row in &micro.rows {
            w.write_record(row)?;
        }
        Ok(())
    })?;
    Ok(KAnonFileReport {
        report,
        records_with_suppression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_parents() {
        assert_eq!(calendar_parent("2024-05").as_deref(), Some("2024-Q2"));
        assert_eq!(calendar_parent("2024-12").as_deref(), Some("2024-Q4"));
        assert_eq!(calendar_parent("2024-Q3").as_deref(), Some("2024"));
        assert_eq!(calendar_parent("2024").as_deref(), Some(TOTAL));
        assert_eq!(calendar_parent("2024-13"), None);
        assert_eq!(calendar_parent("24-01"), None);
    }

    #[test]
    fn m49_and_broad_climb_to_the_total() {
        let h = builtin_hierarchy(
            "country",
            &HierarchySource::M49,
            &["GTM".into(), "HND".into(), "ESP".into(), "_U".into()],
        )
        .unwrap();
        let gtm = h.index_of("GTM").unwrap();
        assert!(h.is_leaf(gtm));
        // GTM → Latin America and the Caribbean (419) → Americas (019) → _T.
        assert!(h.index_of("M49_419").is_some());
        assert!(h.index_of("M49_019").is_some());
        assert!(h.index_of("M49_150").is_some());
        assert!(builtin_hierarchy("c", &HierarchySource::M49, &["XXX".into()]).is_err());
        let b = builtin_hierarchy(
            "age",
            &HierarchySource::Broad,
            &["Y0T4".into(), "Y15T19".into(), "Y_GE85".into()],
        )
        .unwrap();
        assert!(b.index_of("Y0T14").is_some());
        assert!(b.index_of("Y_GE65").is_some());
        assert!(builtin_hierarchy("a", &HierarchySource::Broad, &["Y0T14x".into()]).is_err());
    }
}
