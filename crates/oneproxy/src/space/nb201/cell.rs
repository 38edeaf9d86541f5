//! How an NB201 cell *executes*: which of its operations are live, and its costliest path.
//!
//! Devices do not all run a cell as it is written. A graph compiler or a mobile runtime
//! (TFLite, OpenVINO and others) removes operations whose result cannot matter, so its latency
//! follows the *live* operations; a runtime that executes the independent branches of a cell
//! concurrently is bounded by the costliest input-to-output path rather than by the sum. The
//! one-hot encoding of [`Nb201`](super::Nb201) cannot express either, so the adaptation uses
//! the counts defined here as further hypotheses (see `predictor::hypotheses`).
//!
//! **Live and dead.** A non-`none` operation on edge `j -> i` is *live* when node `j` can be
//! reached from the cell input (node 0) and the cell output (node 3) can be reached from node
//! `i`, both through non-`none` edges; otherwise it is *dead*: its input is identically zero or
//! its output is never used. Equivalently, an operation is live exactly when it lies on one of
//! the cell's four input-to-output paths ([`PATHS`]) whose edges are all non-`none`.
//! `none` edges are neither live nor dead (there is no operation to run).

use super::{NB201_EDGES, NB201_OPS};
use crate::space::Arch;

/// Number of operation kinds (including `none`, index 0).
pub const OPS: usize = NB201_OPS.len();

/// The cell's input-to-output paths as edge indices (order of [`NB201_EDGES`]):
/// 0->1->2->3, 0->1->3, 0->2->3 and 0->3 (the edge sets {1,3,6}, {1,5}, {2,6}, {4} counted
/// from 1).
pub const PATHS: [&[usize]; 4] = [&[0, 2, 5], &[0, 4], &[1, 5], &[3]];

/// Per-op counts, indexed like [`NB201_OPS`] (`none` is always 0 in live and dead counts).
pub type OpCounts = [u32; OPS];

/// Which edges carry a live operation.
pub fn live_edges(genes: &[u8]) -> [bool; 6] {
    debug_assert_eq!(genes.len(), NB201_EDGES.len());
    let mut live = [false; 6];
    for path in PATHS {
        if path.iter().all(|&e| genes[e] != 0) {
            for &e in path {
                live[e] = true;
            }
        }
    }
    live
}

/// How many live operations of each kind the cell has.
pub fn live_counts(genes: &[u8]) -> OpCounts {
    let live = live_edges(genes);
    let mut c = [0; OPS];
    for (e, &op) in genes.iter().enumerate() {
        if live[e] {
            c[op as usize] += 1;
        }
    }
    c
}

/// How many dead operations of each kind the cell has.
pub fn dead_counts(genes: &[u8]) -> OpCounts {
    let live = live_edges(genes);
    let mut c = [0; OPS];
    for (e, &op) in genes.iter().enumerate() {
        if op != 0 && !live[e] {
            c[op as usize] += 1;
        }
    }
    c
}

/// A cell's live paths (those without a `none` edge, in the order of [`PATHS`]), each as its
/// operations in edge order: all that [`costliest_path`] compares. Kept per cell where many
/// costs are tried on the same cells (a fitted path term predicts the whole space on every
/// refit of the flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePaths {
    count: u8,
    index: [u8; 4],
    len: [u8; 4],
    ops: [[u8; 3]; 4],
}

impl LivePaths {
    /// The live paths of a cell.
    pub fn of(genes: &[u8]) -> LivePaths {
        let mut lp = LivePaths { count: 0, index: [0; 4], len: [0; 4], ops: [[0; 3]; 4] };
        for (p, path) in PATHS.iter().enumerate() {
            if path.iter().any(|&e| genes[e] == 0) {
                continue;
            }
            let k = lp.count as usize;
            lp.index[k] = p as u8;
            lp.len[k] = path.len() as u8;
            for (o, &e) in lp.ops[k].iter_mut().zip(path.iter()) {
                *o = genes[e];
            }
            lp.count += 1;
        }
        lp
    }

    /// Position (among the live paths) of the one with the largest total cost, the first on ties.
    fn costliest(&self, op_costs: &[f64; OPS]) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for k in 0..self.count as usize {
            let cost: f64 = self.ops[k][..self.len[k] as usize].iter().map(|&o| op_costs[o as usize]).sum();
            if best.is_none_or(|(_, c)| cost > c) {
                best = Some((k, cost));
            }
        }
        best.map(|(k, _)| k)
    }

    /// [`path_counts`] of the cell.
    pub fn costliest_counts(&self, op_costs: &[f64; OPS]) -> OpCounts {
        let mut c = [0; OPS];
        if let Some(k) = self.costliest(op_costs) {
            for &o in &self.ops[k][..self.len[k] as usize] {
                c[o as usize] += 1;
            }
        }
        c
    }
}

/// The live path (index into [`PATHS`]) with the largest total cost under `op_costs` (one cost
/// per op kind), the first on ties; `None` when no path is live (the cell's output is zero).
pub fn costliest_path(genes: &[u8], op_costs: &[f64; OPS]) -> Option<usize> {
    let lp = LivePaths::of(genes);
    lp.costliest(op_costs).map(|k| lp.index[k] as usize)
}

/// The op counts along the [costliest path](costliest_path) (all zero without a live path).
pub fn path_counts(genes: &[u8], op_costs: &[f64; OPS]) -> OpCounts {
    LivePaths::of(genes).costliest_counts(op_costs)
}

