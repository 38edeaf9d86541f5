//! Elastic MBConv spaces (Once-for-All style): one implementation shared by OFA-MobileNetV3,
//! MobileNetV2 and ProxylessNAS, which differ only in their expand ratios and their macro
//! networks ([`network`]). The three spaces themselves are declared in `spaces.rs`.
//!
//! **Genes** (46): resolution index (128, 132, ..., 224), then the depth index of each of the 5
//! stages (2, 3 or 4 blocks), then a kernel-size index per block slot (5 stages x 4 slots,
//! stage-major), then an expand-ratio index per block slot. Slots beyond a stage's depth are not
//! part of the network; [`SearchSpace::canonicalize`] zeroes their genes.
//!
//! **String**: `r<res>_k<stage1>-<stage2>-..-<stage5>_e<stage1>-..-<stage5>`, where each stage
//! lists one digit per *active* block (its kernel size, resp. expand ratio), so the stage depth is
//! the number of digits. Example: `r204_k75-55-77-57-573_e64-46-63-43-336` is resolution 204,
//! depths 2,2,2,2,3.
//!
//! **Encoding** (`20 x (3 + E) + 1` features, `E` the number of expand ratios): per block slot
//! (stage-major, 20 slots) a one-hot kernel size and a one-hot expand ratio, set only for active
//! slots and multiplied by `(res/224)^2` because a block's work grows with the number of pixels;
//! then one feature `(res/224)^2` for the fixed stem and head.

pub mod network;
mod spaces;

pub use spaces::{Mbv2, OfaMbv3, Proxyless, MBV2_EXPANDS, OFA_EXPANDS, PROXYLESS_EXPANDS};

use super::{Arch, FeatureGroup, SpaceId};

/// Input resolutions: 128, 132, ..., 224.
pub const ELASTIC_RESOLUTIONS: std::ops::RangeInclusive<u32> = 128..=224;
/// Blocks per stage.
pub const ELASTIC_DEPTHS: [u8; 3] = [2, 3, 4];
/// Depthwise kernel sizes.
pub const ELASTIC_KERNELS: [u8; 3] = [3, 5, 7];
/// Elastic stages.
pub const ELASTIC_STAGES: usize = 5;
/// Block slots per stage (the maximum depth).
pub const ELASTIC_SLOTS: usize = 4;

const N_RES: u8 = 25;
const SLOTS: usize = ELASTIC_STAGES * ELASTIC_SLOTS;
/// Number of genes of every elastic space.
pub const ELASTIC_GENES: usize = 1 + ELASTIC_STAGES + 2 * SLOTS;
const K0: usize = 1 + ELASTIC_STAGES;
const E0: usize = K0 + SLOTS;

/// The gene cardinalities of an elastic space with `n_expand` expand ratios.
pub const fn cardinalities(n_expand: u8) -> [u8; ELASTIC_GENES] {
    let mut c = [3u8; ELASTIC_GENES];
    c[0] = N_RES;
    let mut i = E0;
    while i < ELASTIC_GENES {
        c[i] = n_expand;
        i += 1;
    }
    c
}

/// What distinguishes one elastic space from another.
#[derive(Debug)]
pub struct ElasticSpec {
    /// The space.
    pub id: SpaceId,
    /// Expand ratios, in gene order.
    pub expands: &'static [u8],
    /// Gene cardinalities (from [`cardinalities`]).
    pub card: &'static [u8; ELASTIC_GENES],
    /// The macro network the blocks are placed in.
    pub net: &'static network::MacroNet,
}

fn pos(choices: &[u8], v: u8, what: &str) -> Result<u8, String> {
    choices.iter().position(|&c| c == v).map(|p| p as u8).ok_or_else(|| format!("{what} {v} is not one of {choices:?}"))
}

