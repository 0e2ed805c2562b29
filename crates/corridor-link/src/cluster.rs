//! Records into persons. Plain connected components would let a chain of
//! weak links (A–B, B–C) put two different people (A, C) in one cluster;
//! here clusters are merged from the strongest link down, and two clusters
//! merge only if the *average* match probability over all pairs across them
//! reaches the threshold — average-linkage agglomeration.
//!
//! Pairs that blocking did not propose are scored on demand while the two
//! clusters are small (at most [`ON_DEMAND_PAIRS`] pairs across them), so a
//! pair missed by blocking does not count against a true merge. Beyond
//! that, a pair blocking did not propose counts as 0: the average is then
//! taken from the known links of the smaller cluster, so a merge costs the
//! links it touches, never the product of two large clusters (which made
//! clustering quadratic when a weak model produced large clusters).

use rustc_hash::FxHashMap;

/// Largest number of cross pairs scored on demand for one merge.
pub const ON_DEMAND_PAIRS: usize = 64;

/// Cluster index per record (0-based, in order of each cluster's first
/// record) and, per record, the mean match probability to the other
/// members of its cluster (`None` for a record alone).
pub struct Clusters {
    pub of_record: Vec<u32>,
    pub cohesion: Vec<Option<f64>>,
    pub count: usize,
}

impl Clusters {
    /// Records per cluster, by cluster index.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.count];
        for c in &self.of_record {
            sizes[*c as usize] += 1;
        }
        sizes
    }
}

