//! Search spaces: what an architecture is, how it is written, sampled and encoded.
//!
//! Every space describes an architecture as a short vector of *genes* (small integers, one per
//! decision: an op on an edge, a block choice in a layer, a kernel size in a slot). One genotype
//! representation for all spaces keeps the layers above simple: tables key rows by [`Arch`],
//! evolutionary search mutates and crosses genes, and the additive predictors read the
//! space's [feature encoding](SearchSpace::encode_into).
//!
//! The canonical string form of each space is documented on its type ([`Nb201`], [`Fbnet`],
//! [`OfaMbv3`], [`Mbv2`], [`Proxyless`]); `format(parse(s)) == s` holds for every canonical string.

pub mod declared;
pub mod elastic;
mod encoded;
mod family;
pub(crate) mod fbnet;
pub(crate) mod nb201;

pub use declared::DeclaredSpace;
pub use elastic::{Mbv2, OfaMbv3, Proxyless};
pub use encoded::Encoded;
pub(crate) use family::embed;
pub use family::{Dataset, Embedded, Family};
pub use fbnet::Fbnet;
pub use nb201::cell;
pub use nb201::Nb201;

use crate::error::{Error, Origin, Result};
use crate::network::{Cost, Execution, Network};
use rand::Rng;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

/// The seeded random generator used everywhere randomness is needed.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// Build the library's random generator from a user seed.
pub fn seeded_rng(seed: u64) -> SeededRng {
    use rand::SeedableRng;
    SeededRng::seed_from_u64(seed)
}

/// One architecture of a search space, as its genes.
///
/// The meaning of each gene belongs to the space; an `Arch` is only meaningful together with
/// the [`SearchSpace`] that made it. Two archs are equal iff they are the same network (spaces
/// canonicalise genes that do not matter, such as unused block slots).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arch(Box<[u8]>);

impl Arch {
    /// Wrap raw genes. Callers must pass genes that the space considers canonical.
    pub fn from_genes(genes: impl Into<Box<[u8]>>) -> Self {
        Arch(genes.into())
    }

    /// The genes.
    pub fn genes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arch{:?}", &self.0)
    }
}

/// Declare the registry: the [`SpaceId`] enum, [`SpaceId::ALL`], [`SpaceId::NAMES`] and the
/// implementation of each space, from one line per space.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $family:path),* $(,)?) => {
        /// A search space: one of the built-in spaces (the registry below lists them) or a
        /// space declared in a space file ([`declared`]). Serialised as its name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SpaceId {
            $($(#[$doc])* $variant,)*
            /// A space read from a space file ([`declared::load`]).
            Declared(declared::DeclaredRef),
        }

        impl SpaceId {
            /// All built-in spaces, in registry order (declared spaces are not listed).
            pub const ALL: [SpaceId; [$($name),*].len()] = [$(SpaceId::$variant),*];

            /// The canonical name of every built-in space, in registry order.
            pub const NAMES: [&'static str; [$($name),*].len()] = [$($name),*];

            /// The space's implementation (genotype and encoding).
            pub fn space(self) -> &'static dyn SearchSpace {
                match self {
                    $(SpaceId::$variant => &$family,)*
                    SpaceId::Declared(d) => d.get(),
                }
            }

            /// The space's family (names, network, bundled data).
            pub fn family(self) -> &'static dyn Family {
                match self {
                    $(SpaceId::$variant => &$family,)*
                    SpaceId::Declared(d) => d.get(),
                }
            }

            /// The short name used on the command line and in JSON.
            pub fn name(self) -> &'static str {
                match self {
                    $(SpaceId::$variant => $name,)*
                    SpaceId::Declared(d) => d.get().name(),
                }
            }
        }
    };
}

