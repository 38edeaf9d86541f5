//! [`Encoded`]: architectures encoded once, for predictors that score the same architectures
//! over and over.
//!
//! Why: the flow refits its latency model after every measurement and then predicts every
//! candidate, once per member of the averaged model and again to check that each fit stays
//! positive over the whole space. Encoding an NB201 cell (30 features, 6 of them set), counting
//! its live operations and building its network cost more than the prediction itself; they
//! depend on the architecture alone, so they are computed once per list of architectures here
//! (the whole space, a latency table's rows) and shared by every prediction.
//!
//! Predictions through an `Encoded` are bit for bit those of the dense encoding:
//! [`Encoded::dot`] adds the non-zero features in the order and to the accumulators that
//! [`crate::stats::dot`] would, so the flow's choices do not depend on which path predicted.

use super::cell::{live_counts, prune_dead, LivePaths, OpCounts};
use super::{Arch, SpaceId};
use crate::network::counts::NetworkCount;
use std::sync::OnceLock;

/// Where [`Encoded::dot`] adds the features past the last multiple of 4 ([`crate::stats::dot`]'s
/// tail; 0-3 are its accumulators).
const TAIL: usize = 4;

/// A non-zero feature of an architecture.
#[derive(Debug, Clone, Copy)]
struct Entry {
    feature: u32,
    /// Where [`crate::stats::dot`] adds it: `feature % 4`, or [`TAIL`].
    accumulator: u32,
    value: f64,
}

/// The non-zero features of every architecture, one after the other.
#[derive(Debug)]
enum Entries {
    /// Every value is 1 (a one-hot encoding, as NB201's and FBNet's): each feature packed with
    /// its accumulator as `feature << 3 | accumulator`, a quarter of an [`Entry`]. Why: a
    /// product by 1 is the other factor, bit for bit, so the sum needs only the weights, and
    /// the flow predicts the whole space several times per refit; the smaller entries stay in
    /// cache.
    Units(Vec<u32>),
    /// Any values.
    Weighted(Vec<Entry>),
}

/// The features of a list of architectures, kept sparse, with what predictors derive from
/// each architecture computed on first need.
#[derive(Debug)]
pub struct Encoded {
    space: SpaceId,
    features: usize,
    /// `entries[starts[i]..starts[i + 1]]`: architecture i's non-zero features, ascending.
    starts: Vec<usize>,
    entries: Entries,
    live: OnceLock<Vec<OpCounts>>,
    paths: OnceLock<Vec<LivePaths>>,
    networks: OnceLock<Vec<[f64; 3]>>,
    pruned: OnceLock<Box<Encoded>>,
}

