//! The threshold rule with secondary suppression, over hierarchical tables
//! and over the linked tables of one release.
//!
//! Primary: every cell of 1 to `threshold − 1` persons. Secondary: enough
//! further cells that the linear-programming attacker — who knows every
//! published value of every linked table, that margins add up, and that
//! counts are not negative — is left, for each primary, an interval that
//! reaches `protection` persons above its true value and down to
//! `min(protection, value)` below it (see [`search`] for how).
//!
//! Linked tables (two tables of one measure that share a margin, e.g.
//! arrivals by month × citizenship and by month × sex share arrivals by
//! month) are protected together: a cell suppressed in one is suppressed
//! wherever else it is published, with the same protection, and each table
//! is searched again until none changes.

mod grid;
mod search;

use std::collections::HashMap;

use corridor_stats::{TOTAL, Table};
use serde::{Deserialize, Serialize};

pub use grid::Hierarchy;
pub use search::Cost;

use crate::{Method, ProtectError, Protected, PublishedCell, PublishedTable, count_of};
use grid::Grid;
use search::State;

/// The threshold rule's parameters, as a release states them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionParams {
    /// Cells of 1 to threshold − 1 persons are primary suppressions.
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// How far (persons) the attacker's interval must reach from a
    /// primary's true value; defaults to the threshold.
    #[serde(default)]
    pub protection: Option<u32>,
    /// What secondary suppression keeps small.
    #[serde(default = "default_cost")]
    pub cost: Cost,
}

fn default_threshold() -> u32 {
    10
}

fn default_cost() -> Cost {
    Cost::Values
}

impl Default for SuppressionParams {
    fn default() -> Self {
        SuppressionParams {
            threshold: default_threshold(),
            protection: None,
            cost: default_cost(),
        }
    }
}

impl SuppressionParams {
    pub fn protection_level(&self) -> u32 {
        self.protection.unwrap_or(self.threshold)
    }

    fn check(&self) -> Result<(), ProtectError> {
        if self.threshold < 2 {
            return Err(ProtectError::Parameters(format!(
                "suppression threshold {}: use 2 or more (cells below it are withheld)",
                self.threshold
            )));
        }
        if self.protection_level() == 0 {
            return Err(ProtectError::Parameters(
                "suppression protection 0 protects nothing; use 1 or more persons".into(),
            ));
        }
        Ok(())
    }
}

/// What suppression cost, for the utility report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SuppressionReport {
    pub cells: usize,
    pub primary: usize,
    pub secondary: usize,
    /// Persons in the suppressed cells, and in all cells.
    pub value_suppressed: u64,
    pub value_total: u64,
    /// Sub-tables too small for any hypercube, suppressed whole.
    pub whole_subtables: usize,
}

/// A hierarchical table given by its leaf cells: what `corridor suppress`
/// and the benchmarks protect, outside any workspace.
pub struct LeafTable {
    pub dims: Vec<Hierarchy>,
    /// Node index per dimension (leaves only), and the value.
    pub leaves: Vec<(Vec<usize>, u64)>,
}

/// Every cell of a protected [`LeafTable`], margins included.
pub struct SuppressedGrid {
    state: State,
    pub report: SuppressionReport,
}

impl SuppressedGrid {
    /// (codes, value, suppressed) of every cell, in index order.
    pub fn cells(&self) -> impl Iterator<Item = (Vec<&str>, u64, bool)> + '_ {
        let g = &self.state.grid;
        (0..g.len()).map(move |cell| {
            let codes = (0..g.dims.len())
                .map(|d| g.dims[d].codes()[g.coord(cell, d)].as_str())
                .collect();
            (codes, g.values[cell], self.state.suppressed[cell])
        })
    }

    /// The value of the cell at `nodes` (one node per dimension).
    pub fn value_at(&self, nodes: &[usize]) -> u64 {
        self.state.grid.values[self.state.grid.index(nodes)]
    }
}

/// Protects one hierarchical table given by its leaves.
pub fn suppress_leaves(
    table: LeafTable,
    params: &SuppressionParams,
) -> Result<SuppressedGrid, ProtectError> {
    params.check()?;
    let mut grid = Grid::new(table.dims)?;
    for (nodes, value) in &table.leaves {
        if nodes.len() != grid.dims.len() {
            return Err(ProtectError::Parameters(
                "a leaf cell has the wrong number of codes".into(),
            ));
        }
        if let Some(d) = (0..nodes.len())
            .find(|&d| nodes[d] >= grid.dims[d].len() || !grid.dims[d].is_leaf(nodes[d]))
        {
            return Err(ProtectError::Parameters(format!(
                "a cell's code in dimension {} is not a leaf of its hierarchy; give the finest cells only",
                d + 1
            )));
        }
        grid.add(nodes, *value)?;
    }
    grid.aggregate();
    let mut state = State::new(grid, params.cost);
    let primary = mark_primaries(&mut state, params);
    state.protect();
    let report = report_of(&state, primary);
    Ok(SuppressedGrid { state, report })
}