/// The cell with its dead operations replaced by `none`: the same function, computed the way a
/// deployment compiler would run it. Idempotent.
pub fn prune_dead(arch: &Arch) -> Arch {
    let live = live_edges(arch.genes());
    Arch::from_genes(arch.genes().iter().zip(live).map(|(&g, l)| if l { g } else { 0 }).collect::<Vec<u8>>())
}

/// A count vector over a cell's operations that a latency model can weigh per op kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CellFeature {
    /// [`live_counts`]: what a device that removes dead operations runs.
    LiveOps,
    /// [`path_counts`] under these per-op costs: what bounds a device that runs the cell's
    /// branches concurrently.
    CostliestPath {
        /// One cost per op kind (order of [`NB201_OPS`]), any unit; only their order matters.
        op_costs: [f64; OPS],
    },
}

impl CellFeature {
    /// The feature's counts for a cell.
    pub fn counts(&self, genes: &[u8]) -> OpCounts {
        match self {
            CellFeature::LiveOps => live_counts(genes),
            CellFeature::CostliestPath { op_costs } => path_counts(genes, op_costs),
        }
    }

    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            CellFeature::LiveOps => "live-ops",
            CellFeature::CostliestPath { .. } => "costliest-path",
        }
    }
}

/// Whether the cell has a dead operation.
pub fn has_dead(genes: &[u8]) -> bool {
    dead_counts(genes).iter().any(|&c| c > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Nb201, SearchSpace};

    fn genes(s: &str) -> Vec<u8> {
        Nb201.parse(s).unwrap().genes().to_vec()
    }

    #[test]
    fn the_all_none_cell_has_nothing_live_and_no_path() {
        let g = [0u8; 6];
        assert_eq!(live_edges(&g), [false; 6]);
        assert_eq!(live_counts(&g), [0; OPS]);
        assert_eq!(dead_counts(&g), [0; OPS]);
        assert_eq!(costliest_path(&g, &[0.0, 0.0, 1.0, 9.0, 0.3]), None);
        assert_eq!(path_counts(&g, &[1.0; OPS]), [0; OPS]);
    }

    #[test]
    fn a_cell_whose_only_conv_is_dead() {
        // The 3x3 conv on 0->1 feeds node 1, whose only way out (1->2, 1->3) is `none`: dead.
        let g = genes("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|");
        assert_eq!(live_edges(&g), [false, true, false, false, false, true]);
        assert_eq!(live_counts(&g), [0, 2, 0, 0, 0]);
        assert_eq!(dead_counts(&g), [0, 0, 0, 1, 0]);
        let pruned = prune_dead(&Arch::from_genes(g.clone()));
        assert_eq!(Nb201.format(&pruned), "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|");
        // An op whose *input* is zero is dead too: node 2 is unreachable from the input.
        let g = genes("|none~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|");
        assert_eq!(live_counts(&g), [0, 1, 0, 0, 0]);
        assert_eq!(dead_counts(&g), [0, 0, 1, 0, 1]);
    }

    #[test]
    fn costliest_path_follows_the_costs() {
        // Paths: 0-1-2-3 = conv1 + skip + pool, 0-1-3 = conv1 + conv3, 0-2-3 = conv3 + pool, 0-3 = skip.
        let g =
            genes("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|");
        let flops = [0.0, 0.0, 1.0, 9.0, 0.3];
        assert_eq!(costliest_path(&g, &flops), Some(1));
        assert_eq!(path_counts(&g, &flops), [0, 0, 1, 1, 0]);
        let pools_dear = [0.0, 0.0, 0.5, 1.0, 50.0];
        assert_eq!(costliest_path(&g, &pools_dear), Some(2));
        assert_eq!(path_counts(&g, &pools_dear), [0, 0, 0, 1, 1]);
    }

    #[test]
    fn over_the_whole_space() {
        let all = Nb201.enumerate().unwrap();
        let dead = all.iter().filter(|a| has_dead(a.genes())).count();
        // About 40% of the cells have a dead op (the figure).
        assert!((0.35..0.45).contains(&(dead as f64 / all.len() as f64)), "{dead}");
        for a in &all {
            let g = a.genes();
            // The path definition agrees with the reachability one of the module doc.
            let edge = |e: usize| g[e] != 0;
            let mut from_input = [true, false, false, false];
            let mut to_output = [false, false, false, true];
            for (e, &(to, from)) in NB201_EDGES.iter().enumerate() {
                from_input[to as usize] |= edge(e) && from_input[from as usize];
            }
            for (e, &(to, from)) in NB201_EDGES.iter().enumerate().rev() {
                to_output[from as usize] |= edge(e) && to_output[to as usize];
            }
            let reach: Vec<bool> = NB201_EDGES
                .iter()
                .enumerate()
                .map(|(e, &(to, from))| edge(e) && from_input[from as usize] && to_output[to as usize])
                .collect();
            assert_eq!(live_edges(g).to_vec(), reach, "{a:?}");
            let (l, d) = (live_counts(g), dead_counts(g));
            let non_none = g.iter().filter(|&&o| o != 0).count() as u32;
            assert_eq!(l.iter().sum::<u32>() + d.iter().sum::<u32>(), non_none);
            let p = prune_dead(a);
            assert_eq!(live_counts(p.genes()), l);
            assert_eq!(dead_counts(p.genes()), [0; OPS]);
            assert_eq!(prune_dead(&p), p);
            // The costliest path is live, so its ops are a subset of the live ones.
            let pc = path_counts(g, &[0.0, 0.1, 1.0, 9.0, 0.3]);
            assert!(pc.iter().zip(&l).all(|(p, l)| p <= l));
        }
    }
}