fn digits(part: &str, what: &str, choices: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let stages: Vec<&str> = part.split('-').collect();
    if stages.len() != ELASTIC_STAGES {
        return Err(format!("{what}: expected {ELASTIC_STAGES} '-'-separated stages, found {}", stages.len()));
    }
    stages
        .iter()
        .enumerate()
        .map(|(s, st)| {
            if !(2..=4).contains(&st.len()) {
                return Err(format!("{what}: stage {} has {} blocks, must be 2 to 4", s + 1, st.len()));
            }
            st.chars()
                .map(|c| {
                    let v = c.to_digit(10).ok_or_else(|| format!("{what}: '{c}' is not a digit"))?;
                    pos(choices, v as u8, what)
                })
                .collect()
        })
        .collect()
}

fn resolution_index(res: u32) -> Result<u8, String> {
    if !ELASTIC_RESOLUTIONS.contains(&res) || !res.is_multiple_of(4) {
        return Err(format!("resolution {res} is not one of 128, 132, ..., 224"));
    }
    Ok(((res - 128) / 4) as u8)
}

impl ElasticSpec {
    /// Resolution in pixels of an architecture.
    pub fn resolution(arch: &Arch) -> u32 {
        128 + 4 * arch.genes()[0] as u32
    }

    /// Depth of each stage.
    pub fn depths(arch: &Arch) -> [u8; ELASTIC_STAGES] {
        std::array::from_fn(|s| ELASTIC_DEPTHS[arch.genes()[1 + s] as usize])
    }

    /// The active blocks of each stage as (kernel size, expand ratio).
    pub fn blocks(&self, arch: &Arch) -> Vec<Vec<(u8, u8)>> {
        let g = arch.genes();
        Self::depths(arch)
            .iter()
            .enumerate()
            .map(|(s, &d)| {
                (0..d as usize)
                    .map(|j| {
                        let slot = s * ELASTIC_SLOTS + j;
                        (ELASTIC_KERNELS[g[K0 + slot] as usize], self.expands[g[E0 + slot] as usize])
                    })
                    .collect()
            })
            .collect()
    }

    /// Build from explicit values (all 20 slots given, unused ones ignored).
    pub fn from_parts(&self, resolution: u32, depths: &[u8], kernels: &[u8], expands: &[u8]) -> Result<Arch, String> {
        let mut genes = vec![0u8; ELASTIC_GENES];
        genes[0] = resolution_index(resolution)?;
        if depths.len() != ELASTIC_STAGES {
            return Err(format!("expected {ELASTIC_STAGES} stage depths, found {}", depths.len()));
        }
        if kernels.len() != SLOTS || expands.len() != SLOTS {
            return Err(format!("expected {SLOTS} kernel sizes and {SLOTS} expand ratios"));
        }
        for (s, &d) in depths.iter().enumerate() {
            genes[1 + s] = pos(&ELASTIC_DEPTHS, d, "depth")?;
        }
        for i in 0..SLOTS {
            genes[K0 + i] = pos(&ELASTIC_KERNELS, kernels[i], "kernel size")?;
            genes[E0 + i] = pos(self.expands, expands[i], "expand ratio")?;
        }
        self.canonicalize(&mut genes);
        Ok(Arch::from_genes(genes))
    }

    /// An architecture from the four fields of a bundled row: resolution, then the depths,
    /// kernels and expand ratios as `;`-separated numbers (all 20 slots).
    pub fn parse_bundled(&self, fields: &[&str]) -> Result<Arch, String> {
        let [res, depths, kernels, expands] = fields else {
            return Err(format!(
                "expected 4 architecture fields (resolution, depths, kernels, expands), found {}",
                fields.len()
            ));
        };
        let number = |v: &str, what: &str| v.trim().parse::<u32>().map_err(|_| format!("{what} '{v}' is not a number"));
        let list = |s: &str, what: &str| -> Result<Vec<u8>, String> {
            s.split(';')
                .map(|v| {
                    number(v, what).and_then(|n| u8::try_from(n).map_err(|_| format!("{what} {n} is out of range")))
                })
                .collect()
        };
        self.from_parts(
            number(res, "resolution")?,
            &list(depths, "depth")?,
            &list(kernels, "kernel")?,
            &list(expands, "expand ratio")?,
        )
    }

