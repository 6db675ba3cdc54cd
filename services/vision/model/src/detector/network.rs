//! Runs a frozen TensorFlow graph (as read by `graph.rs`) in candle, channels-last.
//!
//! The graph is compiled once into a list of steps, from the placeholder to the outputs asked
//! for; nodes no output needs (the graph's own box decoding, with TopK and Gather) are never
//! compiled. The ops are the ones MobileNet-style detectors use: convolutions with their
//! BatchNorm already folded in (`_FusedConv2D`, `FusedDepthwiseConv2dNative`), the
//! element-wise arithmetic of hard-swish and squeeze-and-excite, bilinear upsampling and
//! concatenation. Anything else is refused by name when the model loads, not when it runs.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use super::graph::{Attributes, Constant, Graph, GraphError, Node};
use crate::ops::{Activation, BiasActivation, DepthwiseConv, HardSwish, Patches, Sigmoid, SpatialMean};

#[derive(Debug)]
enum Step {
    /// A convolution as one matrix product: `[pixels, k·k·in] × [k·k·in, out]`, the patches
    /// gathered first when the kernel is wider than one pixel.
    Conv {
        input: usize,
        patches: Option<Patches>,
        weight: Tensor,
        finish: BiasActivation,
    },
    Depthwise {
        input: usize,
        op: DepthwiseConv,
    },
    /// `x · relu6(x + 3) / 6`, matched from its four nodes.
    HardSwish {
        input: usize,
        op: HardSwish,
    },
    Scale {
        input: usize,
        factor: f32,
    },
    Shift {
        input: usize,
        offset: f32,
    },
    Add {
        left: usize,
        right: usize,
    },
    Mul {
        left: usize,
        right: usize,
    },
    Relu {
        input: usize,
    },
    Relu6 {
        input: usize,
    },
    Sigmoid {
        input: usize,
    },
    /// The mean over height and width, kept as `[n, 1, 1, c]`.
    SpatialMean {
        input: usize,
    },
    /// TensorFlow's ResizeBilinear without corner alignment or half-pixel centres.
    Resize {
        input: usize,
        height: usize,
        width: usize,
    },
    Concat {
        inputs: Vec<usize>,
    },
}

impl Step {
    fn inputs(&self) -> Vec<usize> {
        match self {
            Step::Conv { input, .. }
            | Step::Depthwise { input, .. }
            | Step::HardSwish { input, .. }
            | Step::Scale { input, .. }
            | Step::Shift { input, .. }
            | Step::Relu { input }
            | Step::Relu6 { input }
            | Step::Sigmoid { input }
            | Step::SpatialMean { input }
            | Step::Resize { input, .. } => vec![*input],
            Step::Add { left, right } | Step::Mul { left, right } => vec![*left, *right],
            Step::Concat { inputs } => inputs.clone(),
        }
    }
}

/// A compiled graph: value 0 is the input, value `i + 1` is what step `i` makes.
#[derive(Debug)]
pub struct Network {
    /// The placeholder's height and width, which the graph's constant sizes are for.
    nominal_input: Option<(usize, usize)>,
    steps: Vec<Step>,
    outputs: Vec<usize>,
    /// The last step that reads each value, so a value is dropped as soon as it is done with.
    last_use: Vec<usize>,
}

struct Compiler<'g> {
    graph: &'g Graph,
    input: &'g str,
    values: HashMap<String, usize>,
    steps: Vec<Step>,
}

impl Network {
    /// Compiles what `outputs` need from the placeholder `input`.
    pub fn compile(graph: &Graph, input: &str, outputs: &[&str]) -> Result<Network, GraphError> {
        let mut compiler = Compiler { graph, input, values: HashMap::new(), steps: Vec::new() };
        let outputs = outputs.iter().map(|name| compiler.value(name)).collect::<Result<Vec<_>, _>>()?;
        let steps = compiler.steps;
        let mut last_use = vec![0; steps.len() + 1];
        for (index, step) in steps.iter().enumerate() {
            for input in step.inputs() {
                last_use[input] = index;
            }
        }
        for &output in &outputs {
            last_use[output] = usize::MAX;
        }
        Ok(Network { nominal_input: placeholder_size(graph, input), steps, outputs, last_use })
    }

