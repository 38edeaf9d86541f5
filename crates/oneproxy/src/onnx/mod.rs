//! ONNX export (feature `onnx`): every architecture as a standard ONNX model (opset 13,
//! IR version 7) with seeded random weights, for any runtime.
//!
//! The model is the [`Network`] of the architecture, node for node: input `input` of shape
//! `[batch, 3, H, W]` (float32), output `output` of shape `[batch, classes]` (logits). Operators:
//! `Conv`, `BatchNormalization` (inference form), `Relu`, `Clip` (ReLU6), `HardSigmoid` and
//! `Mul` (h-swish, h-sigmoid), `AveragePool`, `GlobalAveragePool`, `Flatten` + `Gemm`, `Add`,
//! `Sum`, `Mul`, `Sub` (`none` as `x - x`). Weights are drawn from a ChaCha8 generator seeded with `seed`: convolution and
//! linear weights uniform in `±sqrt(3 / fan_in)` (variance `1 / fan_in`), biases and batch-norm
//! shifts and means near 0, batch-norm scales and variances near 1. Latency does not depend on
//! the values (there are no data-dependent branches), so one seed serves every measurement.
//!
//! tract reads ONNX but does not write it, so the protobuf is built here ([`proto`]) and encoded
//! with prost; the round-trip tests load every space's models back with tract.

pub mod proto;

use crate::network::{Act, Execution, Network, Op, Shape};
use crate::space::{seeded_rng, Arch, SeededRng, SpaceId};
use prost::Message;
use proto::*;
use rand::Rng;

/// ONNX opset of the exported models.
pub const OPSET: i64 = 13;
/// ONNX IR version of the exported models (the one that goes with opset 13).
pub const IR_VERSION: i64 = 7;
/// Name of the model's input.
pub const INPUT_NAME: &str = "input";
/// Name of the model's output.
pub const OUTPUT_NAME: &str = "output";

/// The ONNX model of an architecture, encoded (the bytes of a `.onnx` file).
pub fn export(space: SpaceId, arch: &Arch, batch: usize, seed: u64) -> Vec<u8> {
    export_with(space, arch, batch, seed, Execution::AsWritten).expect("every space is built as written")
}

/// The ONNX model of an architecture's network computed as `exec` says (an error where the
/// space does not support it: [`SpaceId::check_execution`](crate::SpaceId::check_execution)).
///
/// The doc string names the architecture as given, and says when pruning removed operations.
/// Weights are drawn in node order, so the operations that a pruned model keeps get other
/// random weights than in the model as written (latency does not depend on them); a model
/// that pruning does not change (an NB201 cell without `none` edges) is byte-identical.
pub fn export_with(space: SpaceId, arch: &Arch, batch: usize, seed: u64, exec: Execution) -> crate::Result<Vec<u8>> {
    let net = space.network_with(arch, exec)?;
    let pruned = exec == Execution::PruneDead && net != space.network(arch);
    let how = if pruned { "none edges and dead operations removed, " } else { "" };
    let doc = format!("oneproxy {space} {} ({how}weights seed {seed})", space.space().format(arch));
    Ok(model_proto(&net, batch, seed, doc).encode_to_vec())
}

/// The input shape of an architecture's exported model, `[batch, 3, H, W]`.
pub fn input_shape(space: SpaceId, arch: &Arch, batch: usize) -> [usize; 4] {
    let s = space.network(arch).input();
    [batch, s.c, s.h, s.w]
}

/// A deterministic input image batch: values uniform in [-1, 1), drawn from a ChaCha8 generator
/// seeded with `seed`, in row-major (NCHW) order.
pub fn seeded_input(shape: [usize; 4], seed: u64) -> Vec<f32> {
    let mut rng = seeded_rng(seed);
    (0..shape.iter().product::<usize>()).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The ONNX `ModelProto` of a network.
pub fn model_proto(net: &Network, batch: usize, seed: u64, doc: String) -> ModelProto {
    let mut e = Emitter { rng: seeded_rng(seed), nodes: Vec::new(), init: Vec::new(), consts: Vec::new() };
    let last = net.nodes.len() - 1;
    let name = |i: usize| match i {
        0 => INPUT_NAME.to_string(),
        i if i == last => OUTPUT_NAME.to_string(),
        i => format!("n{i}"),
    };
    for (i, node) in net.nodes.iter().enumerate().skip(1) {
        let inputs: Vec<String> = node.inputs.iter().map(|&j| name(j)).collect();
        let in_shape = net.nodes[node.inputs[0]].shape;
        e.node(i, node.op.clone(), inputs, name(i), in_shape, node.shape);
    }
    let input = net.input();
    let output = net.output();
    let graph = GraphProto {
        node: e.nodes,
        name: "oneproxy".into(),
        initializer: e.init,
        input: vec![value_info(INPUT_NAME, &[batch, input.c, input.h, input.w])],
        output: vec![value_info(OUTPUT_NAME, &[batch, output.c])],
    };
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "oneproxy".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc,
        graph: Some(graph),
    }
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let dim = dims.iter().map(|&d| Dimension { dim_value: Some(d as i64) }).collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: DATA_TYPE_FLOAT, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::INT, i: v, ..Default::default() }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::FLOAT, f: v, ..Default::default() }
}

