//! A table with all its margins as a dense grid: one node per code of each
//! dimension's hierarchy, every combination a cell. Dense because a table
//! with all margins is nearly full, and index arithmetic on one array is
//! what lets a million-cell table be searched in seconds with memory that
//! grows with the cells and nothing else.

use std::collections::HashMap;

use crate::ProtectError;

/// One dimension's codes as a tree. Node 0 is the total when the dimension
/// has one; parents come before their children.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    codes: Vec<String>,
    parent: Vec<Option<u32>>,
    children: Vec<Vec<u32>>,
    depth: Vec<u16>,
    index: HashMap<String, u32>,
    /// False for a dimension that is never summed over (months of a
    /// stock): every code is a leaf and no constraint runs along it.
    totalled: bool,
}

impl Hierarchy {
    /// A total and its leaves: the `_T` margin of an ordinary table.
    pub fn flat(
        total: &str,
        leaves: impl IntoIterator<Item = String>,
    ) -> Result<Hierarchy, ProtectError> {
        let mut pairs = vec![(total.to_string(), None)];
        pairs.extend(leaves.into_iter().map(|c| (c, Some(total.to_string()))));
        Hierarchy::from_parents(&pairs)
    }

    /// Codes that are never summed over.
    pub fn untotalled(codes: impl IntoIterator<Item = String>) -> Result<Hierarchy, ProtectError> {
        let mut h = Hierarchy {
            codes: Vec::new(),
            parent: Vec::new(),
            children: Vec::new(),
            depth: Vec::new(),
            index: HashMap::new(),
            totalled: false,
        };
        for code in codes {
            if h.index.insert(code.clone(), h.codes.len() as u32).is_some() {
                return Err(ProtectError::Parameters(format!(
                    "the code `{code}` is listed twice"
                )));
            }
            h.codes.push(code);
            h.parent.push(None);
            h.children.push(Vec::new());
            h.depth.push(0);
        }
        Ok(h)
    }

    /// From (code, parent) pairs with exactly one root (no parent): the
    /// total. Any depth: month → quarter → year, country → sub-region →
    /// region → world.
    pub fn from_parents(pairs: &[(String, Option<String>)]) -> Result<Hierarchy, ProtectError> {
        let bad = |why: String| ProtectError::Parameters(format!("hierarchy: {why}"));
        let mut kids: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut known = std::collections::HashSet::new();
        let mut roots = Vec::new();
        for (code, parent) in pairs {
            if !known.insert(code.as_str()) {
                return Err(bad(format!("the code `{code}` is listed twice")));
            }
            match parent {
                Some(p) => kids.entry(p.as_str()).or_default().push(code),
                None => roots.push(code.as_str()),
            }
        }
        if let Some(p) = kids.keys().find(|p| !known.contains(*p)) {
            return Err(bad(format!(
                "`{p}` is a parent but not a code of its own; list it with its own parent"
            )));
        }
        let [root] = roots[..] else {
            return Err(bad(format!(
                "it needs exactly one total (a code without a parent), found {}: {}",
                roots.len(),
                roots.join(", ")
            )));
        };
        let mut h = Hierarchy {
            codes: vec![root.to_string()],
            parent: vec![None],
            children: vec![Vec::new()],
            depth: vec![0],
            index: HashMap::from([(root.to_string(), 0)]),
            totalled: true,
        };
        // Breadth first, so parents precede children.
        let mut at = 0;
        while at < h.codes.len() {
            let code = h.codes[at].clone();
            for kid in kids.get(code.as_str()).into_iter().flatten() {
                let i = h.codes.len() as u32;
                h.index.insert(kid.to_string(), i);
                h.codes.push(kid.to_string());
                h.parent.push(Some(at as u32));
                h.children.push(Vec::new());
                h.depth.push(h.depth[at] + 1);
                h.children[at].push(i);
            }
            at += 1;
        }
        if h.codes.len() != pairs.len() {
            let lost: Vec<&str> = pairs
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| !h.index.contains_key(*c))
                .take(5)
                .collect();
            return Err(bad(format!(
                "these codes never reach the total (a cycle?): {}",
                lost.join(", ")
            )));
        }
        Ok(h)
    }

    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.index.get(code).map(|&i| i as usize)
    }

    pub fn is_leaf(&self, node: usize) -> bool {
        self.children[node].is_empty()
    }

    pub fn totalled(&self) -> bool {
        self.totalled
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The groups of positions a sub-table takes in this dimension: each
    /// inner node with its children (parent first), or, for a dimension
    /// never totalled, each code alone.
    pub(crate) fn groups(&self) -> Vec<(u16, Vec<u32>)> {
        if !self.totalled {
            return (0..self.codes.len() as u32).map(|c| (0, vec![c])).collect();
        }
        (0..self.codes.len())
            .filter(|&n| !self.children[n].is_empty())
            .map(|n| {
                let mut g = vec![n as u32];
                g.extend(&self.children[n]);
                (self.depth[n], g)
            })
            .collect()
    }
}