    /// Runs the steps on `input` (`[n, h, w, c]`, f32) and returns the outputs in the order
    /// they were asked for.
    pub fn forward(&self, input: Tensor) -> candle_core::Result<Vec<Tensor>> {
        let (_, input_height, input_width, _) = input.dims4()?;
        let (nominal_height, nominal_width) = self.nominal_input.unwrap_or((input_height, input_width));
        let mut values: Vec<Option<Tensor>> = vec![None; self.steps.len() + 1];
        values[0] = Some(input);
        for (index, step) in self.steps.iter().enumerate() {
            let get = |value: usize| values[value].as_ref().ok_or_else(|| candle_core::Error::Msg(format!("value {value} was dropped")));
            let output = match step {
                Step::Conv { input, patches, weight, finish } => {
                    let x = get(*input)?;
                    let x = match patches {
                        Some(patches) => x.apply_op1_no_bwd(patches)?,
                        None => x.clone(),
                    };
                    let (n, h, w, c) = x.dims4()?;
                    let y = x.reshape((n * h * w, c))?.matmul(weight)?;
                    // The product is a new tensor no one else holds: safe to finish in place.
                    y.inplace_op1(finish)?;
                    y.reshape((n, h, w, weight.dim(1)?))?
                }
                Step::Depthwise { input, op } => get(*input)?.apply_op1_no_bwd(op)?,
                Step::HardSwish { input, op } => {
                    let y = get(*input)?.copy()?;
                    y.inplace_op1(op)?;
                    y
                }
                Step::Scale { input, factor } => get(*input)?.affine(f64::from(*factor), 0.0)?,
                Step::Shift { input, offset } => get(*input)?.affine(1.0, f64::from(*offset))?,
                Step::Add { left, right } => get(*left)?.broadcast_add(get(*right)?)?,
                Step::Mul { left, right } => get(*left)?.broadcast_mul(get(*right)?)?,
                Step::Relu { input } => get(*input)?.relu()?,
                Step::Relu6 { input } => get(*input)?.clamp(0f32, 6f32)?,
                Step::Sigmoid { input } => get(*input)?.apply_op1_no_bwd(&Sigmoid)?,
                Step::SpatialMean { input } => get(*input)?.apply_op1_no_bwd(&SpatialMean)?,
                Step::Resize { input, height, width } => {
                    resize_bilinear(get(*input)?, height * input_height / nominal_height, width * input_width / nominal_width)?
                }
                Step::Concat { inputs } => {
                    let parts = inputs.iter().map(|&i| get(i).cloned()).collect::<candle_core::Result<Vec<_>>>()?;
                    Tensor::cat(&parts, 3)?
                }
            };
            for input in step.inputs() {
                if self.last_use[input] == index {
                    values[input] = None;
                }
            }
            values[index + 1] = Some(output);
        }
        self.outputs.iter().map(|&o| values[o].clone().ok_or_else(|| candle_core::Error::Msg("an output was dropped".into()))).collect()
    }
}

