//! Once-for-All MobileNetV3 space.

use super::{Arch, FeatureGroup, SearchSpace, SpaceId};

/// Input resolutions: 128, 132, ..., 224.
pub const OFA_RESOLUTIONS: std::ops::RangeInclusive<u32> = 128..=224;
/// Blocks per stage.
pub const OFA_DEPTHS: [u8; 3] = [2, 3, 4];
/// Depthwise kernel sizes.
pub const OFA_KERNELS: [u8; 3] = [3, 5, 7];
/// Inverted-bottleneck expand ratios.
pub const OFA_EXPANDS: [u8; 3] = [3, 4, 6];
/// Elastic stages.
pub const OFA_STAGES: usize = 5;
/// Block slots per stage (the maximum depth).
pub const OFA_SLOTS: usize = 4;

const N_RES: u8 = 25;
const CARD: [u8; 1 + OFA_STAGES + 2 * OFA_STAGES * OFA_SLOTS] = {
    let mut c = [3u8; 1 + OFA_STAGES + 2 * OFA_STAGES * OFA_SLOTS];
    c[0] = N_RES;
    c
};
const K0: usize = 1 + OFA_STAGES;
const E0: usize = K0 + OFA_STAGES * OFA_SLOTS;

/// Once-for-All MobileNetV3: resolution, 5 stages of 2-4 blocks, each block with its own kernel
/// size and expand ratio.
///
/// **String**: `r<res>_k<stage1>-<stage2>-..-<stage5>_e<stage1>-..-<stage5>`, where each stage
/// lists one digit per *active* block (its kernel size, resp. expand ratio), so the stage depth is
/// the number of digits. Example: `r204_k75-55-77-57-573_e64-46-63-43-336` is resolution 204,
/// depths 2,2,2,2,3. Unused slots are not part of the network and not part of the string.
///
/// **Encoding** (121 features): per block slot (stage-major, 20 slots) a one-hot kernel size (3)
/// and a one-hot expand ratio (3), set only for active slots and multiplied by `(res/224)^2`
/// because a block's work grows with the number of pixels; then one feature `(res/224)^2` for the
/// fixed stem and head.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfaMbv3;

impl OfaMbv3 {
    /// Resolution in pixels of an architecture.
    pub fn resolution(arch: &Arch) -> u32 {
        128 + 4 * arch.genes()[0] as u32
    }

    /// Depth of each stage.
    pub fn depths(arch: &Arch) -> [u8; OFA_STAGES] {
        std::array::from_fn(|s| OFA_DEPTHS[arch.genes()[1 + s] as usize])
    }

    /// Build from explicit values (as in the bundled table: all 20 slots given, unused ignored).
    pub fn from_parts(
        resolution: u32,
        depths: &[u8],
        kernels: &[u8],
        expands: &[u8],
    ) -> Result<Arch, String> {
        if !OFA_RESOLUTIONS.contains(&resolution) || resolution % 4 != 0 {
            return Err(format!("resolution {resolution} is not one of 128, 132, ..., 224"));
        }
        if depths.len() != OFA_STAGES {
            return Err(format!("expected {OFA_STAGES} stage depths, found {}", depths.len()));
        }
        let n = OFA_STAGES * OFA_SLOTS;
        if kernels.len() != n || expands.len() != n {
            return Err(format!("expected {n} kernel sizes and {n} expand ratios"));
        }
        let mut genes = vec![0u8; CARD.len()];
        genes[0] = ((resolution - 128) / 4) as u8;
        for (s, &d) in depths.iter().enumerate() {
            genes[1 + s] = pos(&OFA_DEPTHS, d, "depth")?;
        }
        for i in 0..n {
            genes[K0 + i] = pos(&OFA_KERNELS, kernels[i], "kernel size")?;
            genes[E0 + i] = pos(&OFA_EXPANDS, expands[i], "expand ratio")?;
        }
        OfaMbv3.canonicalize(&mut genes);
        Ok(Arch::from_genes(genes))
    }
}

