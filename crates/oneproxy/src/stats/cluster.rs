//! Device order for a correlation heatmap: average-linkage hierarchical clustering on the
//! distance `1 - rho`, leaves read left to right, so that devices that rank architectures alike
//! (a vendor's GPUs, one batch size) sit in one block.

use super::CorrelationMatrix;

/// Distance of an undefined correlation: as far apart as two devices that disagree completely.
const UNDEFINED_DISTANCE: f64 = 2.0;

/// Leaf order of the average-linkage dendrogram of `1 - rho` (undefined cells count as distance
/// 2). Merges join the closest pair of clusters; ties go to the pair listed first, and within a
/// merge the cluster holding the earlier device comes first, so the order is deterministic.
pub fn cluster_order(m: &CorrelationMatrix) -> Vec<usize> {
    let n = m.devices.len();
    let dist = |i: usize, j: usize| {
        let v = m.matrix[i][j];
        if v.is_finite() {
            1.0 - v
        } else {
            UNDEFINED_DISTANCE
        }
    };
    // Each cluster: its leaves in display order. Pairwise mean distances are recomputed from the
    // leaves (n is a few dozen devices, so O(n^3) per merge is nothing).
    let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    while clusters.len() > 1 {
        let mut best: Option<(usize, usize, f64)> = None;
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let (ca, cb) = (&clusters[a], &clusters[b]);
                let sum: f64 = ca.iter().flat_map(|&i| cb.iter().map(move |&j| dist(i, j))).sum();
                let d = sum / (ca.len() * cb.len()) as f64;
                if best.is_none_or(|(_, _, bd)| d < bd) {
                    best = Some((a, b, d));
                }
            }
        }
        let (a, b, _) = best.expect("at least two clusters");
        let merged = clusters.remove(b);
        clusters[a].extend(merged);
    }
    clusters.pop().unwrap_or_default()
}

impl CorrelationMatrix {
    /// The same matrix with rows and columns in `order` (a permutation of the devices).
    pub fn reordered(&self, order: &[usize]) -> CorrelationMatrix {
        debug_assert_eq!(order.len(), self.devices.len());
        CorrelationMatrix {
            metric: self.metric,
            devices: order.iter().map(|&i| self.devices[i].clone()).collect(),
            matrix: order.iter().map(|&i| order.iter().map(|&j| self.matrix[i][j]).collect()).collect(),
            overlaps: order.iter().map(|&i| order.iter().map(|&j| self.overlaps[i][j]).collect()).collect(),
            min_overlap: self.min_overlap,
        }
    }

    /// Devices in alphabetical order.
    pub fn alphabetical(&self) -> CorrelationMatrix {
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        order.sort_by(|&a, &b| self.devices[a].cmp(&self.devices[b]));
        self.reordered(&order)
    }

    /// Devices in the leaf order of [`cluster_order`].
    pub fn clustered(&self) -> CorrelationMatrix {
        self.reordered(&cluster_order(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Metric;

    fn matrix(names: &[&str], m: Vec<Vec<f64>>) -> CorrelationMatrix {
        let n = names.len();
        CorrelationMatrix {
            metric: Metric::Spearman,
            devices: names.iter().map(|s| s.to_string()).collect(),
            matrix: m,
            overlaps: vec![vec![100; n]; n],
            min_overlap: 10,
        }
    }

    #[test]
    fn blocks_end_up_together() {
        // a1, a2 are alike and b1, b2 are alike, listed interleaved.
        let m = matrix(
            &["a1", "b1", "a2", "b2"],
            vec![
                vec![1.0, 0.2, 0.95, 0.1],
                vec![0.2, 1.0, 0.15, 0.9],
                vec![0.95, 0.15, 1.0, 0.2],
                vec![0.1, 0.9, 0.2, 1.0],
            ],
        );
        let order = cluster_order(&m);
        assert_eq!(order, vec![0, 2, 1, 3]);
        let c = m.clustered();
        assert_eq!(c.devices, ["a1", "a2", "b1", "b2"]);
        // Cells follow their devices.
        assert_eq!(c.matrix[0][1], 0.95);
        assert_eq!(c.matrix[2][3], 0.9);
        assert_eq!(c.matrix[1][2], 0.15);
    }

    #[test]
    fn alphabetical_and_undefined_cells() {
        let nan = f64::NAN;
        let m = matrix(&["z", "m", "a"], vec![vec![1.0, nan, 0.5], vec![nan, 1.0, 0.4], vec![0.5, 0.4, 1.0]]);
        assert_eq!(m.alphabetical().devices, ["a", "m", "z"]);
        // The undefined pair (z, m) is the farthest: z joins a first, m last.
        assert_eq!(cluster_order(&m), vec![0, 2, 1]);
        let one = matrix(&["x"], vec![vec![1.0]]);
        assert_eq!(cluster_order(&one), vec![0]);
        assert!(cluster_order(&matrix(&[], vec![])).is_empty());
    }
}