// The registry: one line per space, `Variant = "canonical name" => implementation`.
registry! {
    /// NAS-Bench-201 cell space (15625 architectures).
    Nb201 = "nb201" => nb201::Nb201,
    /// FBNet: 22 layers x 9 block choices.
    Fbnet = "fbnet" => fbnet::Fbnet,
    /// Once-for-All MobileNetV3.
    OfaMbv3 = "ofa-mbv3" => elastic::OfaMbv3,
    /// MobileNetV2-style elastic MBConv space (no bundled data).
    Mbv2 = "mbv2" => elastic::Mbv2,
    /// ProxylessNAS-style elastic MBConv space (no bundled data).
    Proxyless = "proxyless" => elastic::Proxyless,
}

impl SpaceId {
    /// Position in [`SpaceId::ALL`]; `None` for a declared space.
    pub fn builtin_index(self) -> Option<usize> {
        SpaceId::ALL.iter().position(|&s| s == self)
    }

    /// A built-in space by its canonical name or a loaded declared space by its name (exactly
    /// as written: the names that JSON files carry).
    pub fn from_name(name: &str) -> Option<SpaceId> {
        match SpaceId::NAMES.iter().position(|&n| n == name) {
            Some(i) => Some(SpaceId::ALL[i]),
            None => declared::find(name),
        }
    }

    /// Every architecture of an enumerable space, enumerated once per process ([`SearchSpace::enumerate`]):
    /// bounds over the whole space are checked on every refit of the flow, and enumerating
    /// NB201's 15,625 cells each time cost more than the check.
    pub fn enumerated(self) -> Option<&'static [Arch]> {
        static CELLS: PerSpace<Option<Vec<Arch>>> = PerSpace::new();
        CELLS.get_or_init(self, || self.space().enumerate()).as_deref()
    }

    /// Whether the space has networks ([`Family::has_network`]); else an error saying what
    /// needs one (`what`, e.g. `FLOPs`).
    pub fn require_network(self, what: &str) -> Result<()> {
        if self.family().has_network() {
            return Ok(());
        }
        Err(Error::InvalidParameter(format!(
            "{what} needs the network of each architecture, and the declared space {self} has none (it is a list of choices)"
        )))
    }

    /// The network of an architecture, every operation computed as written. Spaces without
    /// networks (declared ones) are checked by callers ([`SpaceId::require_network`]).
    pub fn network(self, arch: &Arch) -> Network {
        self.family().network(arch)
    }

    /// FLOPs (multiply-adds) and parameters of an architecture.
    pub fn cost(self, arch: &Arch) -> Cost {
        self.network(arch).cost()
    }

    /// Whether the space's networks can be built as `exec` says: pruning is an error for spaces
    /// without cells (they have no `none` edges and no dead operations to remove), never a
    /// silent no-op.
    pub fn check_execution(self, exec: Execution) -> Result<()> {
        match exec {
            Execution::PruneDead if !self.family().has_cells() => Err(self.nothing_to_prune()),
            _ => Ok(()),
        }
    }

    /// The network of an architecture computed as `exec` says; an error when the space does not
    /// support it ([`SpaceId::check_execution`]).
    pub fn network_with(self, arch: &Arch, exec: Execution) -> Result<Network> {
        self.require_network("building a network")?;
        match exec {
            Execution::AsWritten => Ok(self.network(arch)),
            Execution::PruneDead => self.family().pruned_network(arch).ok_or_else(|| self.nothing_to_prune()),
        }
    }

    fn nothing_to_prune(self) -> Error {
        let with_cells: Vec<&str> =
            SpaceId::ALL.into_iter().filter(|id| id.family().has_cells()).map(SpaceId::name).collect();
        Error::InvalidParameter(format!(
            "pruning dead operations is defined for the {} space only (its cells have `none` edges); the {self} space has nothing to prune",
            with_cells.join(", ")
        ))
    }
}

impl fmt::Display for SpaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for SpaceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for SpaceId {
    /// A built-in space's canonical name, or the name of a declared space loaded before.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        SpaceId::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown space `{name}`, expected one of {} or a declared space (give its space file, --space-file)",
                SpaceId::NAMES.map(|n| format!("`{n}`")).join(", ")
            ))
        })
    }
}