struct Emitter {
    rng: SeededRng,
    nodes: Vec<NodeProto>,
    init: Vec<TensorProto>,
    /// Scalar constants already emitted.
    consts: Vec<String>,
}

impl Emitter {
    fn tensor(&mut self, name: String, dims: &[usize], values: impl Iterator<Item = f32>) -> String {
        let raw_data: Vec<u8> = values.flat_map(f32::to_le_bytes).collect();
        debug_assert_eq!(raw_data.len(), 4 * dims.iter().product::<usize>());
        self.init.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DATA_TYPE_FLOAT,
            name: name.clone(),
            raw_data,
        });
        name
    }

    fn uniform(&mut self, name: String, dims: &[usize], lo: f32, hi: f32) -> String {
        let n = dims.iter().product::<usize>();
        let values: Vec<f32> = (0..n).map(|_| self.rng.random_range(lo..hi)).collect();
        self.tensor(name, dims, values.into_iter())
    }

    /// A shared scalar constant.
    fn scalar(&mut self, v: f32) -> String {
        let name = format!("const_{v}");
        if !self.consts.contains(&name) {
            self.consts.push(name.clone());
            self.tensor(name.clone(), &[], std::iter::once(v));
        }
        name
    }

    fn push(
        &mut self,
        op_type: &str,
        name: String,
        input: Vec<String>,
        output: String,
        attribute: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto { input, output: vec![output], name, op_type: op_type.into(), attribute });
    }

    fn node(&mut self, i: usize, op: Op, mut inputs: Vec<String>, out: String, in_shape: Shape, shape: Shape) {
        let id = format!("n{i}");
        match op {
            Op::Input => unreachable!("only node 0 is the input"),
            Op::Conv { k, stride, groups, out: c, bias } => {
                let fan_in = in_shape.c / groups * k * k;
                let a = (3.0 / fan_in as f32).sqrt();
                inputs.push(self.uniform(format!("{id}.weight"), &[c, in_shape.c / groups, k, k], -a, a));
                if bias {
                    inputs.push(self.uniform(format!("{id}.bias"), &[c], -0.1, 0.1));
                }
                let p = k / 2;
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("strides", &[stride, stride]),
                    ints("pads", &[p, p, p, p]),
                    ints("dilations", &[1, 1]),
                    int("group", groups as i64),
                ];
                self.push("Conv", id, inputs, out, attrs);
            }
            Op::BatchNorm => {
                let c = shape.c;
                inputs.push(self.uniform(format!("{id}.scale"), &[c], 0.8, 1.2));
                inputs.push(self.uniform(format!("{id}.bias"), &[c], -0.1, 0.1));
                inputs.push(self.uniform(format!("{id}.mean"), &[c], -0.1, 0.1));
                inputs.push(self.uniform(format!("{id}.var"), &[c], 0.8, 1.2));
                self.push("BatchNormalization", id, inputs, out, vec![float("epsilon", 1e-5)]);
            }
            Op::Act(Act::Relu) => self.push("Relu", id, inputs, out, vec![]),
            Op::Act(Act::Relu6) => {
                inputs.push(self.scalar(0.0));
                inputs.push(self.scalar(6.0));
                self.push("Clip", id, inputs, out, vec![]);
            }
            Op::Act(Act::HSigmoid) => self.push("HardSigmoid", id, inputs, out, hard_sigmoid()),
            Op::Act(Act::HSwish) => {
                let gate = format!("{id}.gate");
                self.push("HardSigmoid", format!("{id}.hsig"), inputs.clone(), gate.clone(), hard_sigmoid());
                inputs.push(gate);
                self.push("Mul", id, inputs, out, vec![]);
            }
            Op::AvgPool { k, stride, pad } => {
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("strides", &[stride, stride]),
                    ints("pads", &[pad, pad, pad, pad]),
                    int("count_include_pad", 0),
                ];
                self.push("AveragePool", id, inputs, out, attrs);
            }
            Op::GlobalAvgPool => self.push("GlobalAveragePool", id, inputs, out, vec![]),
            Op::Linear { out: c } => {
                let fan_in = in_shape.c * in_shape.h * in_shape.w;
                let flat = format!("{id}.flat");
                self.push("Flatten", format!("{id}.flatten"), inputs, flat.clone(), vec![int("axis", 1)]);
                let a = (3.0 / fan_in as f32).sqrt();
                let w = self.uniform(format!("{id}.weight"), &[c, fan_in], -a, a);
                let b = self.uniform(format!("{id}.bias"), &[c], -0.1, 0.1);
                self.push("Gemm", id, vec![flat, w, b], out, vec![int("transB", 1)]);
            }
            Op::Add if inputs.len() == 2 => self.push("Add", id, inputs, out, vec![]),
            Op::Add => self.push("Sum", id, inputs, out, vec![]),
            Op::Mul => self.push("Mul", id, inputs, out, vec![]),
            // `x - x`, not `x * 0`: engines (tract among them) fold a product with a constant
            // zero into a constant, and then the whole downstream network, which the
            // benchmark's PyTorch model does compute.
            Op::Zero => {
                inputs.push(inputs[0].clone());
                self.push("Sub", id, inputs, out, vec![]);
            }
        }
    }
}

/// relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1).
fn hard_sigmoid() -> Vec<AttributeProto> {
    vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_is_deterministic_and_decodes() {
        let arch = SpaceId::Nb201
            .space()
            .parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
            .unwrap();
        let a = export(SpaceId::Nb201, &arch, 1, 7);
        assert_eq!(a, export(SpaceId::Nb201, &arch, 1, 7));
        assert_ne!(a, export(SpaceId::Nb201, &arch, 1, 8));
        let m = ModelProto::decode(a.as_slice()).unwrap();
        assert_eq!(m.opset_import[0].version, 13);
        let g = m.graph.unwrap();
        // Every weight of the network is an initializer: the parameter count matches (BN running
        // statistics are two extra tensors per BN, not parameters).
        let floats: usize = g.initializer.iter().map(|t| t.raw_data.len() / 4).sum();
        let net = SpaceId::Nb201.network(&arch);
        let bn: usize = net.nodes.iter().filter(|n| n.op == Op::BatchNorm).map(|n| 2 * n.shape.c).sum();
        assert_eq!(floats as u64, net.cost().params + bn as u64);
        assert_eq!(g.output[0].name, OUTPUT_NAME);
    }

    fn nb201(s: &str) -> Arch {
        SpaceId::Nb201.space().parse(s).unwrap()
    }

    fn graph(bytes: &[u8]) -> GraphProto {
        ModelProto::decode(bytes).unwrap().graph.unwrap()
    }

    fn op_count(g: &GraphProto, op: &str) -> usize {
        g.node.iter().filter(|n| n.op_type == op).count()
    }

    #[test]
    fn pruned_export_is_deterministic_and_drops_the_dead_ops() {
        let prune = |a: &Arch, seed| export_with(SpaceId::Nb201, a, 1, seed, Execution::PruneDead).unwrap();
        // The only conv (0->1) is dead: the pruned model has no cell convolution left.
        let dead = nb201("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|");
        let p = prune(&dead, 3);
        assert_eq!(p, prune(&dead, 3));
        assert_ne!(p, prune(&dead, 4));
        let (written, pruned) = (graph(&export(SpaceId::Nb201, &dead, 1, 3)), graph(&p));
        // Stem 1, two reductions of 3 each: the convolutions outside the cells.
        assert_eq!(op_count(&pruned, "Conv"), 7);
        assert_eq!(op_count(&written, "Conv"), 7 + 15);
        assert_eq!((op_count(&pruned, "Sub"), op_count(&written, "Sub")), (0, 15 * 3));
        let doc = ModelProto::decode(p.as_slice()).unwrap().doc_string;
        assert!(
            doc.contains(&SpaceId::Nb201.space().format(&dead)) && doc.contains("dead operations removed"),
            "{doc}"
        );
        // Nothing to prune: the very same bytes.
        let conv = Arch::from_genes(vec![3; 6]);
        assert_eq!(prune(&conv, 3), export(SpaceId::Nb201, &conv, 1, 3));
    }

    #[test]
    fn the_pruned_all_none_cell_exports_zeros_per_cell() {
        let none = Arch::from_genes(vec![0; 6]);
        let bytes = export_with(SpaceId::Nb201, &none, 2, 0, Execution::PruneDead).unwrap();
        let g = graph(&bytes);
        assert_eq!(op_count(&g, "Sub"), 15);
        assert_eq!((op_count(&g, "Add"), op_count(&g, "Sum")), (2, 0));
        assert_eq!(g.output[0].name, OUTPUT_NAME);
    }

    #[test]
    fn pruning_another_space_is_an_error() {
        let arch = SpaceId::Fbnet.space().sample(&mut seeded_rng(1));
        let e = export_with(SpaceId::Fbnet, &arch, 1, 0, Execution::PruneDead).unwrap_err();
        assert!(matches!(e, crate::Error::InvalidParameter(_)), "{e}");
        assert!(e.to_string().contains("fbnet") && e.to_string().contains("nb201"), "{e}");
        assert!(export_with(SpaceId::Fbnet, &arch, 1, 0, Execution::AsWritten).is_ok());
    }
}
