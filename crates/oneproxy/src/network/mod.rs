//! Network descriptions: the layer and cost types every space's network is written in.
//!
//! A [`Network`] is a small dataflow graph of [`Node`]s in topological order, each an [`Op`]
//! applied to earlier nodes, with its output [`Shape`] (channels, height, width; batch excluded).
//! It is the one definition of each space's macro network that everything else reads:
//! [`cost`] counts multiply-adds and parameters from it, and the ONNX exporter (feature `onnx`)
//! turns it into a model with seeded random weights. Each space builds its own network next to
//! its genotype ([`Family::network`](crate::space::Family::network); get one with
//! [`SpaceId::network`](crate::SpaceId::network)), saying where it follows the original
//! definition and where it simplifies: `space/nb201/network.rs` (the NAS-Bench-201 CIFAR
//! network), `space/fbnet/network.rs` (HW-NAS-Bench's FBNet for CIFAR-100),
//! `space/elastic/network.rs` (OFA-MobileNetV3 and the MobileNetV2 / ProxylessNAS elastic
//! spaces). This module depends on no space.
//!
//! **Counting convention** (the one of NAS-Bench-201's reported figures, which these builders
//! reproduce exactly: 7.78 to 220.11 MFLOPs, 0.073 to 1.531 M parameters): FLOPs are the
//! multiply-adds of convolutions and fully connected layers; batch norm, activations, pooling,
//! additions and SE multiplications are not counted. Parameters are convolution and linear
//! weights and biases plus the two affine parameters of each batch norm (running statistics are
//! buffers, not parameters, as in PyTorch's `parameters()`).
//!
//! What a launch-bound device pays for (kernels launched, memory traffic) is counted in
//! [`counts`].

pub mod counts;

/// The shape of one feature map (per image): channels, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shape {
    /// Channels (or features, after a linear layer).
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

/// An activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Act {
    /// max(x, 0).
    Relu,
    /// min(max(x, 0), 6).
    Relu6,
    /// x * relu6(x + 3) / 6 (MobileNetV3).
    HSwish,
    /// relu6(x + 3) / 6 (MobileNetV3's squeeze-and-excitation gate).
    HSigmoid,
}

/// One operation of a network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Op {
    /// The input image.
    Input,
    /// 2-D convolution, square kernel, padding `k / 2` on every side.
    Conv {
        /// Kernel size.
        k: usize,
        /// Stride.
        stride: usize,
        /// Groups (1: dense; `in` channels: depthwise).
        groups: usize,
        /// Output channels.
        out: usize,
        /// Whether the convolution has a bias.
        bias: bool,
    },
    /// Batch normalisation (inference form, per-channel affine).
    BatchNorm,
    /// An activation.
    Act(Act),
    /// Average pooling.
    AvgPool {
        /// Window.
        k: usize,
        /// Stride.
        stride: usize,
        /// Padding on every side.
        pad: usize,
    },
    /// Global average pooling to `c x 1 x 1`.
    GlobalAvgPool,
    /// Flatten then fully connected layer with bias.
    Linear {
        /// Output features.
        out: usize,
    },
    /// Elementwise sum of all inputs (same shapes).
    Add,
    /// Elementwise product of a feature map and a `c x 1 x 1` gate (broadcast).
    Mul,
    /// Zeros of the input's shape, computed from the input (NAS-Bench-201's `none` operation,
    /// which PyTorch computes as `x * 0`; exported as `x - x`, which engines do not fold away).
    Zero,
}

/// One node: an operation, its inputs (indices of earlier nodes) and its output shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// Indices of the input nodes (all smaller than this node's index).
    pub inputs: Vec<usize>,
    /// Output shape (per image).
    pub shape: Shape,
}

/// A network as a dataflow graph in topological order. Node 0 is the input; the last node is the
/// output (logits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Network {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Network {
    /// Shape of the input image.
    pub fn input(&self) -> Shape {
        self.nodes[0].shape
    }

    /// Shape of the output (logits: `classes x 1 x 1`).
    pub fn output(&self) -> Shape {
        self.nodes.last().expect("a network has nodes").shape
    }

    /// Multiply-adds and parameters (see the module documentation for the convention).
    pub fn cost(&self) -> Cost {
        let mut cost = Cost::default();
        for node in &self.nodes {
            let in_c = node.inputs.first().map_or(0, |&i| self.nodes[i].shape.c as u64);
            let (c, h, w) = (node.shape.c as u64, node.shape.h as u64, node.shape.w as u64);
            match node.op {
                Op::Conv { k, groups, bias, .. } => {
                    let weights = c * (in_c / groups as u64) * (k * k) as u64;
                    cost.flops += weights * h * w;
                    cost.params += weights + if bias { c } else { 0 };
                }
                Op::Linear { .. } => {
                    let fan_in = self.nodes[node.inputs[0]].shape;
                    let fan_in = (fan_in.c * fan_in.h * fan_in.w) as u64;
                    cost.flops += fan_in * c;
                    cost.params += fan_in * c + c;
                }
                Op::BatchNorm => cost.params += 2 * c,
                _ => {}
            }
        }
        cost
    }
}