impl FromStr for SpaceId {
    type Err = Error;
    /// A built-in space's canonical name or one of its aliases, in any case. (Declared spaces
    /// are named by their file, not by a name.)
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        SpaceId::ALL
            .into_iter()
            .find(|id| id.name() == lower || id.family().aliases().contains(&lower.as_str()))
            .ok_or_else(|| Error::UnknownSpace { name: s.to_string(), known: &SpaceId::NAMES })
    }
}

/// A value computed once per space and kept for the process (a bundle, reference statistics),
/// for built-in and declared spaces alike. Each space gets its own cell, so computing one
/// space's value neither blocks nor repeats another's.
pub(crate) struct PerSpace<T: 'static>(OnceLock<Mutex<HashMap<SpaceId, &'static OnceLock<T>>>>);

impl<T: Send + Sync + 'static> PerSpace<T> {
    pub(crate) const fn new() -> Self {
        PerSpace(OnceLock::new())
    }

    /// The value for `space`, computed by `make` on first use (once, other callers wait).
    pub(crate) fn get_or_init(&self, space: SpaceId, make: impl FnOnce() -> T) -> &'static T {
        let cell: &'static OnceLock<T> = {
            let mut map = self.0.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
            map.entry(space).or_insert_with(|| Box::leak(Box::new(OnceLock::new())))
        };
        cell.get_or_init(make)
    }
}

/// A named group of encoding features that share a kind (e.g. every `nor_conv_3x3` edge in
/// NB201). Structured adaptation shares one correction per group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGroup {
    /// The kind, e.g. `nor_conv_3x3`.
    pub name: String,
    /// Indices into the feature vector.
    pub features: Vec<usize>,
}

/// A family of architectures.
///
/// Implementations are stateless unit structs; get one from [`SpaceId::space`].
pub trait SearchSpace: Send + Sync + fmt::Debug {
    /// Which space this is.
    fn id(&self) -> SpaceId;

    /// Number of values each gene can take (the genotype's shape).
    fn gene_cardinalities(&self) -> &[u8];

    /// Parse a canonical (or accepted alternative) architecture string; `Err` carries the reason.
    fn parse_str(&self, s: &str) -> std::result::Result<Arch, String>;

    /// The canonical string of an architecture.
    fn format(&self, arch: &Arch) -> String;

    /// Make genes canonical in place (e.g. reset genes that do not affect the network).
    fn canonicalize(&self, _genes: &mut [u8]) {}

    /// Every architecture, for spaces small enough to enumerate.
    fn enumerate(&self) -> Option<Vec<Arch>> {
        None
    }

    /// Number of features of the additive-predictor encoding (without the intercept).
    fn num_features(&self) -> usize;

    /// Human-readable name of each feature, `num_features()` long.
    fn feature_names(&self) -> Vec<String>;

    /// Write the encoding of `arch` into `out` (`num_features()` long).
    fn encode_into(&self, arch: &Arch, out: &mut [f64]);

    /// Features grouped by kind, for structured adaptation. Groups are disjoint; features in
    /// no group are adapted by the global scale only.
    fn feature_groups(&self) -> Vec<FeatureGroup>;

    /// Features whose weight additive fits pin to zero. One-hot encodings are collinear with the
    /// intercept (each position's one-hots sum to a constant), so the split of cost between the
    /// intercept and the features is arbitrary; AdaProxy multiplies the proxy's weights, so that
    /// split matters. Pinning one reference choice per position (NB201: `none`, which costs
    /// nothing; FBNet: `skip`) makes weights mean "extra cost over the cheapest choice".
    fn reference_features(&self) -> Vec<usize> {
        Vec::new()
    }

    /// An architecture minimising `encode(arch) . weights` over the whole space
    /// (`weights.len() == num_features()`).
    ///
    /// Why: a latency predictor must be positive for *every* architecture a search may visit,
    /// not only for the measured ones. Spaces hold up to 10^20 architectures, so the minimum
    /// of an additive model is found from the structure of the encoding (one choice per
    /// position; depths and resolution for the elastic spaces), exactly, not by sampling.
    fn argmin_additive(&self, weights: &[f64]) -> Arch;

