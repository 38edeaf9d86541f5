//! MobileNet-family networks of the elastic spaces: OFA-MobileNetV3 (Cai et al., ICLR 2020,
//! after Howard et al., ICCV 2019), and the MobileNetV2- (Sandler et al., CVPR 2018) and
//! ProxylessNAS-style (Cai et al., ICLR 2019) elastic spaces, for ImageNet (1000 classes) at the
//! architecture's resolution. Width multiplier 1.0 throughout.
//!
//! All three are: a stem (3x3 convolution, stride 2), a fixed first block, 5 elastic stages of
//! 2-4 MBConv blocks, a fixed tail, global pooling and a classifier. An MBConv block with kernel
//! `k` and expand ratio `e` is: 1x1 convolution to `mid = make_divisible(e x C_in, 8)` channels,
//! BN, activation; `k x k` depthwise convolution (the stage's stride on the first block), BN,
//! activation; optional squeeze-and-excitation; 1x1 convolution to `C_out`, BN; plus the input
//! when the shapes match (every block but a stage's first). With `e = 1` the expansion
//! convolution is absent.
//!
//! | | OFA-MobileNetV3 | MobileNetV2 | ProxylessNAS |
//! |---|---|---|---|
//! | stem | 16 ch, h-swish | 32 ch, ReLU6 | 32 ch, ReLU6 |
//! | first block | k3 e1 16 -> 16, ReLU, residual | k3 e1 32 -> 16 | k3 e1 32 -> 16 |
//! | stage widths | 24, 40, 80, 112, 160 | 24, 32, 64, 96, 160 | 24, 40, 80, 96, 192 |
//! | stage strides | 2, 2, 2, 1, 2 | 2, 2, 2, 1, 2 | 2, 2, 2, 1, 2 |
//! | activations | ReLU, ReLU, h-swish x3 | ReLU6 | ReLU6 |
//! | SE | stages 2, 4, 5 | no | no |
//! | tail | 1x1 to 960, BN, h-swish; pool; 1x1 to 1280 (no BN), h-swish | k3 e6 block to 320; 1x1 to 1280, BN, ReLU6; pool | same as MobileNetV2 |
//!
//! OFA-MobileNetV3 follows OFA's `OFAMobileNetV3` (its SE: global pool, 1x1 convolution with
//! bias to `make_divisible(mid / 4, 8)`, ReLU, 1x1 convolution with bias back to `mid`,
//! h-sigmoid, product). MobileNetV2 keeps the original's widths and strides with OFA's elastic
//! stages in place of its fixed `[2, 3, 4, 3, 3]` blocks; ProxylessNAS likewise keeps the
//! ProxylessNAS widths. In both the 320-channel block before the head is fixed (k3, e6), not
//! searched, a simplification of OFA's ProxylessNAS supernet.

use super::ElasticSpec;
use crate::network::{Act, Builder, Network};
use crate::space::Arch;

/// Output classes (ImageNet).
pub const IMAGENET_CLASSES: usize = 1000;

/// The fixed part of an elastic space's network, around its elastic stages (one per space,
/// held by its [`ElasticSpec`], so that every elastic space has a network by construction).
#[derive(Debug)]
pub struct MacroNet {
    stem: usize,
    stem_act: Act,
    first_act: Act,
    first_out: usize,
    tail: Tail,
    widths: [usize; 5],
    strides: [usize; 5],
    acts: [Act; 5],
    se: [bool; 5],
}

/// The layers after the last elastic stage.
#[derive(Debug)]
enum Tail {
    /// MobileNetV3's: 1x1 to 960, BN, h-swish; pool; 1x1 to 1280 (no BN), h-swish.
    Mbv3,
    /// MobileNetV2's: a fixed k3 e6 block to 320; 1x1 to 1280, BN, ReLU6; pool.
    Mbv2,
}

/// OFA-MobileNetV3's network.
pub const OFA_MBV3: MacroNet = MacroNet {
    stem: 16,
    stem_act: Act::HSwish,
    first_act: Act::Relu,
    first_out: 16,
    tail: Tail::Mbv3,
    widths: [24, 40, 80, 112, 160],
    strides: [2, 2, 2, 1, 2],
    acts: [Act::Relu, Act::Relu, Act::HSwish, Act::HSwish, Act::HSwish],
    se: [false, true, false, true, true],
};

/// The MobileNetV2 space's network.
pub const MBV2: MacroNet = MacroNet {
    stem: 32,
    stem_act: Act::Relu6,
    first_act: Act::Relu6,
    first_out: 16,
    tail: Tail::Mbv2,
    widths: [24, 32, 64, 96, 160],
    strides: [2, 2, 2, 1, 2],
    acts: [Act::Relu6; 5],
    se: [false; 5],
};

/// The ProxylessNAS space's network.
pub const PROXYLESS: MacroNet = MacroNet { widths: [24, 40, 80, 96, 192], ..MBV2 };

/// MobileNet's channel rounding: to a multiple of `d` (at least `d`), never more than 10% down.
pub fn make_divisible(v: f64, d: usize) -> usize {
    let r = ((v + d as f64 / 2.0) as usize / d * d).max(d);
    if (r as f64) < 0.9 * v {
        r + d
    } else {
        r
    }
}