    /// [`SearchSpace::parse_str`](super::SearchSpace::parse_str).
    pub fn parse_str(&self, s: &str) -> Result<Arch, String> {
        let parts: Vec<&str> = s.split('_').collect();
        let [r, k, e] = parts.as_slice() else {
            return Err("expected 'r<res>_k<kernels>_e<expands>'".into());
        };
        let res: u32 =
            r.strip_prefix('r').and_then(|v| v.parse().ok()).ok_or_else(|| format!("'{r}' is not 'r<resolution>'"))?;
        let k = digits(k.strip_prefix('k').ok_or("kernel part must start with 'k'")?, "kernel size", &ELASTIC_KERNELS)?;
        let e = digits(e.strip_prefix('e').ok_or("expand part must start with 'e'")?, "expand ratio", self.expands)?;
        let mut genes = vec![0u8; ELASTIC_GENES];
        genes[0] = resolution_index(res)?;
        for s in 0..ELASTIC_STAGES {
            if k[s].len() != e[s].len() {
                return Err(format!("stage {}: {} kernel sizes but {} expand ratios", s + 1, k[s].len(), e[s].len()));
            }
            genes[1 + s] = (k[s].len() - 2) as u8;
            for j in 0..k[s].len() {
                genes[K0 + s * ELASTIC_SLOTS + j] = k[s][j];
                genes[E0 + s * ELASTIC_SLOTS + j] = e[s][j];
            }
        }
        Ok(Arch::from_genes(genes))
    }

