//! The FBNet network for CIFAR-100 as HW-NAS-Bench defines it (Li et al., ICLR 2021), after
//! FBNet (Wu et al., CVPR 2019).
//!
//! Input 3 x 32 x 32. Stem: 3x3 convolution (stride 1) to 16 channels, BN, ReLU. Then 22
//! searchable layers in 7 stages of `[1, 4, 4, 4, 4, 4, 1]` layers with
//! `[16, 24, 32, 64, 112, 184, 352]` output channels; the first layer of each stage has stride
//! `[1, 1, 2, 2, 1, 2, 1]` (HW-NAS-Bench's CIFAR-100 setting; ImageNet FBNet also strides the
//! stem and stage 2). Head: 1x1 convolution to 1504 channels, BN, ReLU, global average pooling,
//! linear to 100 classes.
//!
//! A block `k<k>_e<e>[_g2]` is FBNet's inverted bottleneck: 1x1 convolution to `e x C_in`
//! channels (2 groups for `g2`), BN, ReLU; `k x k` depthwise convolution carrying the layer's
//! stride, BN, ReLU; 1x1 convolution to `C_out` (2 groups for `g2`), BN; plus the input when
//! stride is 1 and `C_in = C_out`. `skip` is the identity where shapes allow and otherwise a 1x1
//! convolution (with the stride) and BN. Simplification: FBNet shuffles channels after a grouped
//! convolution; this network does not (no FLOPs or parameters change, one reshape fewer).

use crate::network::{Act, Builder, Network};
use crate::space::Arch;

/// Layers per stage.
pub const FBNET_STAGE_LAYERS: [usize; 7] = [1, 4, 4, 4, 4, 4, 1];
/// Output channels per stage.
pub const FBNET_STAGE_CHANNELS: [usize; 7] = [16, 24, 32, 64, 112, 184, 352];
/// Stride of the first layer of each stage (CIFAR-100).
pub const FBNET_STAGE_STRIDES: [usize; 7] = [1, 1, 2, 2, 1, 2, 1];
/// Stem channels.
pub const FBNET_STEM: usize = 16;
/// Head channels.
pub const FBNET_HEAD: usize = 1504;
/// Output classes (CIFAR-100).
pub const FBNET_CLASSES: usize = 100;

/// (kernel, expansion, groups) of the block choices in gene order; `None` for `skip`.
const BLOCKS: [Option<(usize, usize, usize)>; 9] = [
    Some((3, 1, 1)),
    Some((3, 1, 2)),
    Some((3, 3, 1)),
    Some((3, 6, 1)),
    Some((5, 1, 1)),
    Some((5, 1, 2)),
    Some((5, 3, 1)),
    Some((5, 6, 1)),
    None,
];

fn layer(b: &mut Builder, x: usize, gene: u8, out: usize, stride: usize) -> usize {
    let c_in = b.shape(x).c;
    let identity = stride == 1 && c_in == out;
    match BLOCKS[gene as usize] {
        None if identity => x,
        None => b.conv_bn(x, out, 1, stride, 1),
        Some((k, e, g)) => {
            let mid = c_in * e;
            let y = b.conv_bn_act(x, mid, 1, 1, g, Act::Relu);
            let y = b.conv_bn_act(y, mid, k, stride, mid, Act::Relu);
            let y = b.conv_bn(y, out, 1, 1, g);
            if identity {
                b.add(&[x, y])
            } else {
                y
            }
        }
    }
}

/// The network of an FBNet architecture.
pub fn build(arch: &Arch) -> Network {
    let mut b = Builder::new(3, 32, 32);
    let mut x = b.conv_bn_act(0, FBNET_STEM, 3, 1, 1, Act::Relu);
    let mut genes = arch.genes().iter();
    for stage in 0..FBNET_STAGE_LAYERS.len() {
        for i in 0..FBNET_STAGE_LAYERS[stage] {
            let stride = if i == 0 { FBNET_STAGE_STRIDES[stage] } else { 1 };
            let gene = *genes.next().expect("22 genes");
            x = layer(&mut b, x, gene, FBNET_STAGE_CHANNELS[stage], stride);
        }
    }
    let x = b.conv_bn_act(x, FBNET_HEAD, 1, 1, 1, Act::Relu);
    let x = b.global_pool(x);
    b.linear(x, FBNET_CLASSES);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SpaceId;

    #[test]
    fn all_skip_by_hand() {
        // Stem 3*16*9*1024 MACs; skips are identities except where channels or resolution
        // change (1x1 conv + BN): 16->24 @32, 24->32 @16, 32->64 @8, 64->112 @8, 112->184 @4,
        // 184->352 @4; head 352->1504 @4; linear 1504->100.
        let net = build(&Arch::from_genes(vec![8; 22]));
        assert_eq!(net.output().c, 100);
        let convs = [
            (16, 24, 32 * 32),
            (24, 32, 16 * 16),
            (32, 64, 8 * 8),
            (64, 112, 8 * 8),
            (112, 184, 4 * 4),
            (184, 352, 4 * 4),
            (352, 1504, 4 * 4),
        ];
        let flops = 3 * 16 * 9 * 1024 + convs.iter().map(|&(i, o, p)| i * o * p).sum::<usize>() + 1504 * 100;
        let params = 3 * 16 * 9 + 32 + convs.iter().map(|&(i, o, _)| i * o + 2 * o).sum::<usize>() + 1504 * 100 + 100;
        let c = SpaceId::Fbnet.cost(&Arch::from_genes(vec![8; 22]));
        assert_eq!((c.flops, c.params), (flops as u64, params as u64));
    }

    #[test]
    fn bigger_blocks_cost_more() {
        let c = |g: u8| SpaceId::Fbnet.cost(&Arch::from_genes(vec![g; 22]));
        // k3_e1 < k5_e1 < k5_e3 < k5_e6, and grouping halves the 1x1 work.
        assert!(c(0).flops < c(4).flops && c(4).flops < c(6).flops && c(6).flops < c(7).flops);
        assert!(c(1).flops < c(0).flops && c(1).params < c(0).params);
        assert!(c(8).flops < c(1).flops);
    }
}