/// Values of every cell of the product of the dimensions' nodes.
pub(crate) struct Grid {
    pub(crate) dims: Vec<Hierarchy>,
    pub(crate) strides: Vec<usize>,
    pub(crate) values: Vec<u64>,
}

/// The most cells a grid may hold (about 16 GiB of state at the limit).
const MAX_CELLS: usize = 1 << 31;

impl Grid {
    pub(crate) fn new(dims: Vec<Hierarchy>) -> Result<Grid, ProtectError> {
        let mut strides = vec![0; dims.len()];
        let mut len: usize = 1;
        for (d, h) in dims.iter().enumerate().rev() {
            strides[d] = len;
            len = len
                .checked_mul(h.len())
                .filter(|&l| l <= MAX_CELLS)
                .ok_or_else(|| {
                    ProtectError::Parameters(format!(
                        "the table with all its margins would hold more than {MAX_CELLS} cells; split it"
                    ))
                })?;
        }
        Ok(Grid {
            dims,
            strides,
            values: vec![0; len],
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn index(&self, nodes: &[usize]) -> usize {
        nodes.iter().zip(&self.strides).map(|(n, s)| n * s).sum()
    }

    pub(crate) fn coord(&self, cell: usize, dim: usize) -> usize {
        (cell / self.strides[dim]) % self.dims[dim].len()
    }

    /// Adds a leaf cell's value (every node a leaf of its hierarchy).
    pub(crate) fn add(&mut self, nodes: &[usize], value: u64) -> Result<(), ProtectError> {
        let i = self.index(nodes);
        self.values[i] = self.values[i]
            .checked_add(value)
            .ok_or_else(|| ProtectError::Parameters("a cell's value passes 2^64".into()))?;
        Ok(())
    }

    /// Fills every margin from the leaves, dimension by dimension, the
    /// deepest nodes first.
    pub(crate) fn aggregate(&mut self) {
        for d in 0..self.dims.len() {
            let h = &self.dims[d];
            if !h.totalled {
                continue;
            }
            let (stride, n) = (self.strides[d], h.len());
            let deepest = h.depth.iter().copied().max().unwrap_or(0);
            for level in (1..=deepest).rev() {
                for cell in 0..self.values.len() {
                    let node = (cell / stride) % n;
                    if h.depth[node] == level {
                        let parent = h.parent[node].unwrap_or(0) as usize;
                        let to = cell - node * stride + parent * stride;
                        self.values[to] = self.values[to].saturating_add(self.values[cell]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn hierarchies_are_checked() {
        let ok = Hierarchy::from_parents(&[
            (s("2024"), None),
            (s("2024-Q1"), Some(s("2024"))),
            (s("2024-01"), Some(s("2024-Q1"))),
            (s("2024-02"), Some(s("2024-Q1"))),
        ])
        .unwrap();
        assert_eq!(ok.codes()[0], "2024");
        assert_eq!(ok.groups().len(), 2);
        assert!(ok.is_leaf(ok.index_of("2024-02").unwrap()));
        let two_roots = Hierarchy::from_parents(&[(s("a"), None), (s("b"), None)]);
        assert!(
            two_roots
                .unwrap_err()
                .to_string()
                .contains("exactly one total")
        );
        let orphan = Hierarchy::from_parents(&[(s("a"), None), (s("b"), Some(s("x")))]);
        assert!(orphan.unwrap_err().to_string().contains("`x` is a parent"));
        let cycle = Hierarchy::from_parents(&[
            (s("t"), None),
            (s("a"), Some(s("b"))),
            (s("b"), Some(s("a"))),
        ]);
        assert!(cycle.unwrap_err().to_string().contains("never reach"));
    }

    #[test]
    fn margins_add_up_over_a_deep_hierarchy() {
        let months = Hierarchy::from_parents(&[
            (s("Y"), None),
            (s("Q1"), Some(s("Y"))),
            (s("Q2"), Some(s("Y"))),
            (s("m1"), Some(s("Q1"))),
            (s("m2"), Some(s("Q1"))),
            (s("m4"), Some(s("Q2"))),
        ])
        .unwrap();
        let sex = Hierarchy::flat("_T", [s("F"), s("M")]).unwrap();
        let mut g = Grid::new(vec![months.clone(), sex.clone()]).unwrap();
        let at = |m: &str, x: &str| [months.index_of(m).unwrap(), sex.index_of(x).unwrap()];
        g.add(&at("m1", "F"), 1).unwrap();
        g.add(&at("m2", "M"), 2).unwrap();
        g.add(&at("m4", "F"), 4).unwrap();
        g.aggregate();
        assert_eq!(g.values[g.index(&at("Q1", "_T"))], 3);
        assert_eq!(g.values[g.index(&at("Y", "F"))], 5);
        assert_eq!(g.values[g.index(&at("Y", "_T"))], 7);
    }
}
