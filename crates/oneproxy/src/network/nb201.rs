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
//! is computed, also those whose result does not reach the output.
//!
//! The counts reproduce the benchmark's: all-`none` 7.78 MFLOPs / 0.073 M parameters, all
//! `nor_conv_3x3` 220.11 MFLOPs / 1.531 M parameters.

use super::{Act, Builder, Network};
use crate::space::nb201::NB201_EDGES;
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

fn cell(b: &mut Builder, x: usize, genes: &[u8]) -> usize {
    let c = b.shape(x).c;
    let mut nodes = vec![x];
    for to in 1..4u8 {
        let mut terms = Vec::new();
        for (e, &(t, from)) in NB201_EDGES.iter().enumerate() {
            if t != to {
                continue;
            }
            let src = nodes[from as usize];
            terms.push(match genes[e] {
                0 => b.zero(src),
                1 => src,
                2 => relu_conv_bn(b, src, c, 1, 1),
                3 => relu_conv_bn(b, src, c, 3, 1),
                _ => b.avg_pool(src, 3, 1, 1),
            });
        }
        let node = b.add(&terms);
        nodes.push(node);
    }
    nodes[3]
}

fn reduction(b: &mut Builder, x: usize, out: usize) -> usize {
    let a = relu_conv_bn(b, x, out, 3, 2);
    let a = relu_conv_bn(b, a, out, 3, 1);
    let s = b.avg_pool(x, 2, 2, 0);
    let s = b.conv(s, out, 1, 1, 1, false);
    b.add(&[s, a])
}

/// The network of an NB201 architecture.
pub fn build(arch: &Arch) -> Network {
    let mut b = Builder::new(3, 32, 32);
    let mut x = b.conv_bn(0, NB201_CHANNELS[0], 3, 1, 1);
    for (stage, &c) in NB201_CHANNELS.iter().enumerate() {
        if stage > 0 {
            x = reduction(&mut b, x, c);
        }
        for _ in 0..NB201_CELLS {
            x = cell(&mut b, x, arch.genes());
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
    use crate::network::{cost, Cost};
    use crate::space::SpaceId;

    fn uniform(op: u8) -> Arch {
        Arch::from_genes(vec![op; 6])
    }

    #[test]
    fn counts_match_the_benchmark_extremes() {
        // Derived by hand in the module docs' layout; the benchmark reports the same ranges.
        // All none: stem 442368 + 2 reductions x 3670016 + linear 640 multiply-adds.
        assert_eq!(cost(SpaceId::Nb201, &uniform(0)), Cost { flops: 7_783_040, params: 73_306 });
        // All conv3x3 adds 30 edges per stage of 2359296 multiply-adds each.
        assert_eq!(cost(SpaceId::Nb201, &uniform(3)), Cost { flops: 220_119_680, params: 1_531_546 });
    }

    #[test]
    fn parameter_free_ops_cost_like_none_and_conv1x1_is_between() {
        let none = cost(SpaceId::Nb201, &uniform(0));
        assert_eq!(cost(SpaceId::Nb201, &uniform(1)), none);
        assert_eq!(cost(SpaceId::Nb201, &uniform(4)), none);
        let c1 = cost(SpaceId::Nb201, &uniform(2));
        let c3 = cost(SpaceId::Nb201, &uniform(3));
        assert!(none.flops < c1.flops && c1.flops < c3.flops);
        // One 1x1 edge per cell position: 16*16*1024 + 32*32*256 + 64*64*64 per edge, 30 edges.
        assert_eq!(c1.flops - none.flops, 30 * 3 * 262_144);
    }

    #[test]
    fn shapes_and_topology() {
        let arch = SpaceId::Nb201.space().parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|").unwrap();
        let net = build(&arch);
        assert_eq!((net.input().c, net.input().h, net.input().w), (3, 32, 32));
        assert_eq!((net.output().c, net.output().h), (10, 1));
        for (i, n) in net.nodes.iter().enumerate() {
            assert!(n.inputs.iter().all(|&j| j < i));
        }
    }
}