    /// `min over the space of encode(arch) . weights`: the value at
    /// [`argmin_additive`](SearchSpace::argmin_additive), computed as a prediction computes it.
    fn min_additive(&self, weights: &[f64]) -> f64 {
        crate::stats::dot(&self.encode(&self.argmin_additive(weights)), weights)
    }

    /// `max over the space of encode(arch) . weights` (the minimum of the negated weights).
    fn max_additive(&self, weights: &[f64]) -> f64 {
        let negated: Vec<f64> = weights.iter().map(|w| -w).collect();
        -self.min_additive(&negated)
    }

    /// Whether a feature kind costs about the same wherever it sits, so that per-kind
    /// corrections and op counts are meaningful. True for NB201, whose one cell is repeated
    /// through the network; false for FBNet and OFA, whose layers differ in resolution and
    /// width (measured: per-kind forms lose 0.1 Spearman there).
    fn kinds_share_cost(&self) -> bool {
        false
    }

    /// Parse with an origin for the error message.
    fn parse_at(&self, s: &str, origin: Origin) -> Result<Arch> {
        self.parse_str(s.trim()).map_err(|reason| Error::BadArch {
            origin,
            space: self.id().name(),
            value: s.to_string(),
            reason,
        })
    }

    /// Parse an architecture given directly (a command-line argument).
    fn parse(&self, s: &str) -> Result<Arch> {
        self.parse_at(s, Origin::Argument)
    }

    /// The encoding of `arch` as a new vector.
    fn encode(&self, arch: &Arch) -> Vec<f64> {
        let mut out = vec![0.0; self.num_features()];
        self.encode_into(arch, &mut out);
        out
    }

    /// Draw one architecture uniformly over the genes (then canonicalise).
    ///
    /// For NB201 and FBNet this is uniform over architectures; for OFA it is OFA's own sampler
    /// (uniform resolution, depth per stage, kernel and expand per block).
    fn sample(&self, rng: &mut SeededRng) -> Arch {
        let mut genes: Vec<u8> = self.gene_cardinalities().iter().map(|&k| rng.random_range(0..k)).collect();
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }

    /// Change one gene that matters to a different value (evolutionary mutation).
    fn mutate(&self, arch: &Arch, rng: &mut SeededRng) -> Arch {
        let card = self.gene_cardinalities();
        for _ in 0..64 {
            let mut genes = arch.genes().to_vec();
            let g = rng.random_range(0..genes.len());
            if card[g] < 2 {
                continue;
            }
            let shift = rng.random_range(1..card[g]);
            genes[g] = (genes[g] + shift) % card[g];
            self.canonicalize(&mut genes);
            let child = Arch::from_genes(genes);
            if &child != arch {
                return child;
            }
        }
        self.sample(rng)
    }

    /// Uniform crossover of two parents, gene by gene.
    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut SeededRng) -> Arch {
        let mut genes: Vec<u8> =
            a.genes().iter().zip(b.genes()).map(|(&x, &y)| if rng.random_bool(0.5) { x } else { y }).collect();
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }
}

/// Genes of a one-hot encoding with `width` choices per position (gene = choice) that minimise
/// `encoding . weights`: the cheapest choice of every position, which are independent.
pub(crate) fn argmin_per_position(weights: &[f64], width: usize) -> Vec<u8> {
    weights.chunks(width).map(|c| argmin(c) as u8).collect()
}

/// Index of the smallest value (the first one on ties; 0 for an empty slice).
pub(crate) fn argmin(values: &[f64]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] < values[best] { i } else { best })
}

