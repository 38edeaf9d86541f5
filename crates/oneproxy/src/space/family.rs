//! What a search-space family brings besides its genotype: its names, its network and its
//! bundled dataset. Together with [`SearchSpace`] (genes, strings, encoding) this is everything
//! the rest of the crate asks of a space, so that adding one is a folder under `space/` and one
//! line of the [registry](super::SpaceId).

use super::{Arch, SearchSpace};
use crate::network::Network;

/// A search-space family: the [`SearchSpace`] plus what is built from it.
///
/// Implemented by the same stateless unit struct as [`SearchSpace`]; get one from
/// [`SpaceId::family`](super::SpaceId::family).
pub trait Family: SearchSpace {
    /// Other names accepted on the command line (lowercase), besides the canonical one.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the space builds networks. Declared spaces do not: they are lists of choices,
    /// so FLOPs, network counts and ONNX exports are unavailable there, and callers that need
    /// a network check this first ([`SpaceId::require_network`](super::SpaceId::require_network)).
    fn has_network(&self) -> bool {
        true
    }

    /// The network of an architecture, every operation computed as written (the layers that
    /// FLOPs, parameters and ONNX exports are read from).
    /// Only called where [`Family::has_network`] holds.
    fn network(&self, arch: &Arch) -> Network;

    /// The network with only the live operations of each cell, for spaces with dead operations
    /// to remove (a deployment compiler's view); `None` for spaces with nothing to prune.
    fn pruned_network(&self, _arch: &Arch) -> Option<Network> {
        None
    }

    /// Whether genes are NAS-Bench-201 cells, so that the cell analyses of
    /// [`crate::space::cell`] (live operations, paths, dead operations) apply and networks can
    /// be pruned ([`Family::pruned_network`] is `Some`).
    fn has_cells(&self) -> bool {
        false
    }

    /// Two architectures whose networks are the smallest and the largest of the space in every
    /// [`NetworkCount`](crate::network::counts::NetworkCount) at once, where the space has
    /// them: they bound a latency model over those counts without visiting the space (which
    /// may be far too large to enumerate). `None` where no architecture is smallest in all.
    fn count_extremes(&self) -> Option<[Arch; 2]> {
        None
    }

    /// The dataset bundled with the library for this space, if any.
    fn dataset(&self) -> Option<&'static Dataset> {
        None
    }

    /// The architecture of one row of the bundled architecture file, from its
    /// [`Dataset::arch_columns`] fields after the index; `Err` carries the reason.
    ///
    /// The default reads one field, the architecture's canonical string.
    fn parse_bundled(&self, fields: &[&str]) -> std::result::Result<Arch, String> {
        match fields {
            [text] => self.parse_str(text.trim()),
            _ => Err(format!("expected 1 architecture field, found {}", fields.len())),
        }
    }
}

/// One gzip-compressed CSV embedded in the library (under the crate's `data/` folder).
#[derive(Debug)]
pub struct Embedded {
    /// Path under `data/` without `.gz`, e.g. `nasbench201/archs.csv`.
    pub name: &'static str,
    /// The compressed bytes.
    pub gz: &'static [u8],
}

/// Embed `data/<name>.gz` of the library crate as an [`Embedded`].
macro_rules! embed {
    ($name:literal) => {
        $crate::space::Embedded {
            name: $name,
            gz: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/", $name, ".gz")),
        }
    };
}
pub(crate) use embed;

/// Which files under the vendored data make a space's bundle, and how to read them; loaded by
/// [`crate::data::bundled`] for every space alike.
#[derive(Debug)]
pub struct Dataset {
    /// The architectures: an `index` column (0, 1, 2, ...), then [`Self::arch_columns`] fields
    /// read by [`Family::parse_bundled`], then one column per [`Self::accuracy`] table.
    pub archs: Embedded,
    /// Number of fields that describe an architecture.
    pub arch_columns: usize,
    /// Accuracy tables in the architecture file, in column order (missing values are NaN).
    pub accuracy: &'static [&'static str],
    /// Latency CSV files, merged in order.
    pub latency: &'static [Embedded],
    /// Devices whose latencies come from a simulator or an estimator rather than a measurement:
    /// never a default proxy unless the user names one.
    pub simulated: &'static [&'static str],
    /// The shipped proxy ranking (JSON of [`crate::data::bundled::ProxyRanking`]), if computed.
    pub proxy_ranking: Option<&'static str>,
    /// Bundled row indices of a fixed set of reference architectures (`--sample-set help10`);
    /// empty when the space has none.
    pub reference_rows: &'static [usize],
}