pub fn cluster(
    n: usize,
    links: &[(u32, u32, f64)],
    threshold: f64,
    mut score: impl FnMut(usize, usize) -> f64,
) -> Clusters {
    let mut order: Vec<usize> = (0..links.len())
        .filter(|k| links[*k].2 >= threshold)
        .collect();
    order.sort_by(|a, b| links[*b].2.total_cmp(&links[*a].2));
    // Known links per record (both directions): looked up pair by pair in
    // merges of small clusters, summed in merges of large ones.
    let mut degree = vec![0u32; n + 1];
    for (i, j, _) in links {
        degree[*i as usize + 1] += 1;
        degree[*j as usize + 1] += 1;
    }
    for k in 1..=n {
        degree[k] += degree[k - 1];
    }
    let start = degree;
    let mut fill = start.clone();
    let mut adjacent = vec![(0u32, 0f64); links.len() * 2];
    for (i, j, p) in links {
        for (x, y) in [(*i, *j), (*j, *i)] {
            adjacent[fill[x as usize] as usize] = (y, *p);
            fill[x as usize] += 1;
        }
    }
    let mut prob = |i: usize, j: usize| -> f64 {
        let (i, j) = (i.min(j), i.max(j));
        adjacent[start[i] as usize..start[i + 1] as usize]
            .iter()
            .find(|(y, _)| *y as usize == j)
            .map_or_else(|| score(i, j), |(_, p)| *p)
    };
    let mut parent: Vec<usize> = (0..n).collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    for k in order {
        let (i, j, _) = links[k];
        let (a, b) = (parent[i as usize], parent[j as usize]);
        if a == b {
            continue;
        }
        let (small, big) = if members[a].len() <= members[b].len() {
            (a, b)
        } else {
            (b, a)
        };
        let pairs = members[a].len() * members[b].len();
        let mut sum = 0.0;
        if pairs <= ON_DEMAND_PAIRS {
            for x in &members[small] {
                for y in &members[big] {
                    sum += prob(*x, *y);
                }
            }
        } else {
            for x in &members[small] {
                let (from, to) = (start[*x] as usize, start[*x + 1] as usize);
                for (y, p) in &adjacent[from..to] {
                    if parent[*y as usize] == big {
                        sum += p;
                    }
                }
            }
        }
        if sum / pairs as f64 >= threshold {
            let moved = std::mem::take(&mut members[small]);
            for r in &moved {
                parent[*r] = big;
            }
            members[big].extend(moved);
        }
    }
    let mut index: FxHashMap<usize, u32> = FxHashMap::default();
    let mut of_record = Vec::with_capacity(n);
    for root in &parent {
        let next = index.len() as u32;
        of_record.push(*index.entry(*root).or_insert(next));
    }
    // Cohesion from on-demand scores in small clusters, from known links
    // in large ones (as merging judged them).
    let mut cohesion = vec![None; n];
    for group in members.iter().filter(|m| m.len() > 1) {
        let small = group.len() * group.len() <= 4 * ON_DEMAND_PAIRS;
        for x in group {
            let s: f64 = if small {
                group.iter().filter(|y| *y != x).map(|y| prob(*x, *y)).sum()
            } else {
                adjacent[start[*x] as usize..start[*x + 1] as usize]
                    .iter()
                    .filter(|(y, _)| parent[*y as usize] == parent[*x])
                    .map(|(_, p)| p)
                    .sum()
            };
            cohesion[*x] = Some(s / (group.len() - 1) as f64);
        }
    }
    Clusters {
        of_record,
        cohesion,
        count: index.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_weak_chain_does_not_join_two_people() {
        // 0–1 strong, 1–2 strong enough, 0–2 clearly not the same person.
        let links = [(0, 1, 0.99), (1, 2, 0.6)];
        let c = cluster(
            3,
            &links,
            0.5,
            |i, j| if (i, j) == (0, 2) { 0.01 } else { 0.0 },
        );
        assert_eq!(c.of_record[0], c.of_record[1]);
        assert_ne!(c.of_record[1], c.of_record[2]);
        // Connected components would have put all three together; when 0–2
        // is likely too, they are one person.
        let c = cluster(3, &links, 0.5, |_, _| 0.9);
        assert_eq!(c.count, 1);
        assert!(c.cohesion[0].is_some());
    }

    /// Two large groups, each densely linked, joined by one link: the merge
    /// of the two is judged by its known links (more than `ON_DEMAND_PAIRS`
    /// pairs across), never scored pair by pair.
    #[test]
    fn large_clusters_merge_by_their_known_links() {
        let group = 20u32;
        let mut links = Vec::new();
        for base in [0, group] {
            for i in 0..group {
                for j in i + 1..group {
                    links.push((base + i, base + j, 0.9));
                }
            }
        }
        links.push((0, group, 0.7));
        let mut scored = 0usize;
        let c = cluster(2 * group as usize, &links, 0.5, |_, _| {
            scored += 1;
            1.0
        });
        assert_eq!(c.count, 2, "one link does not join two groups");
        assert_eq!(scored, 0, "a merge of large clusters scored pairs");
        assert!(c.cohesion.iter().all(|x| x.is_some_and(|p| p > 0.85)));
        // Linked densely across, the two groups are one person's records.
        for i in 0..group {
            for j in group..2 * group {
                links.push((i, j, 0.8));
            }
        }
        let c = cluster(2 * group as usize, &links, 0.5, |_, _| 0.0);
        assert_eq!(c.count, 1);
    }

    proptest! {
        /// Clusters partition the records, and two records share a cluster
        /// only if links at or above the threshold connect them (merging
        /// never goes beyond the strong links; with nothing scored on
        /// demand, a merge needs the links it averages).
        #[test]
        fn clusters_stay_within_strong_links(n in 2usize..30, raw in proptest::collection::vec((0u32..30, 0u32..30, 0.0f64..1.0), 0..80)) {
            let links: Vec<(u32, u32, f64)> = raw.into_iter()
                .filter(|(i, j, _)| (*i as usize) < n && (*j as usize) < n && i < j)
                .collect();
            let c = cluster(n, &links, 0.5, |_, _| 0.0);
            prop_assert_eq!(c.of_record.len(), n);
            let max = c.of_record.iter().copied().max().unwrap_or(0) as usize;
            prop_assert_eq!(max + 1, c.count);
            prop_assert_eq!(c.sizes().iter().sum::<usize>(), n);
            // Components of the strong links.
            let mut comp: Vec<usize> = (0..n).collect();
            fn find(comp: &mut [usize], x: usize) -> usize {
                let mut x = x;
                while comp[x] != x { comp[x] = comp[comp[x]]; x = comp[x]; }
                x
            }
            for (i, j, p) in &links {
                if *p >= 0.5 {
                    let (a, b) = (find(&mut comp, *i as usize), find(&mut comp, *j as usize));
                    comp[a] = b;
                }
            }
            for x in 0..n {
                for y in 0..n {
                    if c.of_record[x] == c.of_record[y] {
                        prop_assert_eq!(find(&mut comp, x), find(&mut comp, y));
                    }
                }
            }
            // Every record of a multi-record cluster has a cohesion.
            for x in 0..n {
                prop_assert_eq!(c.cohesion[x].is_some(), c.sizes()[c.of_record[x] as usize] > 1);
            }
        }
    }
}
