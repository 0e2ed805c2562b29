//! Secondary suppression by hypercubes, sub-table by sub-table, in the
//! manner of τ-Argus's HiTaS decomposition with the hypercube method
//! (GHMITER) inside each sub-table.
//!
//! A hierarchical table is split into flat sub-tables: one per choice of
//! an inner node in every dimension, holding that node and its children.
//! Inside a sub-table, a suppressed cell is protected by a hypercube: in
//! each dimension a second position, and every corner suppressed. Adding
//! `t` to the corners of one sign and taking it from the others keeps
//! every published sum, so an attacker cannot tell the true table from the
//! shifted one; how far `t` can go (until a corner reaches 0) is the
//! interval the attacker is left with. A corner takes on the protection
//! its cube needs, so wherever else it sits (a margin of a finer
//! sub-table, a cell of a linked table) it is protected as far again.
//! Sub-tables are visited top down, over and over, until a whole pass adds
//! nothing: suppressions only grow, so this ends.

use std::collections::HashMap;

use super::grid::Grid;

/// What a cell costs to suppress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    /// The number of cells suppressed (ties go to the smaller value).
    Cells,
    /// The values suppressed: small cells go before large ones and totals.
    Values,
}

impl Cost {
    fn weight(self, value: u64) -> u64 {
        match self {
            Cost::Cells => (1u64 << 40).saturating_add(value),
            Cost::Values => value.saturating_add(1),
        }
    }
}

/// A suppression pattern being built over one grid.
pub(crate) struct State {
    pub(crate) grid: Grid,
    pub(crate) suppressed: Vec<bool>,
    /// How far up and down the attacker's interval must reach from each
    /// suppressed cell's true value.
    pub(crate) up: Vec<u32>,
    pub(crate) down: Vec<u32>,
    cost: Cost,
    subtables: Vec<Vec<Vec<u32>>>,
    /// (sub-table, cell) → the protection it has been given there.
    done: HashMap<(u32, u32), (u32, u32)>,
    /// Sub-tables too small to protect a cell, suppressed whole.
    pub(crate) whole: usize,
}

impl State {
    pub(crate) fn new(grid: Grid, cost: Cost) -> State {
        let groups: Vec<Vec<(u16, Vec<u32>)>> = grid.dims.iter().map(|h| h.groups()).collect();
        let mut subtables: Vec<(u32, Vec<Vec<u32>>)> = Vec::new();
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        each_combination(&sizes, |pick| {
            let depth = pick
                .iter()
                .enumerate()
                .map(|(d, &i)| groups[d][i].0 as u32)
                .sum();
            subtables.push((
                depth,
                pick.iter()
                    .enumerate()
                    .map(|(d, &i)| groups[d][i].1.clone())
                    .collect(),
            ));
        });
        // Top down: the coarsest sub-tables first.
        subtables.sort_by_key(|(depth, _)| *depth);
        let n = grid.len();
        State {
            grid,
            suppressed: vec![false; n],
            up: vec![0; n],
            down: vec![0; n],
            cost,
            subtables: subtables.into_iter().map(|(_, s)| s).collect(),
            done: HashMap::new(),
            whole: 0,
        }
    }

    /// Marks a cell suppressed with at least this protection; true if that
    /// changed anything.
    pub(crate) fn require(&mut self, cell: usize, up: u32, down: u32) -> bool {
        let mut changed = !self.suppressed[cell];
        self.suppressed[cell] = true;
        if up > self.up[cell] {
            self.up[cell] = up;
            changed = true;
        }
        let down = down.min(u32::try_from(self.grid.values[cell]).unwrap_or(u32::MAX));
        if down > self.down[cell] {
            self.down[cell] = down;
            changed = true;
        }
        changed
    }

