//! Records into persons. Plain connected components would let a chain of
//! weak links (A–B, B–C) put two different people (A, C) in one cluster;
//! here clusters are merged from the strongest link down, and two clusters
//! merge only if the *average* match probability over all pairs across them
//! (scored on demand, whether or not blocking proposed them) reaches the
//! threshold — average-linkage agglomeration.

use std::collections::HashMap;

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
    let known: HashMap<(u32, u32), f64> = links.iter().map(|(i, j, p)| ((*i, *j), *p)).collect();
    let mut prob = |i: usize, j: usize| -> f64 {
        let key = if i < j {
            (i as u32, j as u32)
        } else {
            (j as u32, i as u32)
        };
        known
            .get(&key)
            .copied()
            .unwrap_or_else(|| score(key.0 as usize, key.1 as usize))
    };
    let mut parent: Vec<usize> = (0..n).collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    for k in order {
        let (i, j, _) = links[k];
        let (a, b) = (parent[i as usize], parent[j as usize]);
        if a == b {
            continue;
        }
        let (ma, mb) = (&members[a], &members[b]);
        let mut sum = 0.0;
        for x in ma {
            for y in mb {
                sum += prob(*x, *y);
            }
        }
        if sum / (ma.len() * mb.len()) as f64 >= threshold {
            let (big, small) = if members[a].len() >= members[b].len() {
                (a, b)
            } else {
                (b, a)
            };
            let moved = std::mem::take(&mut members[small]);
            for r in &moved {
                parent[*r] = big;
            }
            members[big].extend(moved);
        }
    }
    let mut index: HashMap<usize, u32> = HashMap::new();
    let mut of_record = Vec::with_capacity(n);
    for root in &parent {
        let next = index.len() as u32;
        of_record.push(*index.entry(*root).or_insert(next));
    }
    let mut cohesion = vec![None; n];
    for group in members.iter().filter(|m| m.len() > 1) {
        for x in group {
            let s: f64 = group.iter().filter(|y| *y != x).map(|y| prob(*x, *y)).sum();
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