impl Compiler<'_> {
    /// The value a node's output holds, compiling the node (and what it reads) on first use.
    fn value(&mut self, name: &str) -> Result<usize, GraphError> {
        let name = name.strip_suffix(":0").unwrap_or(name);
        if name == self.input {
            return Ok(0);
        }
        if let Some(&value) = self.values.get(name) {
            return Ok(value);
        }
        let graph = self.graph;
        let node = graph.node(name).ok_or_else(|| GraphError::Read { path: graph.path.clone(), message: format!("no node `{name}`") })?;
        let step = self.step(node)?;
        let value = match step {
            Some(step) => {
                self.steps.push(step);
                self.steps.len()
            }
            None => self.value(&node.input[0])?,
        };
        self.values.insert(name.to_string(), value);
        Ok(value)
    }

    fn constant(&self, name: &str) -> Option<&Constant> {
        self.graph.constants.get(name.strip_suffix(":0").unwrap_or(name))
    }

    fn scalar(&self, name: &str) -> Option<f32> {
        match self.constant(name)? {
            Constant::F32 { values, .. } if values.len() == 1 => Some(values[0]),
            _ => None,
        }
    }

    /// The step for `node`, or `None` for one that passes its input through (Identity).
    fn step(&mut self, node: &Node) -> Result<Option<Step>, GraphError> {
        let graph = self.graph;
        let input = |i: usize| node.input.get(i).map(String::as_str).ok_or_else(|| graph.error(node, format!("has no input {i}")));
        let step = match node.op.as_str() {
            "Identity" => return Ok(None),
            "Conv2D" | "_FusedConv2D" => self.conv(node)?,
            "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => self.depthwise(node)?,
            "Mul" => {
                if let Some((input, op)) = self.hard_swish(node)? {
                    Step::HardSwish { input, op }
                } else if let Some(factor) = self.scalar(input(0)?) {
                    Step::Scale { input: self.value(input(1)?)?, factor }
                } else if let Some(factor) = self.scalar(input(1)?) {
                    Step::Scale { input: self.value(input(0)?)?, factor }
                } else {
                    Step::Mul { left: self.value(input(0)?)?, right: self.value(input(1)?)? }
                }
            }
            "Add" | "AddV2" => {
                if let Some(offset) = self.scalar(input(1)?) {
                    Step::Shift { input: self.value(input(0)?)?, offset }
                } else if let Some(offset) = self.scalar(input(0)?) {
                    Step::Shift { input: self.value(input(1)?)?, offset }
                } else {
                    Step::Add { left: self.value(input(0)?)?, right: self.value(input(1)?)? }
                }
            }
            "Relu" => Step::Relu { input: self.value(input(0)?)? },
            "Relu6" => Step::Relu6 { input: self.value(input(0)?)? },
            "Sigmoid" => Step::Sigmoid { input: self.value(input(0)?)? },
            "Mean" => {
                let axes = match self.constant(input(1)?) {
                    Some(Constant::I32 { values, .. }) => values.clone(),
                    _ => return Err(graph.error(node, "the axes are not a constant")),
                };
                if axes != [1, 2] || node.boolean("keep_dims") != Some(true) {
                    return Err(graph.error(node, format!("only a mean over height and width, kept, is run here (axes {axes:?})")));
                }
                Step::SpatialMean { input: self.value(input(0)?)? }
            }
            "ResizeBilinear" => {
                if node.boolean("align_corners") == Some(true) || node.boolean("half_pixel_centers") == Some(true) {
                    return Err(graph.error(node, "only plain bilinear resizing is run here"));
                }
                let (height, width) = match self.constant(input(1)?) {
                    Some(Constant::I32 { values, .. }) if values.len() == 2 && values.iter().all(|&v| v > 0) => {
                        (values[0] as usize, values[1] as usize)
                    }
                    _ => return Err(graph.error(node, "the size is not a constant [height, width]")),
                };
                Step::Resize { input: self.value(input(0)?)?, height, width }
            }
            "ConcatV2" => {
                let (axis, parts) = node.input.split_last().ok_or_else(|| graph.error(node, "has no inputs"))?;
                match self.constant(axis) {
                    Some(Constant::I32 { values, .. }) if values == &[3] || values == &[-1] => {}
                    _ => return Err(graph.error(node, "only concatenation along channels is run here")),
                }
                Step::Concat { inputs: parts.iter().map(|p| self.value(p)).collect::<Result<_, _>>()? }
            }
            other => return Err(graph.error(node, format!("the op {other} is not run here"))),
        };
        Ok(Some(step))
    }

    /// Strides and the padding mode, checked: equal strides, no dilation, NHWC.
    fn geometry(&self, node: &Node, kernel: usize) -> Result<usize, GraphError> {
        let graph = self.graph;
        if node.string("data_format").is_some_and(|f| f != "NHWC") {
            return Err(graph.error(node, "only NHWC is run here"));
        }
        if node.ints("dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
            return Err(graph.error(node, "dilated convolutions are not run here"));
        }
        let stride = match node.ints("strides").as_deref() {
            Some([1, h, w, 1]) if h == w && *h > 0 => *h as usize,
            other => return Err(graph.error(node, format!("strides {other:?} are not run here"))),
        };
        match node.string("padding").as_deref() {
            Some("SAME") => {}
            // Without a border to pad, VALID and SAME are the same convolution.
            Some("VALID") if kernel == 1 => {}
            other => return Err(graph.error(node, format!("padding {other:?} is not run here"))),
        }
        Ok(stride)
    }

    /// The bias (zeros without a BiasAdd) and the activation a fused op ends with.
    fn fused(&self, node: &Node, channels: usize) -> Result<BiasActivation, GraphError> {
        let graph = self.graph;
        let ops = node.strings("fused_ops");
        let mut bias = vec![0.0; channels];
        let mut activation = Activation::Linear;
        for op in &ops {
            match op.as_str() {
                "BiasAdd" => {
                    let name = node.input.get(2).ok_or_else(|| graph.error(node, "BiasAdd without a bias"))?;
                    bias = match self.constant(name) {
                        Some(Constant::F32 { values, .. }) if values.len() == channels => values.clone(),
                        _ => return Err(graph.error(node, format!("the bias is not {channels} constants"))),
                    };
                }
                "Relu" => activation = Activation::Relu,
                "Relu6" => activation = Activation::Relu6,
                other => return Err(graph.error(node, format!("the fused op {other} is not run here"))),
            }
        }
        Ok(BiasActivation { bias, activation })
    }

    fn conv(&mut self, node: &Node) -> Result<Step, GraphError> {
        let graph = self.graph;
        let (shape, weights) = match node.input.get(1).and_then(|w| self.constant(w)) {
            Some(Constant::F32 { shape, values }) if shape.len() == 4 => (shape.clone(), values.clone()),
            _ => return Err(graph.error(node, "the filter is not a constant [k, k, in, out]")),
        };
        let [kh, kw, channels_in, channels_out] = [shape[0], shape[1], shape[2], shape[3]];
        if kh != kw {
            return Err(graph.error(node, format!("a {kh}×{kw} kernel is not run here")));
        }
        let stride = self.geometry(node, kh)?;
        let finish = self.fused(node, channels_out)?;
        // TensorFlow's filter layout, [k, k, in, out], is already rows of the patch matrix.
        let weight =
            Tensor::from_vec(weights, (kh * kw * channels_in, channels_out), &Device::Cpu).map_err(|e| graph.error(node, e.to_string()))?;
        let patches = (kh > 1 || stride > 1).then_some(Patches { kernel: kh, stride });
        Ok(Step::Conv { input: self.value(&node.input[0])?, patches, weight, finish })
    }

    fn depthwise(&mut self, node: &Node) -> Result<Step, GraphError> {
        let graph = self.graph;
        let (shape, weights) = match node.input.get(1).and_then(|w| self.constant(w)) {
            Some(Constant::F32 { shape, values }) if shape.len() == 4 && shape[3] == 1 => (shape.clone(), values.clone()),
            _ => return Err(graph.error(node, "the filter is not a constant [k, k, channels, 1]")),
        };
        if shape[0] != shape[1] {
            return Err(graph.error(node, format!("a {}×{} kernel is not run here", shape[0], shape[1])));
        }
        let stride = self.geometry(node, shape[0])?;
        let BiasActivation { bias, activation } = self.fused(node, shape[2])?;
        let op = DepthwiseConv { weights, bias, kernel: shape[0], stride, activation };
        Ok(Step::Depthwise { input: self.value(&node.input[0])?, op })
    }

    /// MobileNetV3's hard-swish as the converter leaves it: `Mul(Mul(1/6, x), Relu6(Add(x, 3)))`.
    /// The input `x` when `node` is one.
    fn hard_swish(&mut self, node: &Node) -> Result<Option<(usize, HardSwish)>, GraphError> {
        let graph = self.graph;
        let [left, right] = node.input.as_slice() else { return Ok(None) };
        let (Some(scaled), Some(clamped)) = (graph.node(left), graph.node(right)) else { return Ok(None) };
        if scaled.op != "Mul" || clamped.op != "Relu6" {
            return Ok(None);
        }
        let Some(shifted) = clamped.input.first().and_then(|n| graph.node(n)) else { return Ok(None) };
        if shifted.op != "Add" && shifted.op != "AddV2" {
            return Ok(None);
        }
        let sixth = scaled.input.iter().find_map(|n| self.scalar(n));
        let three = shifted.input.iter().find_map(|n| self.scalar(n));
        let x = scaled.input.iter().find(|n| self.scalar(n).is_none());
        let x_again = shifted.input.iter().find(|n| self.scalar(n).is_none());
        match (x, x_again, sixth) {
            (Some(x), Some(x_again), Some(sixth)) if x == x_again && (sixth - 1.0 / 6.0).abs() < 1e-3 && three == Some(3.0) => {
                Ok(Some((self.value(x)?, HardSwish { sixth })))
            }
            _ => Ok(None),
        }
    }
}

