//! The NAS-Bench-201 CIFAR network (Dong & Yang, ICLR 2020), as the benchmark trains it.
//!
//! Input 3 x 32 x 32. Stem: 3x3 convolution to 16 channels + batch norm. Then three stages of
//! 5 cells at 16, 32 and 64 channels (32x32, 16x16, 8x8), with a residual reduction block between
//! stages: `ReLU-Conv3x3(stride 2)-BN -> ReLU-Conv3x3-BN`, plus a shortcut `AvgPool2x2(stride 2) ->
//! Conv1x1` (no batch norm). Head: BN, ReLU, global average pooling, linear to 10 classes.
//!
//! A cell has 4 nodes; node `i` is the sum, over the edges `j -> i`, of the edge's operation
//! applied to node `j`; node 3 is the cell's output. Operations: `none` (the input times zero, as
//! the benchmark's `Zero` module computes it), `skip_connect` (identity), `nor_conv_1x1` and
//! `nor_conv_3x3` (ReLU, convolution without bias, batch norm), `avg_pool_3x3` (stride 1,
//! padding 1, padding excluded from the average). Like the benchmark's PyTorch model, every edge
//! is computed, also those whose result does not reach the output ([`Execution::AsWritten`]).
//!
//! [`Execution::PruneDead`] builds the cell as a deployment compiler runs it: only its live
//! operations ([`crate::space::cell`]) are in the network, a node is the sum of its live terms,
//! and `none` edges and dead operations are not emitted at all. When no operation of the cell is
//! live, its output is zeros (a [`Op::Zero`](crate::network::Op::Zero) of the cell input, so that the
//! graph stays well-formed). An architecture without `none` edges has no dead operation, and
//! both builds give the same network.
//!
//! The counts reproduce the benchmark's: all-`none` 7.78 MFLOPs / 0.073 M parameters, all
//! `nor_conv_3x3` 220.11 MFLOPs / 1.531 M parameters.

use super::cell::live_edges;
use super::NB201_EDGES;
use crate::network::{Act, Builder, Execution, Network};
use crate::space::Arch;

/// Channels of the three stages.
pub const NB201_CHANNELS: [usize; 3] = [16, 32, 64];
/// Cells per stage.
pub const NB201_CELLS: usize = 5;
/// Output classes (CIFAR-10).
pub const NB201_CLASSES: usize = 10;

fn relu_conv_bn(b: &mut Builder, x: usize, out: usize, k: usize, stride: usize) -> usize {
    let y = b.act(x, Act::Relu);
    b.conv_bn(y, out, k, stride, 1)
}

fn cell(b: &mut Builder, x: usize, genes: &[u8], exec: Execution) -> usize {
    let c = b.shape(x).c;
    let emitted = match exec {
        Execution::AsWritten => [true; 6],
        Execution::PruneDead => live_edges(genes),
    };
    // A node without emitted terms is `None`; no emitted edge starts there (a live edge starts
    // at a node that a live path reaches).
    let mut nodes = vec![Some(x)];
    for to in 1..4u8 {
        let mut terms = Vec::new();
        for (e, &(t, from)) in NB201_EDGES.iter().enumerate() {
            if t != to || !emitted[e] {
                continue;
            }
            let src = nodes[from as usize].expect("an emitted edge starts at a computed node");
            terms.push(match genes[e] {
                0 => b.zero(src),
                1 => src,
                2 => relu_conv_bn(b, src, c, 1, 1),
                3 => relu_conv_bn(b, src, c, 3, 1),
                _ => b.avg_pool(src, 3, 1, 1),
            });
        }
        nodes.push((!terms.is_empty()).then(|| b.add(&terms)));
    }
    nodes[3].unwrap_or_else(|| b.zero(x))
}

fn reduction(b: &mut Builder, x: usize, out: usize) -> usize {
    let a = relu_conv_bn(b, x, out, 3, 2);
    let a = relu_conv_bn(b, a, out, 3, 1);
    let s = b.avg_pool(x, 2, 2, 0);
    let s = b.conv(s, out, 1, 1, 1, false);
    b.add(&[s, a])
}

/// The network of an NB201 architecture, every edge computed.
pub fn build(arch: &Arch) -> Network {
    build_with(arch, Execution::AsWritten)
}