fn mark_primaries(state: &mut State, params: &SuppressionParams) -> usize {
    let p = params.protection_level();
    let mut primary = 0;
    for cell in 0..state.grid.len() {
        let v = state.grid.values[cell];
        if v > 0 && v < params.threshold as u64 {
            state.require(cell, p, p);
            primary += 1;
        }
    }
    primary
}

fn report_of(state: &State, primary: usize) -> SuppressionReport {
    let mut r = SuppressionReport {
        cells: state.grid.len(),
        primary,
        whole_subtables: state.whole,
        ..SuppressionReport::default()
    };
    for (cell, &v) in state.grid.values.iter().enumerate() {
        r.value_total += v;
        if state.suppressed[cell] {
            r.secondary += 1;
            r.value_suppressed += v;
        }
    }
    r.secondary -= primary;
    r
}

/// One table of `corridor-stats` as a grid: each dimension's codes, with
/// the total where the table has one.
struct Mapped {
    state: State,
    /// Table cell → grid cell.
    cell_of: Vec<usize>,
    primary: usize,
}

fn map_table(table: &Table, params: &SuppressionParams) -> Result<Mapped, ProtectError> {
    let n = table.dims.len();
    let mut codes: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut totalled = vec![false; n];
    for cell in &table.cells {
        for (d, c) in cell.coords.iter().enumerate() {
            if c == TOTAL {
                totalled[d] = true;
            } else if !codes[d].contains(c) {
                codes[d].push(c.clone());
            }
        }
    }
    let dims = (0..n)
        .map(|d| {
            let mut cs = codes[d].clone();
            cs.sort();
            if totalled[d] {
                Hierarchy::flat(TOTAL, cs)
            } else {
                Hierarchy::untotalled(cs)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut grid = Grid::new(dims)?;
    let mut cell_of = Vec::with_capacity(table.cells.len());
    for cell in &table.cells {
        let nodes: Vec<usize> = (0..n)
            .map(|d| grid.dims[d].index_of(&cell.coords[d]).unwrap_or(0))
            .collect();
        cell_of.push(grid.index(&nodes));
        if cell.coords.iter().all(|c| c != TOTAL) {
            grid.add(&nodes, count_of(table, cell)?)?;
        }
    }
    grid.aggregate();
    let mut state = State::new(grid, params.cost);
    let primary = mark_primaries(&mut state, params);
    Ok(Mapped {
        state,
        cell_of,
        primary,
    })
}

/// The key a cell has in every table of one measure: the measure, the
/// filter, and each dimension's code where it is not the total.
fn link_key(table: &Table, coords: &[String]) -> String {
    let mut parts: Vec<String> = table
        .dims
        .iter()
        .zip(coords)
        .filter(|(_, c)| *c != TOTAL)
        .map(|(d, c)| format!("{d}={c}"))
        .collect();
    parts.sort();
    format!(
        "{}|{}|{}",
        table.measure,
        table.filter.as_deref().unwrap_or(""),
        parts.join("|")
    )
}

/// Protects linked tables together: each gets its pattern, a cell shared
/// by two tables is suppressed in both or in neither.
pub fn suppress(
    tables: &[&Table],
    params: &SuppressionParams,
) -> Result<Vec<(Protected<PublishedTable>, SuppressionReport)>, ProtectError> {
    params.check()?;
    let mut mapped = tables
        .iter()
        .map(|t| map_table(t, params))
        .collect::<Result<Vec<_>, _>>()?;
    // Cells published in more than one table.
    let mut shared: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    if tables.len() > 1 {
        for (t, table) in tables.iter().enumerate() {
            for (i, cell) in table.cells.iter().enumerate() {
                shared
                    .entry(link_key(table, &cell.coords))
                    .or_default()
                    .push((t, mapped[t].cell_of[i]));
            }
        }
        shared.retain(|_, v| v.len() > 1);
    }
    let links: Vec<Vec<(usize, usize)>> = shared.into_values().collect();
    loop {
        for m in &mut mapped {
            m.state.protect();
        }
        let mut changed = false;
        for link in &links {
            let (mut up, mut down, mut any) = (0, 0, false);
            for &(t, c) in link {
                let s = &mapped[t].state;
                if s.suppressed[c] {
                    any = true;
                    up = up.max(s.up[c]);
                    down = down.max(s.down[c]);
                }
            }
            if any {
                for &(t, c) in link {
                    changed |= mapped[t].state.require(c, up, down);
                }
            }
        }
        if !changed {
            break;
        }
    }
    let method = Method::Suppression {
        threshold: params.threshold,
        protection: params.protection_level(),
        cost: params.cost,
    };
    Ok(tables
        .iter()
        .zip(mapped)
        .map(|(table, m)| {
            let report = report_of(&m.state, m.primary);
            let cells = table
                .cells
                .iter()
                .zip(&m.cell_of)
                .map(|(cell, &g)| PublishedCell {
                    coords: cell.coords.clone(),
                    value: (!m.state.suppressed[g]).then(|| m.state.grid.values[g] as f64),
                    provisional: cell.provisional,
                    error_bound: None,
                })
                .collect();
            (
                Protected::new(PublishedTable::of(table, cells), method.clone()),
                report,
            )
        })
        .collect())
}