/// The encodings of many architectures as one row-major matrix (`rows x num_features`).
pub fn encode_all(space: &dyn SearchSpace, archs: &[Arch]) -> Vec<f64> {
    let d = space.num_features();
    let mut out = vec![0.0; archs.len() * d];
    for (arch, row) in archs.iter().zip(out.chunks_mut(d.max(1))) {
        space.encode_into(arch, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_names_round_trip() {
        for id in SpaceId::ALL {
            assert_eq!(id.name().parse::<SpaceId>().unwrap(), id);
            assert_eq!(id.space().id(), id);
        }
        assert!("resnet".parse::<SpaceId>().is_err());
    }

    #[test]
    fn sampling_is_seeded_and_canonical() {
        for id in SpaceId::ALL {
            let s = id.space();
            let a: Vec<Arch> = (0..20).scan(seeded_rng(7), |r, _| Some(s.sample(r))).collect();
            let b: Vec<Arch> = (0..20).scan(seeded_rng(7), |r, _| Some(s.sample(r))).collect();
            assert_eq!(a, b);
            for arch in &a {
                let text = s.format(arch);
                assert_eq!(&s.parse(&text).unwrap(), arch, "{text}");
                let enc = s.encode(arch);
                assert_eq!(enc.len(), s.num_features());
                assert!(enc.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn mutation_changes_the_network_and_crossover_mixes_parents() {
        for id in SpaceId::ALL {
            let s = id.space();
            let mut rng = seeded_rng(3);
            for _ in 0..50 {
                let a = s.sample(&mut rng);
                let b = s.sample(&mut rng);
                let m = s.mutate(&a, &mut rng);
                assert_ne!(m, a);
                let c = s.crossover(&a, &b, &mut rng);
                assert_eq!(s.parse(&s.format(&c)).unwrap(), c);
            }
        }
    }

    /// Random weights with both signs; some draws shifted positive or negative so that both
    /// resolution branches of the elastic spaces are taken.
    fn random_weights(d: usize, rng: &mut SeededRng, draw: usize) -> Vec<f64> {
        let shift = [0.0, 0.8, -0.8][draw % 3];
        (0..d).map(|_| rng.random_range(-1.0..1.0) + shift).collect()
    }

    #[test]
    fn min_additive_is_attained_and_no_architecture_is_lower() {
        let mut rng = seeded_rng(11);
        for id in SpaceId::ALL {
            let s = id.space();
            let all = s.enumerate();
            for draw in 0..12 {
                let w = random_weights(s.num_features(), &mut rng, draw);
                let best = s.argmin_additive(&w);
                let min = s.min_additive(&w);
                assert_eq!(s.parse(&s.format(&best)).unwrap(), best, "{id}: argmin is canonical");
                assert_eq!(min, crate::stats::dot(&s.encode(&best), &w));
                let tol = 1e-12 * (1.0 + min.abs());
                // Brute force where the space is small, else random architectures and every
                // single-gene change of the minimiser (none may be lower).
                let others: Vec<Arch> = match &all {
                    Some(all) => all.clone(),
                    None => {
                        let mut v: Vec<Arch> = (0..400).map(|_| s.sample(&mut rng)).collect();
                        v.extend((0..200).map(|_| s.mutate(&best, &mut rng)));
                        v
                    }
                };
                for a in &others {
                    let v = crate::stats::dot(&s.encode(a), &w);
                    assert!(v >= min - tol, "{id}: {} gives {v} < min {min}", s.format(a));
                }
                if all.is_some() {
                    let brute =
                        others.iter().map(|a| crate::stats::dot(&s.encode(a), &w)).fold(f64::INFINITY, f64::min);
                    assert!((brute - min).abs() <= tol, "{id}: brute force {brute} vs {min}");
                }
                let max = s.max_additive(&w);
                assert!(others.iter().all(|a| crate::stats::dot(&s.encode(a), &w) <= max + tol), "{id}: max");
            }
        }
    }

    #[test]
    fn feature_groups_are_disjoint_and_in_range() {
        for id in SpaceId::ALL {
            let s = id.space();
            let mut seen = vec![false; s.num_features()];
            for g in s.feature_groups() {
                for &f in &g.features {
                    assert!(!seen[f], "{id}: feature {f} in two groups");
                    seen[f] = true;
                }
            }
            assert_eq!(s.feature_names().len(), s.num_features());
        }
    }
}