impl Encoded {
    /// Encode `archs` of `space`.
    pub fn new(space: SpaceId, archs: &[Arch]) -> Encoded {
        let s = space.space();
        let features = s.num_features();
        let mut buf = vec![0.0; features];
        let full = features - features % 4;
        let mut starts = Vec::with_capacity(archs.len() + 1);
        let mut entries = Vec::with_capacity(archs.len() * 8);
        starts.push(0);
        for a in archs {
            s.encode_into(a, &mut buf);
            entries.extend(buf.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(j, &value)| Entry {
                feature: j as u32,
                accumulator: if j < full { (j % 4) as u32 } else { TAIL as u32 },
                value,
            }));
            starts.push(entries.len());
        }
        let units = entries.iter().all(|e| e.value == 1.0 && e.feature < 1 << 28);
        let entries = if units {
            Entries::Units(entries.iter().map(|e| e.feature << 3 | e.accumulator).collect())
        } else {
            Entries::Weighted(entries)
        };
        Encoded {
            space,
            features,
            starts,
            entries,
            live: OnceLock::new(),
            paths: OnceLock::new(),
            networks: OnceLock::new(),
            pruned: OnceLock::new(),
        }
    }

    /// Every architecture of an enumerable space ([`SpaceId::enumerated`]), encoded once per
    /// process.
    pub fn enumerated(space: SpaceId) -> Option<&'static Encoded> {
        static ENCODED: super::PerSpace<Option<Encoded>> = super::PerSpace::new();
        ENCODED.get_or_init(space, || space.enumerated().map(|all| Encoded::new(space, all))).as_ref()
    }

    /// The space the architectures were encoded in.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// How many architectures.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `features(arch i) . w`, bit for bit what [`crate::stats::dot`] gives on the dense
    /// encoding: each product lands in the accumulator (`j % 4`) or the tail it would have
    /// there, in the same order, and the zero products it skips leave a sum unchanged.
    pub fn dot(&self, i: usize, w: &[f64]) -> f64 {
        debug_assert_eq!(w.len(), self.features, "weights of another space");
        // Four accumulators, the tail, and room for the index mask to need no bounds check.
        let mut acc = [0.0f64; 8];
        let range = self.starts[i]..self.starts[i + 1];
        match &self.entries {
            Entries::Units(units) => {
                for &e in &units[range] {
                    acc[e as usize & 7] += w[(e >> 3) as usize];
                }
            }
            Entries::Weighted(entries) => {
                for e in &entries[range] {
                    acc[e.accumulator as usize & 7] += e.value * w[e.feature as usize];
                }
            }
        }
        acc[..4].iter().sum::<f64>() + acc[TAIL]
    }

    /// The live operations of each cell ([`live_counts`]); `archs` are the ones encoded.
    pub(crate) fn live_counts(&self, archs: &[Arch]) -> &[OpCounts] {
        self.check(archs);
        self.live.get_or_init(|| archs.iter().map(|a| live_counts(a.genes())).collect())
    }

    /// The live paths of each cell ([`LivePaths`]); `archs` are the ones encoded.
    pub(crate) fn live_paths(&self, archs: &[Arch]) -> &[LivePaths] {
        self.check(archs);
        self.paths.get_or_init(|| archs.iter().map(|a| LivePaths::of(a.genes())).collect())
    }

    /// Every [`NetworkCount`] of each architecture's network; `archs` are the ones encoded.
    pub(crate) fn network_counts(&self, archs: &[Arch]) -> &[[f64; 3]] {
        self.check(archs);
        self.networks.get_or_init(|| archs.iter().map(|a| NetworkCount::all_of(&self.space.network(a))).collect())
    }

    /// The cells with their dead operations removed ([`prune_dead`]), encoded; `archs` are the
    /// ones encoded.
    pub(crate) fn pruned(&self, archs: &[Arch]) -> &Encoded {
        self.check(archs);
        self.pruned.get_or_init(|| {
            let pruned: Vec<Arch> = archs.iter().map(prune_dead).collect();
            Box::new(Encoded::new(self.space, &pruned))
        })
    }

    fn check(&self, archs: &[Arch]) {
        assert_eq!(archs.len(), self.len(), "the architectures are not the ones encoded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{seeded_rng, SearchSpace};
    use rand::Rng;

    #[test]
    fn the_sparse_dot_is_the_dense_dot_bit_for_bit() {
        let mut rng = seeded_rng(3);
        let mut kinds = std::collections::BTreeSet::new();
        for space in SpaceId::ALL {
            let s = space.space();
            let archs: Vec<Arch> = (0..200).map(|_| s.sample(&mut rng)).collect();
            let enc = Encoded::new(space, &archs);
            let w: Vec<f64> = (0..s.num_features()).map(|_| rng.random_range(-3.0..3.0) * 1e-3).collect();
            // Signed zeros, subnormals and values whose sums overflow too: the packed one-hot
            // path skips the product by 1, which must change nothing. (Not infinite weights:
            // the dense sum multiplies them by the zero features, the sparse one never does.)
            let mut odd = w.clone();
            for (j, v) in odd.iter_mut().enumerate() {
                *v = [-0.0, 0.0, 1e308, -1e308, 1e308, 5e-324, -7.5][j % 7];
            }
            for (i, a) in archs.iter().enumerate() {
                for w in [&w, &odd] {
                    let dense = crate::stats::dot(&s.encode(a), w);
                    assert_eq!(enc.dot(i, w).to_bits(), dense.to_bits(), "{space}: {}", s.format(a));
                }
            }
            kinds.insert(matches!(enc.entries, Entries::Units(_)));
        }
        assert_eq!(kinds.len(), 2, "both kinds of entries are checked (one-hot and weighted spaces)");
    }

    #[test]
    fn the_whole_space_is_encoded_once_and_its_derived_counts_follow_its_cells() {
        let all = SpaceId::Nb201.enumerated().unwrap();
        let enc = Encoded::enumerated(SpaceId::Nb201).unwrap();
        assert!(std::ptr::eq(enc, Encoded::enumerated(SpaceId::Nb201).unwrap()));
        assert_eq!(enc.len(), all.len());
        let live = enc.live_counts(all);
        let paths = enc.live_paths(all);
        let pruned = enc.pruned(all);
        let op_costs = [0.0, 0.1, 1.0, 9.0, 0.3];
        for i in [0, 1, 777, all.len() - 1] {
            assert_eq!(live[i], live_counts(all[i].genes()));
            assert_eq!(
                paths[i].costliest_counts(&op_costs),
                crate::space::cell::path_counts(all[i].genes(), &op_costs)
            );
            let w: Vec<f64> = (0..30).map(|j| j as f64).collect();
            assert_eq!(pruned.dot(i, &w), crate::stats::dot(&crate::space::Nb201.encode(&prune_dead(&all[i])), &w));
        }
        assert!(Encoded::enumerated(SpaceId::Fbnet).is_none());
    }

    #[test]
    #[should_panic(expected = "not the ones encoded")]
    fn derived_counts_refuse_other_architectures() {
        let all = SpaceId::Nb201.enumerated().unwrap();
        Encoded::new(SpaceId::Nb201, &all[..10]).live_counts(&all[..11]);
    }
}
