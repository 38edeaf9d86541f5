//! NAS-Bench-201 cell space: the genotype and encoding (here), the cell analyses ([`cell`]),
//! the network ([`network`]) and the bundled dataset ([`DATASET`]).

pub mod cell;
pub mod network;

use super::{embed, Arch, Dataset, Family, FeatureGroup, SearchSpace, SpaceId};

/// The five candidate operations of an NB201 edge, in gene order.
pub const NB201_OPS: [&str; 5] = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];

/// The six edges of the cell as (to, from), in the order of the canonical string.
pub const NB201_EDGES: [(u8, u8); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

const CARD: [u8; 6] = [5; 6];

/// NAS-Bench-201: one cell of 4 nodes, an operation on each of its 6 edges (5^6 = 15625).
///
/// **String**: the benchmark's own, `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`: one `+`-separated
/// group per node 1..3, listing the op on each incoming edge `op~source`.
///
/// **Encoding** (30 features): one-hot op per edge, edge-major: feature `5*e + o` is 1 when edge
/// `e` (order of [`NB201_EDGES`]) carries op `o` (order of [`NB201_OPS`]). With the predictor's
/// intercept this is the classic "lookup table" latency model: the cost of a cell is the sum of
/// the costs of its edge ops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nb201;

impl SearchSpace for Nb201 {
    fn id(&self) -> SpaceId {
        SpaceId::Nb201
    }

    fn gene_cardinalities(&self) -> &[u8] {
        &CARD
    }

    fn parse_str(&self, s: &str) -> Result<Arch, String> {
        let nodes: Vec<&str> = s.split('+').collect();
        if nodes.len() != 3 {
            return Err(format!("expected 3 '+'-separated nodes, found {}", nodes.len()));
        }
        let mut genes = Vec::with_capacity(6);
        for (node_idx, node) in nodes.iter().enumerate() {
            let inner = node
                .strip_prefix('|')
                .and_then(|n| n.strip_suffix('|'))
                .ok_or_else(|| format!("node {} '{}' must be enclosed in '|'", node_idx + 1, node))?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != node_idx + 1 {
                return Err(format!(
                    "node {} must have {} incoming edges, found {}",
                    node_idx + 1,
                    node_idx + 1,
                    edges.len()
                ));
            }
            for (src, edge) in edges.iter().enumerate() {
                let (op, from) = edge.split_once('~').ok_or_else(|| format!("edge '{edge}' is not 'op~source'"))?;
                if from != src.to_string() {
                    return Err(format!("edge '{edge}' should come from node {src}"));
                }
                let o = NB201_OPS
                    .iter()
                    .position(|&k| k == op)
                    .ok_or_else(|| format!("unknown op '{op}' (ops: {})", NB201_OPS.join(", ")))?;
                genes.push(o as u8);
            }
        }
        Ok(Arch::from_genes(genes))
    }

    fn format(&self, arch: &Arch) -> String {
        let g = arch.genes();
        let mut s = String::with_capacity(96);
        let mut k = 0;
        for node in 1..=3 {
            if node > 1 {
                s.push('+');
            }
            s.push('|');
            for src in 0..node {
                s.push_str(NB201_OPS[g[k] as usize]);
                s.push('~');
                s.push_str(&src.to_string());
                s.push('|');
                k += 1;
            }
        }
        s
    }

    fn enumerate(&self) -> Option<Vec<Arch>> {
        Some(
            (0..5usize.pow(6))
                .map(|mut i| {
                    let mut g = [0u8; 6];
                    for slot in g.iter_mut().rev() {
                        *slot = (i % 5) as u8;
                        i /= 5;
                    }
                    Arch::from_genes(g.to_vec())
                })
                .collect(),
        )
    }

    fn num_features(&self) -> usize {
        30
    }

    fn feature_names(&self) -> Vec<String> {
        NB201_EDGES.iter().flat_map(|(to, from)| NB201_OPS.iter().map(move |op| format!("{to}<-{from}:{op}"))).collect()
    }

    fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        for (e, &o) in arch.genes().iter().enumerate() {
            out[5 * e + o as usize] = 1.0;
        }
    }

    fn kinds_share_cost(&self) -> bool {
        true
    }

    fn argmin_additive(&self, weights: &[f64]) -> Arch {
        Arch::from_genes(super::argmin_per_position(weights, NB201_OPS.len()))
    }

    fn reference_features(&self) -> Vec<usize> {
        (0..6).map(|e| 5 * e).collect()
    }

    fn feature_groups(&self) -> Vec<FeatureGroup> {
        NB201_OPS
            .iter()
            .enumerate()
            .map(|(o, op)| FeatureGroup { name: op.to_string(), features: (0..6).map(|e| 5 * e + o).collect() })
            .collect()
    }
}

/// The HELP paper's 10 reference ("hardware embedding") architectures of NB201, as bundled
/// row indices. Used by `--sample-set help10`.
pub const HELP10_NB201: [usize; 10] = [11982, 431, 55, 9, 14451, 8636, 9881, 13479, 6196, 1462];

/// The bundled NAS-Bench-201 data: every architecture with its accuracies on three datasets,
/// latencies on the HW-NAS-Bench and HELP devices, and the edge-device subset.
pub const DATASET: Dataset = Dataset {
    archs: embed!("nasbench201/archs.csv"),
    arch_columns: 1,
    accuracy: &["cifar10", "cifar100", "imagenet16-120"],
    latency: &[embed!("nasbench201/latency.csv"), embed!("nasbench201/latency_edge_subset.csv")],
    simulated: &["eyeriss", "fpga"],
    proxy_ranking: Some(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/nasbench201/proxy_ranking.json"))),
    reference_rows: &HELP10_NB201,
};

impl Family for Nb201 {
    fn aliases(&self) -> &'static [&'static str] {
        &["nasbench201", "nas-bench-201"]
    }

    fn network(&self, arch: &Arch) -> crate::network::Network {
        network::build(arch)
    }

    fn pruned_network(&self, arch: &Arch) -> Option<crate::network::Network> {
        Some(network::build_with(arch, crate::network::Execution::PruneDead))
    }

    fn has_cells(&self) -> bool {
        true
    }

    fn dataset(&self) -> Option<&'static Dataset> {
        Some(&DATASET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    #[test]
    fn parses_the_benchmark_string() {
        let a = Nb201.parse(EXAMPLE).unwrap();
        assert_eq!(a.genes(), &[3, 3, 4, 1, 3, 1]);
        assert_eq!(Nb201.format(&a), EXAMPLE);
        let enc = Nb201.encode(&a);
        assert_eq!(enc.iter().sum::<f64>(), 6.0);
        assert_eq!(enc[5 * 2 + 4], 1.0);
    }

    #[test]
    fn every_architecture_round_trips() {
        let all = Nb201.enumerate().unwrap();
        assert_eq!(all.len(), 15625);
        let mut seen = std::collections::HashSet::new();
        for a in &all {
            let s = Nb201.format(a);
            assert_eq!(&Nb201.parse(&s).unwrap(), a);
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn rejects_malformed_strings() {
        for bad in [
            "",
            "|nor_conv_3x3~0|",
            "|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
            "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        ] {
            assert!(Nb201.parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,120}") {
            let _ = Nb201.parse(&s);
        }
    }
}
