//! A device that runs a cell's branches concurrently: beyond the live operations, the cost of
//! the costliest path through the cell (NB201).

use super::live_ops::live_fit;
use super::ridge::{count_columns, NonNegativeRidge};
use super::{Fitted, Hypothesis, Samples};
use crate::space::cell::{CellFeature, OPS};
use crate::space::SpaceId;
use nalgebra::DMatrix;

/// Live op counts plus the op counts of the costliest path, `gamma >= 0` per op kind on the
/// path; which path is costliest is decided by the live-op fit's per-op costs.
pub(super) struct LivePath;

impl Hypothesis for LivePath {
    fn name(&self) -> &'static str {
        "live-path"
    }

    fn help(&self) -> &'static str {
        "No proxy: live op counts plus the op counts of the costliest path (branches run concurrently)"
    }

    fn uses_pool(&self) -> bool {
        false
    }

    fn applies(&self, space: SpaceId, _: usize) -> bool {
        space.family().has_cells()
    }

    /// `None` also when the live fit costs nothing: then no path is costlier than another.
    fn fit(&self, s: &Samples) -> Option<Fitted> {
        let (live, fit) = live_fit(s)?;
        let per_op = fit.per_column();
        if !per_op.iter().any(|v| *v > 0.0) {
            return None;
        }
        let mut op_costs = [0.0; OPS];
        op_costs[1..].copy_from_slice(&per_op);
        let path_feature = CellFeature::CostliestPath { op_costs };
        let path = count_columns(s.archs, &path_feature);
        let both = DMatrix::from_fn(s.archs.len(), 2 * (OPS - 1), |i, j| {
            if j < OPS - 1 {
                live[(i, j)]
            } else {
                path[(i, j + 1 - OPS)]
            }
        });
        let fit = NonNegativeRidge::new(both, s.ys).fit(s.tests)?;
        Some(fit.into_counts(s.scale, &[CellFeature::LiveOps, path_feature]))
    }
}