    /// [`SearchSpace::format`](super::SearchSpace::format).
    pub fn format(&self, arch: &Arch) -> String {
        let blocks = self.blocks(arch);
        let part = |pick: fn(&(u8, u8)) -> u8| {
            blocks
                .iter()
                .map(|st| st.iter().map(|b| char::from(b'0' + pick(b))).collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        };
        format!("r{}_k{}_e{}", Self::resolution(arch), part(|b| b.0), part(|b| b.1))
    }

    /// [`Family::count_extremes`](super::Family::count_extremes): all genes first (resolution
    /// 128, two blocks per stage, kernel 3, the smallest expand ratio) and all genes last. Every
    /// count grows with the resolution, the depth and the expand ratio (a block adds kernels,
    /// and its elements and multiply-adds grow with its width and its pixels); the kernel size
    /// changes multiply-adds only (padding keeps the shapes), and they grow with it.
    pub fn count_extremes(&self) -> [Arch; 2] {
        let mut large: Vec<u8> = self.card.iter().map(|c| c - 1).collect();
        self.canonicalize(&mut large);
        [Arch::from_genes(vec![0; ELASTIC_GENES]), Arch::from_genes(large)]
    }

    /// [`SearchSpace::canonicalize`](super::SearchSpace::canonicalize).
    pub fn canonicalize(&self, genes: &mut [u8]) {
        for s in 0..ELASTIC_STAGES {
            let depth = ELASTIC_DEPTHS[genes[1 + s] as usize] as usize;
            for j in depth..ELASTIC_SLOTS {
                genes[K0 + s * ELASTIC_SLOTS + j] = 0;
                genes[E0 + s * ELASTIC_SLOTS + j] = 0;
            }
        }
    }

    /// [`SearchSpace::mutate`](super::SearchSpace::mutate): only genes of active slots (and
    /// resolution and depths) matter, so mutate among those.
    pub fn mutate(&self, arch: &Arch, rng: &mut super::SeededRng) -> Arch {
        use rand::Rng;
        let depths = Self::depths(arch);
        let mut live: Vec<usize> = (0..K0).collect();
        for (s, &depth) in depths.iter().enumerate() {
            for j in 0..depth as usize {
                live.push(K0 + s * ELASTIC_SLOTS + j);
                live.push(E0 + s * ELASTIC_SLOTS + j);
            }
        }
        let mut genes = arch.genes().to_vec();
        let g = live[rng.random_range(0..live.len())];
        genes[g] = (genes[g] + rng.random_range(1..self.card[g])) % self.card[g];
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }

    fn slot_width(&self) -> usize {
        ELASTIC_KERNELS.len() + self.expands.len()
    }

    /// [`SearchSpace::num_features`](super::SearchSpace::num_features).
    pub fn num_features(&self) -> usize {
        SLOTS * self.slot_width() + 1
    }

    /// [`SearchSpace::feature_names`](super::SearchSpace::feature_names).
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.num_features());
        for s in 0..ELASTIC_STAGES {
            for j in 0..ELASTIC_SLOTS {
                for k in ELASTIC_KERNELS {
                    names.push(format!("s{}b{}:k{k}", s + 1, j + 1));
                }
                for e in self.expands {
                    names.push(format!("s{}b{}:e{e}", s + 1, j + 1));
                }
            }
        }
        names.push("resolution^2".into());
        names
    }

    /// [`SearchSpace::encode_into`](super::SearchSpace::encode_into).
    pub fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        let g = arch.genes();
        let w = self.slot_width();
        let scale = (Self::resolution(arch) as f64 / 224.0).powi(2);
        let depths = Self::depths(arch);
        for (s, &depth) in depths.iter().enumerate() {
            for j in 0..depth as usize {
                let slot = s * ELASTIC_SLOTS + j;
                out[w * slot + g[K0 + slot] as usize] = scale;
                out[w * slot + 3 + g[E0 + slot] as usize] = scale;
            }
        }
        out[SLOTS * w] = scale;
    }

    /// Genes minimising `encode(arch) . weights`. Every feature of an architecture carries the
    /// same factor `s = (res/224)^2 > 0`, so its value is `s * S`, where `S` is the stem-and-head
    /// weight plus, per stage, the cheapest prefix of slot costs among the allowed depths (an
    /// active slot costs its cheapest kernel plus its cheapest expand ratio). `S` does not
    /// depend on `s`: minimise it first, then take the smallest resolution if `S >= 0` and the
    /// largest otherwise.
    pub fn argmin_additive(&self, weights: &[f64]) -> Arch {
        let w = self.slot_width();
        let nk = ELASTIC_KERNELS.len();
        let mut genes = vec![0u8; ELASTIC_GENES];
        let mut total = weights[SLOTS * w];
        for s in 0..ELASTIC_STAGES {
            let mut prefix = 0.0;
            let mut best = (f64::INFINITY, 0u8);
            for j in 0..ELASTIC_SLOTS {
                let slot = s * ELASTIC_SLOTS + j;
                let f = &weights[w * slot..w * (slot + 1)];
                let (k, e) = (super::argmin(&f[..nk]), super::argmin(&f[nk..]));
                genes[K0 + slot] = k as u8;
                genes[E0 + slot] = e as u8;
                prefix += f[k] + f[nk + e];
                if let Some(d) = ELASTIC_DEPTHS.iter().position(|&d| d as usize == j + 1) {
                    if prefix < best.0 {
                        best = (prefix, d as u8);
                    }
                }
            }
            genes[1 + s] = best.1;
            total += best.0;
        }
        genes[0] = if total >= 0.0 { 0 } else { N_RES - 1 };
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }

    /// [`SearchSpace::reference_features`](super::SearchSpace::reference_features): within an
    /// active slot the kernel one-hots and the expand one-hots both sum to the slot's scale, so
    /// the first expand ratio is pinned and the other expand weights are costs relative to it.
    pub fn reference_features(&self) -> Vec<usize> {
        let w = self.slot_width();
        (0..SLOTS).map(|s| w * s + ELASTIC_KERNELS.len()).collect()
    }

    /// [`SearchSpace::feature_groups`](super::SearchSpace::feature_groups).
    pub fn feature_groups(&self) -> Vec<FeatureGroup> {
        let w = self.slot_width();
        let group =
            |name: String, offset: usize| FeatureGroup { name, features: (0..SLOTS).map(|s| w * s + offset).collect() };
        let mut groups: Vec<FeatureGroup> =
            ELASTIC_KERNELS.iter().enumerate().map(|(i, k)| group(format!("k{k}"), i)).collect();
        groups.extend(self.expands.iter().enumerate().map(|(i, e)| group(format!("e{e}"), 3 + i)));
        groups.push(FeatureGroup { name: "resolution".into(), features: vec![SLOTS * w] });
        groups
    }
}

