//! Physical counts of a network that a device's latency can follow when arithmetic does not
//! set it: kernels launched and memory traffic (a GPU at small batch spends its time launching
//! and moving tensors), beside the multiply-adds of [`Network::cost`].
//!
//! The conventions are those of an eager runtime:
//! * **kernels**: one per operation node, a grouped (not depthwise) convolution one per group
//!   (libraries launch those per group), an addition of `k` inputs `k - 1`;
//! * **memory traffic**: the elements every operation reads and writes (per image).

use super::{Network, Op, Shape};
use serde::{Deserialize, Serialize};

/// Kernels launched and elements moved by one network (per image).
pub fn launch(net: &Network) -> [f64; 2] {
    let (mut kernels, mut traffic) = (0.0, 0.0);
    for node in net.nodes.iter().skip(1) {
        let elements = |s: Shape| (s.c * s.h * s.w) as f64;
        let read: f64 = node.inputs.iter().map(|&i| elements(net.nodes[i].shape)).sum();
        traffic += read + elements(node.shape);
        kernels += match node.op {
            Op::Input => 0.0,
            Op::Conv { groups, .. } => {
                let in_c = node.inputs.first().map_or(1, |&i| net.nodes[i].shape.c);
                if groups > 1 && groups < in_c {
                    groups as f64
                } else {
                    1.0
                }
            }
            Op::Add => node.inputs.len().saturating_sub(1).max(1) as f64,
            _ => 1.0,
        };
    }
    [kernels, traffic]
}

/// One physical count of a network, as a latency model weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkCount {
    /// Kernels launched ([`launch`]).
    Kernels,
    /// Elements read and written ([`launch`]).
    Traffic,
    /// Multiply-adds ([`Network::cost`]).
    MultiplyAdds,
}

impl NetworkCount {
    /// Every count, in the order a model lists them.
    pub const ALL: [NetworkCount; 3] = [NetworkCount::Kernels, NetworkCount::Traffic, NetworkCount::MultiplyAdds];

    /// Every count of `net`, in the order of [`ALL`](Self::ALL).
    pub fn all_of(net: &Network) -> [f64; 3] {
        let [kernels, traffic] = launch(net);
        [kernels, traffic, net.cost().flops as f64]
    }

    /// Its position in [`ALL`](Self::ALL), and so in [`all_of`](Self::all_of)'s counts.
    pub fn index(self) -> usize {
        match self {
            NetworkCount::Kernels => 0,
            NetworkCount::Traffic => 1,
            NetworkCount::MultiplyAdds => 2,
        }
    }

    /// Short name for reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            NetworkCount::Kernels => "kernels",
            NetworkCount::Traffic => "traffic",
            NetworkCount::MultiplyAdds => "multiply-adds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NetworkCount;

    #[test]
    fn each_count_knows_its_place_in_the_list() {
        for (k, c) in NetworkCount::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), k, "{}", c.name());
        }
    }
}