fn pos(choices: &[u8], v: u8, what: &str) -> Result<u8, String> {
    choices
        .iter()
        .position(|&c| c == v)
        .map(|p| p as u8)
        .ok_or_else(|| format!("{what} {v} is not one of {choices:?}"))
}

fn digits(part: &str, what: &str, choices: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let stages: Vec<&str> = part.split('-').collect();
    if stages.len() != OFA_STAGES {
        return Err(format!("{what}: expected {OFA_STAGES} '-'-separated stages, found {}", stages.len()));
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

impl SearchSpace for OfaMbv3 {
    fn id(&self) -> SpaceId {
        SpaceId::OfaMbv3
    }

    fn gene_cardinalities(&self) -> &[u8] {
        &CARD
    }

    fn parse_str(&self, s: &str) -> Result<Arch, String> {
        let parts: Vec<&str> = s.split('_').collect();
        let [r, k, e] = parts.as_slice() else {
            return Err("expected 'r<res>_k<kernels>_e<expands>'".into());
        };
        let res: u32 = r
            .strip_prefix('r')
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("'{r}' is not 'r<resolution>'"))?;
        let k = digits(k.strip_prefix('k').ok_or("kernel part must start with 'k'")?, "kernel size", &OFA_KERNELS)?;
        let e = digits(e.strip_prefix('e').ok_or("expand part must start with 'e'")?, "expand ratio", &OFA_EXPANDS)?;
        if !OFA_RESOLUTIONS.contains(&res) || res % 4 != 0 {
            return Err(format!("resolution {res} is not one of 128, 132, ..., 224"));
        }
        let mut genes = vec![0u8; CARD.len()];
        genes[0] = ((res - 128) / 4) as u8;
        for s in 0..OFA_STAGES {
            if k[s].len() != e[s].len() {
                return Err(format!("stage {}: {} kernel sizes but {} expand ratios", s + 1, k[s].len(), e[s].len()));
            }
            genes[1 + s] = (k[s].len() - 2) as u8;
            for j in 0..k[s].len() {
                genes[K0 + s * OFA_SLOTS + j] = k[s][j];
                genes[E0 + s * OFA_SLOTS + j] = e[s][j];
            }
        }
        Ok(Arch::from_genes(genes))
    }

    fn format(&self, arch: &Arch) -> String {
        let g = arch.genes();
        let depths = Self::depths(arch);
        let stage = |base: usize, table: &[u8; 3]| {
            (0..OFA_STAGES)
                .map(|s| {
                    (0..depths[s] as usize)
                        .map(|j| char::from(b'0' + table[g[base + s * OFA_SLOTS + j] as usize]))
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        };
        format!("r{}_k{}_e{}", Self::resolution(arch), stage(K0, &OFA_KERNELS), stage(E0, &OFA_EXPANDS))
    }

    fn canonicalize(&self, genes: &mut [u8]) {
        for s in 0..OFA_STAGES {
            let depth = OFA_DEPTHS[genes[1 + s] as usize] as usize;
            for j in depth..OFA_SLOTS {
                genes[K0 + s * OFA_SLOTS + j] = 0;
                genes[E0 + s * OFA_SLOTS + j] = 0;
            }
        }
    }

    fn mutate(&self, arch: &Arch, rng: &mut super::SeededRng) -> Arch {
        // Only genes of active slots (and resolution/depths) matter: mutate among those.
        use rand::Rng;
        let depths = Self::depths(arch);
        let mut live: Vec<usize> = (0..K0).collect();
        for s in 0..OFA_STAGES {
            for j in 0..depths[s] as usize {
                live.push(K0 + s * OFA_SLOTS + j);
                live.push(E0 + s * OFA_SLOTS + j);
            }
        }
        let mut genes = arch.genes().to_vec();
        let g = live[rng.random_range(0..live.len())];
        genes[g] = (genes[g] + rng.random_range(1..CARD[g])) % CARD[g];
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }

    fn num_features(&self) -> usize {
        OFA_STAGES * OFA_SLOTS * 6 + 1
    }

    fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.num_features());
        for s in 0..OFA_STAGES {
            for j in 0..OFA_SLOTS {
                for k in OFA_KERNELS {
                    names.push(format!("s{}b{}:k{k}", s + 1, j + 1));
                }
                for e in OFA_EXPANDS {
                    names.push(format!("s{}b{}:e{e}", s + 1, j + 1));
                }
            }
        }
        names.push("resolution^2".into());
        names
    }

    fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        let g = arch.genes();
        let scale = (Self::resolution(arch) as f64 / 224.0).powi(2);
        let depths = Self::depths(arch);
        for s in 0..OFA_STAGES {
            for j in 0..depths[s] as usize {
                let slot = s * OFA_SLOTS + j;
                out[6 * slot + g[K0 + slot] as usize] = scale;
                out[6 * slot + 3 + g[E0 + slot] as usize] = scale;
            }
        }
        out[OFA_STAGES * OFA_SLOTS * 6] = scale;
    }

    fn reference_features(&self) -> Vec<usize> {
        // Within an active slot the kernel one-hots and the expand one-hots both sum to the
        // slot's scale: pin expand 3 so the expand weights are costs relative to it.
        (0..OFA_STAGES * OFA_SLOTS).map(|s| 6 * s + 3).collect()
    }

    fn feature_groups(&self) -> Vec<FeatureGroup> {
        let slots = OFA_STAGES * OFA_SLOTS;
        let mut groups: Vec<FeatureGroup> = OFA_KERNELS
            .iter()
            .enumerate()
            .map(|(i, k)| FeatureGroup { name: format!("k{k}"), features: (0..slots).map(|s| 6 * s + i).collect() })
            .collect();
        groups.extend(OFA_EXPANDS.iter().enumerate().map(|(i, e)| FeatureGroup {
            name: format!("e{e}"),
            features: (0..slots).map(|s| 6 * s + 3 + i).collect(),
        }));
        groups.push(FeatureGroup { name: "resolution".into(), features: vec![slots * 6] });
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_round_trip_and_parts() {
        let s = "r204_k75-55-77-57-573_e64-46-63-43-336";
        let a = OfaMbv3.parse(s).unwrap();
        assert_eq!(OfaMbv3.format(&a), s);
        assert_eq!(OfaMbv3::resolution(&a), 204);
        assert_eq!(OfaMbv3::depths(&a), [2, 2, 2, 2, 3]);
        let b = OfaMbv3::from_parts(
            204,
            &[2, 2, 2, 2, 3],
            &[7, 5, 5, 5, 5, 5, 7, 7, 7, 7, 5, 7, 5, 7, 3, 3, 5, 7, 3, 3],
            &[6, 4, 4, 6, 4, 6, 3, 4, 6, 3, 3, 3, 4, 3, 3, 6, 3, 3, 6, 3],
        )
        .unwrap();
        assert_eq!(OfaMbv3.format(&b), s);
        assert_eq!(a, b, "unused slots must not distinguish architectures");
        // 2+2+2+2+3 = 11 active blocks, 2 features each, plus the resolution feature.
        let enc = OfaMbv3.encode(&a);
        let scale = (204.0f64 / 224.0).powi(2);
        assert!((enc.iter().sum::<f64>() - 23.0 * scale).abs() < 1e-12);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "r204_k75-55-77-57_e64-46-63-43",
            "r203_k75-55-77-57-573_e64-46-63-43-336",
            "r204_k75-55-77-57-573_e64-46-63-43-33",
            "r204_k75-55-77-57-593_e64-46-63-43-336",
            "r204_k7-55-77-57-573_e6-46-63-43-336",
            "204_k75-55-77-57-573_e64-46-63-43-336",
        ] {
            assert!(OfaMbv3.parse(bad).is_err(), "{bad}");
        }
    }
}