    /// Visits every sub-table until a pass adds nothing; true if anything
    /// was added.
    pub(crate) fn protect(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut changed = false;
            for st in 0..self.subtables.len() {
                changed |= self.protect_subtable(st);
            }
            any |= changed;
            if !changed {
                return any;
            }
        }
    }

    fn protect_subtable(&mut self, st: usize) -> bool {
        let positions = self.subtables[st].clone();
        let mut changed = false;
        for (at, cell) in self.cells_of(&positions) {
            if !self.suppressed[cell] {
                continue;
            }
            let need = (self.up[cell], self.down[cell]);
            let key = (st as u32, cell as u32);
            let covered = self
                .done
                .get(&key)
                .is_some_and(|&(u, d)| u >= need.0 && d >= need.1);
            if !covered {
                changed |= self.protect_cell(&positions, &at, cell);
                self.done.insert(key, (self.up[cell], self.down[cell]));
            }
        }
        changed
    }

    /// Every cell of a sub-table: its position in each dimension's group,
    /// and its grid index.
    fn cells_of(&self, positions: &[Vec<u32>]) -> Vec<(Vec<usize>, usize)> {
        let sizes: Vec<usize> = positions.iter().map(Vec::len).collect();
        let mut cells = Vec::new();
        each_combination(&sizes, |at| {
            let nodes: Vec<usize> = at
                .iter()
                .enumerate()
                .map(|(d, &i)| positions[d][i] as usize)
                .collect();
            cells.push((at.to_vec(), self.grid.index(&nodes)));
        });
        cells
    }

    /// Finds the cheapest hypercube it can for `cell` in the sub-table and
    /// suppresses its corners.
    fn protect_cell(&mut self, positions: &[Vec<u32>], at: &[usize], cell: usize) -> bool {
        let (up, down) = (self.up[cell], self.down[cell]);
        let active: Vec<usize> = (0..positions.len())
            .filter(|&d| positions[d].len() > 1)
            .collect();
        if active.is_empty() {
            return false;
        }
        // Per dimension, the partner positions ranked by what the corner
        // on the line through `cell` costs.
        let mut options: Vec<Vec<(u64, isize, i8)>> = Vec::with_capacity(active.len());
        for &d in &active {
            let stride = self.grid.strides[d] as isize;
            let here = positions[d][at[d]] as isize;
            let mut opts = Vec::new();
            let mut margin = None;
            for (b, &node) in positions[d].iter().enumerate() {
                if b == at[d] {
                    continue;
                }
                let sign: i8 = if b == 0 || at[d] == 0 { 1 } else { -1 };
                let delta = (node as isize - here) * stride;
                let other = (cell as isize + delta) as usize;
                if self.fits(other, sign, up, down) {
                    if b == 0 {
                        margin = Some((self.price(other), delta, sign));
                    } else {
                        opts.push((self.price(other), delta, sign));
                    }
                }
            }
            opts.sort_by_key(|o| o.0);
            // The margin goes first, so that every search tries it: a
            // cube through the margins always exists for a leaf (they
            // are at least the cell), where a sparse table may have no
            // cube among its cheapest cells.
            if let Some(m) = margin {
                opts.insert(0, m);
            }
            if opts.is_empty() {
                return self.suppress_whole(positions);
            }
            options.push(opts);
        }
        for budget in [64usize, 4096] {
            let per = ((budget as f64).powf(1.0 / active.len() as f64).floor() as usize).max(2);
            if let Some(cube) = self.best_cube(cell, &options, per, up, down) {
                let mut changed = false;
                for (corner, sign) in cube {
                    let (u, d) = if sign > 0 { (up, down) } else { (down, up) };
                    changed |= self.require(corner, u, d);
                }
                return changed;
            }
        }
        self.suppress_whole(positions)
    }

    fn fits(&self, cell: usize, sign: i8, up: u32, down: u32) -> bool {
        let v = self.grid.values[cell];
        if sign > 0 {
            v >= down as u64 && v > 0
        } else {
            v >= up as u64 && v > 0
        }
    }

    fn price(&self, cell: usize) -> u64 {
        if self.suppressed[cell] {
            0
        } else {
            self.cost.weight(self.grid.values[cell])
        }
    }

    /// The cheapest valid cube among the first `per` options of every
    /// dimension: its corners and their signs.
    fn best_cube(
        &self,
        cell: usize,
        options: &[Vec<(u64, isize, i8)>],
        per: usize,
        up: u32,
        down: u32,
    ) -> Option<Vec<(usize, i8)>> {
        let k = options.len();
        let limits: Vec<usize> = options.iter().map(|o| o.len().min(per)).collect();
        let mut pick = vec![0usize; k];
        let mut best: Option<(u64, Vec<usize>)> = None;
        'combos: loop {
            let mut cost = 0u64;
            let mut valid = true;
            for mask in 1u32..(1 << k) {
                let (corner, sign) = corner_of(cell, options, &pick, mask);
                if !self.fits(corner, sign, up, down) {
                    valid = false;
                    break;
                }
                cost = cost.saturating_add(self.price(corner));
                if best.as_ref().is_some_and(|b| cost >= b.0) {
                    valid = false;
                    break;
                }
            }
            if valid {
                best = Some((cost, pick.clone()));
            }
            let mut d = k;
            loop {
                if d == 0 {
                    break 'combos;
                }
                d -= 1;
                pick[d] += 1;
                if pick[d] < limits[d] {
                    break;
                }
                pick[d] = 0;
            }
        }
        let (_, pick) = best?;
        Some(
            (0u32..(1 << k))
                .map(|mask| corner_of(cell, options, &pick, mask))
                .collect(),
        )
    }

    /// No cube protects the cell here: every non-zero cell of the
    /// sub-table goes, and its margins are protected a level up.
    fn suppress_whole(&mut self, positions: &[Vec<u32>]) -> bool {
        self.whole += 1;
        let mut changed = false;
        for (_, cell) in self.cells_of(positions) {
            if self.grid.values[cell] > 0 {
                changed |= self.require(cell, 1, 1);
            }
        }
        changed
    }
}

/// The corner of a cube that takes the partner position in the dimensions
/// of `mask`, and its sign.
fn corner_of(
    cell: usize,
    options: &[Vec<(u64, isize, i8)>],
    pick: &[usize],
    mask: u32,
) -> (usize, i8) {
    let (mut corner, mut sign) = (cell as isize, 1i8);
    for (d, opt) in options.iter().enumerate() {
        if mask & (1 << d) != 0 {
            let (_, delta, s) = opt[pick[d]];
            corner += delta;
            sign *= s;
        }
    }
    (corner as usize, sign)
}

/// Calls `f` with every combination of one index below each size, the
/// last dimension fastest; never when a size is 0.
fn each_combination(sizes: &[usize], mut f: impl FnMut(&[usize])) {
    if sizes.contains(&0) {
        return;
    }
    let mut pick = vec![0usize; sizes.len()];
    loop {
        f(&pick);
        let mut d = sizes.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            pick[d] += 1;
            if pick[d] < sizes[d] {
                break;
            }
            pick[d] = 0;
        }
    }
}