fn squeeze_excite(b: &mut Builder, x: usize) -> usize {
    let c = b.shape(x).c;
    let s = b.global_pool(x);
    let s = b.conv(s, make_divisible(c as f64 / 4.0, 8), 1, 1, 1, true);
    let s = b.act(s, Act::Relu);
    let s = b.conv(s, c, 1, 1, 1, true);
    let g = b.act(s, Act::HSigmoid);
    b.mul(x, g)
}

#[allow(clippy::too_many_arguments)]
fn mbconv(b: &mut Builder, x: usize, out: usize, k: usize, stride: usize, e: usize, act: Act, se: bool) -> usize {
    let c_in = b.shape(x).c;
    let mid = make_divisible((c_in * e) as f64, 8);
    let mut y = x;
    if e != 1 {
        y = b.conv_bn_act(y, mid, 1, 1, 1, act);
    }
    y = b.conv_bn_act(y, mid, k, stride, mid, act);
    if se {
        y = squeeze_excite(b, y);
    }
    y = b.conv_bn(y, out, 1, 1, 1);
    if stride == 1 && c_in == out {
        b.add(&[x, y])
    } else {
        y
    }
}

/// The network of an architecture of an elastic space, in the space's own macro network.
pub fn build(spec: &ElasticSpec, arch: &Arch) -> Network {
    let f = spec.net;
    let r = ElasticSpec::resolution(arch) as usize;
    let mut b = Builder::new(3, r, r);
    let mut x = b.conv_bn_act(0, f.stem, 3, 2, 1, f.stem_act);
    x = mbconv(&mut b, x, f.first_out, 3, 1, 1, f.first_act, false);
    for (s, blocks) in spec.blocks(arch).iter().enumerate() {
        for (j, &(k, e)) in blocks.iter().enumerate() {
            let stride = if j == 0 { f.strides[s] } else { 1 };
            x = mbconv(&mut b, x, f.widths[s], k as usize, stride, e as usize, f.acts[s], f.se[s]);
        }
    }
    let x = match f.tail {
        Tail::Mbv3 => {
            let x = b.conv_bn_act(x, 960, 1, 1, 1, Act::HSwish);
            let x = b.global_pool(x);
            let x = b.conv(x, 1280, 1, 1, 1, false);
            b.act(x, Act::HSwish)
        }
        Tail::Mbv2 => {
            let x = mbconv(&mut b, x, 320, 3, 1, 6, Act::Relu6, false);
            let x = b.conv_bn_act(x, 1280, 1, 1, 1, Act::Relu6);
            b.global_pool(x)
        }
    };
    b.linear(x, IMAGENET_CLASSES);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SpaceId;

    #[test]
    fn make_divisible_matches_mobilenet_rounding() {
        assert_eq!(make_divisible(72.0, 8), 72);
        assert_eq!(make_divisible(18.0, 8), 24); // 16 would lose more than 10%
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(120.0 / 4.0, 8), 32);
    }

    #[test]
    fn smallest_and_largest_ofa_networks() {
        let small = SpaceId::OfaMbv3.space().parse("r128_k33-33-33-33-33_e33-33-33-33-33").unwrap();
        let large = SpaceId::OfaMbv3.space().parse("r224_k7777-7777-7777-7777-7777_e6666-6666-6666-6666-6666").unwrap();
        let (s, l) = (SpaceId::OfaMbv3.cost(&small), SpaceId::OfaMbv3.cost(&large));
        // OFA reports about 7.7 M parameters for its full MobileNetV3 supernet (the largest
        // subnet) and a few hundred MFLOPs at 224.
        assert!((7_000_000..8_500_000).contains(&l.params), "{l:?}");
        assert!((400_000_000..800_000_000).contains(&l.flops), "{l:?}");
        assert!(s.flops < l.flops / 5 && s.params < l.params);
        let net = SpaceId::OfaMbv3.network(&large);
        assert_eq!(net.output().c, 1000);
        assert_eq!(net.input().h, 224);
    }

    #[test]
    fn every_elastic_space_builds_at_every_resolution_step() {
        for id in [SpaceId::OfaMbv3, SpaceId::Mbv2, SpaceId::Proxyless] {
            let mut rng = crate::space::seeded_rng(1);
            for _ in 0..20 {
                let a = id.space().sample(&mut rng);
                let net = id.network(&a);
                assert_eq!(net.output().c, 1000);
                assert!(net.cost().flops > 0);
            }
        }
        // MobileNetV2 at 224 with depths 4 everywhere, k3 e6, is larger than the original
        // (300 MFLOPs, 3.5 M parameters), which has fewer blocks.
        let big = SpaceId::Mbv2.space().parse("r224_k3333-3333-3333-3333-3333_e6666-6666-6666-6666-6666").unwrap();
        let c = SpaceId::Mbv2.cost(&big);
        assert!(c.flops > 300_000_000 && c.params > 3_500_000, "{c:?}");
    }
}