/// The placeholder's `[n, h, w, c]` shape attribute as (h, w), when it states one.
fn placeholder_size(graph: &Graph, input: &str) -> Option<(usize, usize)> {
    let dims = graph.node(input)?.attr.get("shape")?.get("shape")?.get("dim")?.as_array()?;
    let size = |i: usize| dims.get(i)?.get("size")?.as_str()?.parse::<usize>().ok().filter(|&s| s > 0);
    Some((size(1)?, size(2)?))
}

/// TensorFlow's `ResizeBilinear` (no corner alignment, no half-pixel centres): output pixel
/// `y` reads input row `y · in / out`, interpolating with the next row, clamped at the edge.
fn resize_bilinear(x: &Tensor, height: usize, width: usize) -> candle_core::Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let input = x.flatten_all()?.to_vec1::<f32>()?;
    let taps = |out: usize, size: usize| -> Vec<(usize, usize, f32)> {
        (0..out)
            .map(|o| {
                let at = o as f32 * size as f32 / out as f32;
                let low = (at.floor() as usize).min(size - 1);
                (low, (low + 1).min(size - 1), at - low as f32)
            })
            .collect()
    };
    let (rows, columns) = (taps(height, h), taps(width, w));
    let mut output = vec![0f32; n * height * width * c];
    for image in 0..n {
        let source = &input[image * h * w * c..(image + 1) * h * w * c];
        for (y, &(y0, y1, dy)) in rows.iter().enumerate() {
            for (x, &(x0, x1, dx)) in columns.iter().enumerate() {
                let out = &mut output[((image * height + y) * width + x) * c..][..c];
                let [a, b, d, e] = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)].map(|(yy, xx)| &source[(yy * w + xx) * c..][..c]);
                for ch in 0..c {
                    let top = a[ch] + (b[ch] - a[ch]) * dx;
                    let bottom = d[ch] + (e[ch] - d[ch]) * dx;
                    out[ch] = top + (bottom - top) * dy;
                }
            }
        }
    }
    Tensor::from_vec(output, (n, height, width, c), x.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_doubling_repeats_tensorflows_arithmetic() {
        // One row [0, 10] doubled: TensorFlow gives [0, 5, 10, 10] (the last clamps).
        let x = Tensor::from_vec(vec![0f32, 10.0], (1, 1, 2, 1), &Device::Cpu).unwrap();
        let y = resize_bilinear(&x, 2, 4).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(y, vec![0.0, 5.0, 10.0, 10.0, 0.0, 5.0, 10.0, 10.0]);
    }
}
