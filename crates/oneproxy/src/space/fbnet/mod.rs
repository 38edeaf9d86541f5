//! FBNet space (HW-NAS-Bench variant for CIFAR-100): the genotype and encoding (here), the
//! network ([`network`]) and the bundled dataset ([`DATASET`]).

pub mod network;

use super::{embed, Arch, Dataset, Family, FeatureGroup, SearchSpace, SpaceId};

/// The nine block choices of a searchable FBNet layer, in gene order:
/// kernel size, expansion ratio and `g2` for a grouped 1x1 convolution with 2 groups.
pub const FBNET_CHOICES: [&str; 9] =
    ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"];

/// Number of searchable layers.
pub const FBNET_LAYERS: usize = 22;

const CARD: [u8; FBNET_LAYERS] = [9; FBNET_LAYERS];

/// FBNet: 22 searchable layers, one of [`FBNET_CHOICES`] each (9^22 architectures).
///
/// **String**: the 22 choices joined by `-`, first layer first.
///
/// **Encoding** (198 features): one-hot choice per layer, layer-major: feature `9*l + c`.
/// Layers differ in resolution and width, so the same block costs differently per layer and
/// gets its own weight.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fbnet;

impl SearchSpace for Fbnet {
    fn id(&self) -> SpaceId {
        SpaceId::Fbnet
    }

    fn gene_cardinalities(&self) -> &[u8] {
        &CARD
    }

    fn parse_str(&self, s: &str) -> Result<Arch, String> {
        let parts: Vec<&str> = s.split('-').collect();
        if parts.len() != FBNET_LAYERS {
            return Err(format!("expected {FBNET_LAYERS} '-'-separated layers, found {}", parts.len()));
        }
        let genes = parts
            .iter()
            .enumerate()
            .map(|(l, p)| {
                FBNET_CHOICES.iter().position(|c| c == p).map(|c| c as u8).ok_or_else(|| {
                    format!("layer {}: unknown block '{p}' (choices: {})", l + 1, FBNET_CHOICES.join(", "))
                })
            })
            .collect::<Result<Vec<u8>, String>>()?;
        Ok(Arch::from_genes(genes))
    }

    fn format(&self, arch: &Arch) -> String {
        arch.genes().iter().map(|&g| FBNET_CHOICES[g as usize]).collect::<Vec<_>>().join("-")
    }

    fn num_features(&self) -> usize {
        FBNET_LAYERS * 9
    }

    fn feature_names(&self) -> Vec<String> {
        (0..FBNET_LAYERS).flat_map(|l| FBNET_CHOICES.iter().map(move |c| format!("layer{}:{c}", l + 1))).collect()
    }

    fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        for (l, &c) in arch.genes().iter().enumerate() {
            out[9 * l + c as usize] = 1.0;
        }
    }

    fn reference_features(&self) -> Vec<usize> {
        (0..FBNET_LAYERS).map(|l| 9 * l + 8).collect()
    }

    fn argmin_additive(&self, weights: &[f64]) -> Arch {
        Arch::from_genes(super::argmin_per_position(weights, FBNET_CHOICES.len()))
    }

    fn feature_groups(&self) -> Vec<FeatureGroup> {
        FBNET_CHOICES
            .iter()
            .enumerate()
            .map(|(c, name)| FeatureGroup {
                name: name.to_string(),
                features: (0..FBNET_LAYERS).map(|l| 9 * l + c).collect(),
            })
            .collect()
    }
}

/// The bundled FBNet data: 5000 architectures with their HW-NAS-Bench latencies.
pub const DATASET: Dataset = Dataset {
    archs: embed!("fbnet/archs.csv"),
    arch_columns: 1,
    accuracy: &[],
    latency: &[embed!("fbnet/latency.csv")],
    simulated: &["eyeriss", "fpga"],
    proxy_ranking: None,
    reference_rows: &[],
};

impl Family for Fbnet {
    fn network(&self, arch: &Arch) -> crate::network::Network {
        network::build(arch)
    }

    fn dataset(&self) -> Option<&'static Dataset> {
        Some(&DATASET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let s = "k5_e6-skip-k3_e1_g2-skip-k5_e1-skip-skip-skip-k5_e6-k5_e1-k3_e1_g2-k5_e1-k5_e6-k3_e6-k3_e3-k5_e6-k3_e6-k3_e3-k5_e1-k3_e3-k5_e1-k5_e1_g2";
        let a = Fbnet.parse(s).unwrap();
        assert_eq!(Fbnet.format(&a), s);
        assert_eq!(Fbnet.encode(&a).iter().sum::<f64>(), 22.0);
        assert!(Fbnet.parse("k5_e6-skip").is_err());
        assert!(Fbnet.parse(&s.replace("k5_e6", "k9_e9")).is_err());
    }
}