/// The network of an NB201 architecture, computed as `exec` says.
pub fn build_with(arch: &Arch, exec: Execution) -> Network {
    let mut b = Builder::new(3, 32, 32);
    let mut x = b.conv_bn(0, NB201_CHANNELS[0], 3, 1, 1);
    for (stage, &c) in NB201_CHANNELS.iter().enumerate() {
        if stage > 0 {
            x = reduction(&mut b, x, c);
        }
        for _ in 0..NB201_CELLS {
            x = cell(&mut b, x, arch.genes(), exec);
        }
    }
    let x = b.bn(x);
    let x = b.act(x, Act::Relu);
    let x = b.global_pool(x);
    b.linear(x, NB201_CLASSES);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Cost, Op};
    use crate::space::{SearchSpace, SpaceId};

    fn uniform(op: u8) -> Arch {
        Arch::from_genes(vec![op; 6])
    }

    #[test]
    fn counts_match_the_benchmark_extremes() {
        // Derived by hand in the module docs' layout; the benchmark reports the same ranges.
        // All none: stem 442368 + 2 reductions x 3670016 + linear 640 multiply-adds.
        assert_eq!(SpaceId::Nb201.cost(&uniform(0)), Cost { flops: 7_783_040, params: 73_306 });
        // All conv3x3 adds 30 edges per stage of 2359296 multiply-adds each.
        assert_eq!(SpaceId::Nb201.cost(&uniform(3)), Cost { flops: 220_119_680, params: 1_531_546 });
    }

    #[test]
    fn parameter_free_ops_cost_like_none_and_conv1x1_is_between() {
        let none = SpaceId::Nb201.cost(&uniform(0));
        assert_eq!(SpaceId::Nb201.cost(&uniform(1)), none);
        assert_eq!(SpaceId::Nb201.cost(&uniform(4)), none);
        let c1 = SpaceId::Nb201.cost(&uniform(2));
        let c3 = SpaceId::Nb201.cost(&uniform(3));
        assert!(none.flops < c1.flops && c1.flops < c3.flops);
        // One 1x1 edge per cell position: 16*16*1024 + 32*32*256 + 64*64*64 per edge, 30 edges.
        assert_eq!(c1.flops - none.flops, 30 * 3 * 262_144);
    }

    #[test]
    fn shapes_and_topology() {
        let arch = SpaceId::Nb201
            .space()
            .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
            .unwrap();
        let net = build(&arch);
        assert_eq!((net.input().c, net.input().h, net.input().w), (3, 32, 32));
        assert_eq!((net.output().c, net.output().h), (10, 1));
        for (i, n) in net.nodes.iter().enumerate() {
            assert!(n.inputs.iter().all(|&j| j < i));
        }
    }

    fn pruned(arch: &Arch) -> Network {
        build_with(arch, Execution::PruneDead)
    }

    fn count(net: &Network, op: &Op) -> usize {
        net.nodes.iter().filter(|n| &n.op == op).count()
    }

    #[test]
    fn pruning_a_cell_whose_only_conv_is_dead_removes_its_flops() {
        let arch = SpaceId::Nb201
            .space()
            .parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
            .unwrap();
        // As written, the dead conv is computed: 15 cells x one 3x3 conv edge per stage.
        assert_eq!(build(&arch).cost().flops, SpaceId::Nb201.cost(&uniform(0)).flops + 5 * 2_359_296 * 3);
        // Pruned, the network costs what the cell without it costs: the stem, reductions, head.
        let net = pruned(&arch);
        assert_eq!(net.cost(), SpaceId::Nb201.cost(&uniform(0)));
        assert_eq!(net.cost(), SpaceId::Nb201.cost(&crate::space::cell::prune_dead(&arch)));
        assert_eq!(count(&net, &Op::Zero), 0);
    }

    #[test]
    fn pruning_without_dead_ops_removes_only_the_none_nodes() {
        // One `none` edge (0->2), every other op on a live path.
        let arch = SpaceId::Nb201
            .space()
            .parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|")
            .unwrap();
        assert!(!crate::space::cell::has_dead(arch.genes()));
        let (written, net) = (build(&arch), pruned(&arch));
        assert_eq!(net.cost(), written.cost());
        assert_eq!((count(&written, &Op::Zero), count(&net, &Op::Zero)), (15, 0));
        // The same operations in the same order, but for the zeros and the sums they fed (node 2
        // is `zero + pool` as written, the pool alone pruned).
        let ops = |n: &Network| {
            n.nodes.iter().filter(|n| !matches!(n.op, Op::Zero | Op::Add)).map(|n| n.op.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ops(&net), ops(&written));
        assert_eq!(written.nodes.len() - net.nodes.len(), 15 + 15);
        // Without `none` edges there is nothing to prune: the same network.
        for op in 1..5 {
            assert_eq!(pruned(&uniform(op)), build(&uniform(op)));
        }
    }

    #[test]
    fn the_pruned_all_none_cell_outputs_zeros() {
        let net = pruned(&uniform(0));
        assert_eq!(count(&net, &Op::Zero), NB201_CELLS * NB201_CHANNELS.len());
        assert_eq!(net.cost(), build(&uniform(0)).cost());
        assert_eq!((net.output().c, net.output().h), (10, 1));
        assert!(net.nodes.len() < build(&uniform(0)).nodes.len());
    }

    #[test]
    fn over_the_whole_space_pruning_computes_the_live_ops_only() {
        use crate::space::cell::{live_edges, prune_dead};
        for arch in crate::space::Nb201.enumerate().unwrap() {
            let net = pruned(&arch);
            // Pruning depends on the live ops only, and costs what the pruned cell costs.
            assert_eq!(net, pruned(&prune_dead(&arch)), "{arch:?}");
            assert_eq!(net.cost(), build(&prune_dead(&arch)).cost(), "{arch:?}");
            // A zero is left only where the cell has no live path (one per cell).
            let zeros = if live_edges(arch.genes()).contains(&true) { 0 } else { 15 };
            assert_eq!(count(&net, &Op::Zero), zeros, "{arch:?}");
        }
    }

    #[test]
    fn pruning_is_for_nb201_only() {
        let nb = uniform(0);
        assert_eq!(SpaceId::Nb201.network_with(&nb, Execution::PruneDead).unwrap(), pruned(&nb));
        let fb = Arch::from_genes(vec![0; 22]);
        let e = SpaceId::Fbnet.network_with(&fb, Execution::PruneDead).unwrap_err();
        assert!(matches!(e, crate::Error::InvalidParameter(_)), "{e}");
        assert_eq!(SpaceId::Fbnet.network_with(&fb, Execution::AsWritten).unwrap(), SpaceId::Fbnet.network(&fb));
    }
}