/// Compute cost of one network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    /// Multiply-adds per image.
    pub flops: u64,
    /// Trainable parameters.
    pub params: u64,
}

/// Which operations of an architecture the network computes.
///
/// NAS-Bench-201's model computes every edge of a cell, also those whose result cannot reach
/// the output; a deployment compiler removes them. The two give the same function and can have
/// very different latencies, so a measurement says which one it timed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// Every operation as the architecture is written (the benchmark's model: `none` edges are
    /// computed as the input times zero, dead operations are computed).
    #[default]
    AsWritten,
    /// Only the live operations of each NB201 cell ([`crate::space::cell`]): `none` edges and
    /// dead operations are not in the network at all. Defined for spaces with cells only
    /// ([`SpaceId::check_execution`](crate::SpaceId::check_execution)).
    PruneDead,
}

/// Incremental construction with shape inference, shared by the builders.
#[derive(Debug)]
pub(crate) struct Builder {
    nodes: Vec<Node>,
}

/// Output size of a window of `k` with `stride` and `pad` over `n` pixels.
fn out_size(n: usize, k: usize, stride: usize, pad: usize) -> usize {
    (n + 2 * pad - k) / stride + 1
}

impl Builder {
    /// A builder holding the input node.
    pub(crate) fn new(c: usize, h: usize, w: usize) -> Self {
        Builder { nodes: vec![Node { op: Op::Input, inputs: vec![], shape: Shape { c, h, w } }] }
    }

    pub(crate) fn shape(&self, x: usize) -> Shape {
        self.nodes[x].shape
    }

    fn push(&mut self, op: Op, inputs: Vec<usize>, shape: Shape) -> usize {
        debug_assert!(inputs.iter().all(|&i| i < self.nodes.len()));
        self.nodes.push(Node { op, inputs, shape });
        self.nodes.len() - 1
    }

    pub(crate) fn conv(&mut self, x: usize, out: usize, k: usize, stride: usize, groups: usize, bias: bool) -> usize {
        let s = self.shape(x);
        assert!(s.c.is_multiple_of(groups) && out.is_multiple_of(groups), "groups must divide the channels");
        let shape = Shape { c: out, h: out_size(s.h, k, stride, k / 2), w: out_size(s.w, k, stride, k / 2) };
        self.push(Op::Conv { k, stride, groups, out, bias }, vec![x], shape)
    }

    pub(crate) fn bn(&mut self, x: usize) -> usize {
        let s = self.shape(x);
        self.push(Op::BatchNorm, vec![x], s)
    }

    pub(crate) fn act(&mut self, x: usize, a: Act) -> usize {
        let s = self.shape(x);
        self.push(Op::Act(a), vec![x], s)
    }

    /// Convolution then batch norm.
    pub(crate) fn conv_bn(&mut self, x: usize, out: usize, k: usize, stride: usize, groups: usize) -> usize {
        let y = self.conv(x, out, k, stride, groups, false);
        self.bn(y)
    }

    /// Convolution, batch norm, activation.
    pub(crate) fn conv_bn_act(
        &mut self,
        x: usize,
        out: usize,
        k: usize,
        stride: usize,
        groups: usize,
        a: Act,
    ) -> usize {
        let y = self.conv_bn(x, out, k, stride, groups);
        self.act(y, a)
    }

    pub(crate) fn avg_pool(&mut self, x: usize, k: usize, stride: usize, pad: usize) -> usize {
        let s = self.shape(x);
        let shape = Shape { c: s.c, h: out_size(s.h, k, stride, pad), w: out_size(s.w, k, stride, pad) };
        self.push(Op::AvgPool { k, stride, pad }, vec![x], shape)
    }

    pub(crate) fn global_pool(&mut self, x: usize) -> usize {
        let s = self.shape(x);
        self.push(Op::GlobalAvgPool, vec![x], Shape { c: s.c, h: 1, w: 1 })
    }

    pub(crate) fn linear(&mut self, x: usize, out: usize) -> usize {
        self.push(Op::Linear { out }, vec![x], Shape { c: out, h: 1, w: 1 })
    }

    /// Sum of one or more same-shaped nodes (one input: that node itself, no new node).
    pub(crate) fn add(&mut self, xs: &[usize]) -> usize {
        let s = self.shape(xs[0]);
        assert!(xs.iter().all(|&x| self.shape(x) == s), "added tensors must have one shape");
        if xs.len() == 1 {
            return xs[0];
        }
        self.push(Op::Add, xs.to_vec(), s)
    }

    pub(crate) fn mul(&mut self, x: usize, gate: usize) -> usize {
        let s = self.shape(x);
        self.push(Op::Mul, vec![x, gate], s)
    }

    pub(crate) fn zero(&mut self, x: usize) -> usize {
        let s = self.shape(x);
        self.push(Op::Zero, vec![x], s)
    }

    pub(crate) fn finish(self) -> Network {
        Network { nodes: self.nodes }
    }
}