/// Define a unit-struct elastic space whose [`SearchSpace`](super::SearchSpace) implementation
/// is its [`ElasticSpec`].
macro_rules! elastic_space {
    ($(#[$doc:meta])* $name:ident, $spec:expr, aliases: $aliases:expr, dataset: $dataset:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $name {
            /// What makes this space (expand ratios, cardinalities).
            pub const SPEC: &'static $crate::space::elastic::ElasticSpec = $spec;

            /// Resolution in pixels of an architecture.
            pub fn resolution(arch: &Arch) -> u32 {
                $crate::space::elastic::ElasticSpec::resolution(arch)
            }

            /// Depth of each stage.
            pub fn depths(arch: &Arch) -> [u8; $crate::space::elastic::ELASTIC_STAGES] {
                $crate::space::elastic::ElasticSpec::depths(arch)
            }

            /// Build from explicit values (all 20 slots given, unused ones ignored).
            pub fn from_parts(resolution: u32, depths: &[u8], kernels: &[u8], expands: &[u8]) -> Result<Arch, String> {
                Self::SPEC.from_parts(resolution, depths, kernels, expands)
            }
        }

        impl SearchSpace for $name {
            fn id(&self) -> SpaceId {
                Self::SPEC.id
            }
            fn gene_cardinalities(&self) -> &[u8] {
                Self::SPEC.card
            }
            fn parse_str(&self, s: &str) -> Result<Arch, String> {
                Self::SPEC.parse_str(s)
            }
            fn format(&self, arch: &Arch) -> String {
                Self::SPEC.format(arch)
            }
            fn canonicalize(&self, genes: &mut [u8]) {
                Self::SPEC.canonicalize(genes)
            }
            fn mutate(&self, arch: &Arch, rng: &mut $crate::space::SeededRng) -> Arch {
                Self::SPEC.mutate(arch, rng)
            }
            fn num_features(&self) -> usize {
                Self::SPEC.num_features()
            }
            fn feature_names(&self) -> Vec<String> {
                Self::SPEC.feature_names()
            }
            fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
                Self::SPEC.encode_into(arch, out)
            }
            fn feature_groups(&self) -> Vec<FeatureGroup> {
                Self::SPEC.feature_groups()
            }
            fn reference_features(&self) -> Vec<usize> {
                Self::SPEC.reference_features()
            }
            fn argmin_additive(&self, weights: &[f64]) -> Arch {
                Self::SPEC.argmin_additive(weights)
            }
        }

        impl $crate::space::Family for $name {
            fn aliases(&self) -> &'static [&'static str] {
                $aliases
            }
            fn network(&self, arch: &Arch) -> $crate::network::Network {
                $crate::space::elastic::network::build(Self::SPEC, arch)
            }
            fn dataset(&self) -> Option<&'static $crate::space::Dataset> {
                $dataset
            }
            fn count_extremes(&self) -> Option<[Arch; 2]> {
                Some(Self::SPEC.count_extremes())
            }
            fn parse_bundled(&self, fields: &[&str]) -> Result<Arch, String> {
                Self::SPEC.parse_bundled(fields)
            }
        }
    };
}
pub(crate) use elastic_space;
