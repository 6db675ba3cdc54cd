//! EfficientNet-Lite0 (ImageNet-1k) in candle, channels-last.
//!
//! Lite0 is EfficientNet-B0 made for phones and microcontrollers: ReLU6 instead of swish, no
//! squeeze-and-excitation, a fixed stem and head. The checkpoint is lukemelas-style PyTorch
//! (`_blocks.N._depthwise_conv.weight`, ...), converted to safetensors by `cabin-models`.
//! BatchNorm (eps 1e-3, as in TensorFlow) is folded into the convolution before it at load
//! time, so inference is convolutions, ReLU6 and one matrix product per 1×1 layer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use thiserror::Error;

use crate::ops::{Activation, BiasActivation, DepthwiseConv, Patches};

/// TensorFlow's BatchNorm epsilon, which the network was trained with.
const BATCH_NORM_EPS: f32 = 1e-3;
pub const INPUT_SIZE: usize = 224;
pub const CLASSES: usize = 1000;

/// Stages of Lite0: (repeats, kernel, first stride, expansion, output channels).
const STAGES: [(usize, usize, usize, usize, usize); 7] =
    [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)];

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{}: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("{}: weight `{name}`: {message}", path.display())]
    Weight { path: PathBuf, name: String, message: String },
    #[error("the image classifier: {0}")]
    Run(#[from] candle_core::Error),
}

/// A 1×1 convolution as a matrix product: `[pixels, in] × [in, out] + bias`, then ReLU6 for
/// all but the projections.
#[derive(Debug)]
struct Pointwise {
    weight: Tensor,
    bias_activation: BiasActivation,
}

impl Pointwise {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        // The product is a new tensor no one else holds: safe to finish in place.
        let y = x.reshape((n * h * w, c))?.matmul(&self.weight)?;
        y.inplace_op1(&self.bias_activation)?;
        y.reshape((n, h, w, self.weight.dim(1)?))
    }
}

#[derive(Debug)]
struct Block {
    expand: Option<Pointwise>,
    depthwise: DepthwiseConv,
    project: Pointwise,
    residual: bool,
}

impl Block {
    fn forward(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        let x = match &self.expand {
            Some(expand) => expand.forward(input)?,
            None => input.clone(),
        };
        let x = self.project.forward(&x.apply_op1_no_bwd(&self.depthwise)?)?;
        if self.residual {
            x + input
        } else {
            Ok(x)
        }
    }
}

#[derive(Debug)]
pub struct EfficientNetLite0 {
    /// The stem's 3×3 stride-2 convolution, as a product over patches: `[27, 32]`.
    stem: Pointwise,
    blocks: Vec<Block>,
    head: Pointwise,
    classifier: Pointwise,
}

/// The checkpoint's tensors by name, with the file they came from for errors.
struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    fn get(&self, name: &str, dims: &[usize]) -> Result<Vec<f32>, ModelError> {
        let error = |message: String| ModelError::Weight { path: self.path.clone(), name: name.to_string(), message };
        let tensor = self.tensors.get(name).ok_or_else(|| error("missing".into()))?;
        if tensor.dims() != dims {
            return Err(error(format!("shape {:?}, expected {dims:?}", tensor.dims())));
        }
        let values = tensor.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>());
        values.map_err(|e| error(e.to_string()))
    }

    /// BatchNorm `prefix` as the per-channel (scale, shift) it applies at inference.
    fn batch_norm(&self, prefix: &str, channels: usize) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let gamma = self.get(&format!("{prefix}.weight"), &[channels])?;
        let beta = self.get(&format!("{prefix}.bias"), &[channels])?;
        let mean = self.get(&format!("{prefix}.running_mean"), &[channels])?;
        let var = self.get(&format!("{prefix}.running_var"), &[channels])?;
        let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + BATCH_NORM_EPS).sqrt()).collect();
        let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        Ok((scale, shift))
    }

    /// A bias-free convolution `[out, in, k, k]` followed by BatchNorm, folded, laid out as
    /// `[k, k, in, out]` (rows of the patch matrix times output channels).
    fn conv_bn(&self, conv: &str, bn: &str, out: usize, inp: usize, k: usize) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let weight = self.get(&format!("{conv}.weight"), &[out, inp, k, k])?;
        let (scale, shift) = self.batch_norm(bn, out)?;
        let mut folded = vec![0f32; k * k * inp * out];
        for o in 0..out {
            for i in 0..inp {
                for ky in 0..k {
                    for kx in 0..k {
                        folded[((ky * k + kx) * inp + i) * out + o] = weight[((o * inp + i) * k + ky) * k + kx] * scale[o];
                    }
                }
            }
        }
        Ok((folded, shift))
    }

    fn pointwise(&self, conv: &str, bn: &str, out: usize, inp: usize, relu6: bool) -> Result<Pointwise, ModelError> {
        let (weight, bias) = self.conv_bn(conv, bn, out, inp, 1)?;
        pointwise(weight, bias, inp, out, relu6)
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn pointwise(weight: Vec<f32>, bias: Vec<f32>, inp: usize, out: usize, relu6: bool) -> Result<Pointwise, ModelError> {
    let activation = if relu6 { Activation::Relu6 } else { Activation::Linear };
    Ok(Pointwise { weight: Tensor::from_vec(weight, (inp, out), &Device::Cpu)?, bias_activation: BiasActivation { bias, activation } })
}

impl EfficientNetLite0 {
    /// Loads the converted checkpoint (`efficientnet-lite0.safetensors`).
    pub fn load(path: &Path) -> Result<EfficientNetLite0, ModelError> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| ModelError::Load { path: path.to_owned(), message: e.to_string() })?;
        let weights = Weights { path: path.to_owned(), tensors };

        let (stem_weight, stem_bias) = weights.conv_bn("_conv_stem", "_bn0", 32, 3, 3)?;
        let stem = pointwise(stem_weight, stem_bias, 27, 32, true)?;

        let mut blocks = Vec::new();
        let mut channels = 32;
        for (repeats, kernel, first_stride, expansion, out) in STAGES {
            for repeat in 0..repeats {
                let prefix = format!("_blocks.{}", blocks.len());
                let stride = if repeat == 0 { first_stride } else { 1 };
                let hidden = channels * expansion;
                let expand = if expansion == 1 {
                    if weights.has(&format!("{prefix}._expand_conv.weight")) {
                        return Err(ModelError::Load {
                            path: path.to_owned(),
                            message: format!("{prefix} expands: not EfficientNet-Lite0"),
                        });
                    }
                    None
                } else {
                    Some(weights.pointwise(&format!("{prefix}._expand_conv"), &format!("{prefix}._bn0"), hidden, channels, true)?)
                };
                let (dw_weight, dw_bias) =
                    weights.conv_bn(&format!("{prefix}._depthwise_conv"), &format!("{prefix}._bn1"), hidden, 1, kernel)?;
                let depthwise = DepthwiseConv { weights: dw_weight, bias: dw_bias, kernel, stride, activation: Activation::Relu6 };
                let project = weights.pointwise(&format!("{prefix}._project_conv"), &format!("{prefix}._bn2"), out, hidden, false)?;
                blocks.push(Block { expand, depthwise, project, residual: stride == 1 && channels == out });
                channels = out;
            }
        }
        let head = weights.pointwise("_conv_head", "_bn1", 1280, channels, true)?;
        let fc_weight = weights.get("_fc.weight", &[CLASSES, 1280])?;
        let fc_bias = weights.get("_fc.bias", &[CLASSES])?;
        let transposed = (0..1280 * CLASSES).map(|i| fc_weight[(i % CLASSES) * 1280 + i / CLASSES]).collect();
        let classifier = pointwise(transposed, fc_bias, 1280, CLASSES, false)?;
        Ok(EfficientNetLite0 { stem, blocks, head, classifier })
    }

    /// Class logits `[batch, 1000]` for normalised images `[batch, 224, 224, 3]` (see
    /// [`crate::preprocess`]).
    pub fn forward(&self, images: &Tensor) -> Result<Tensor, ModelError> {
        let patches = images.apply_op1_no_bwd(&Patches { kernel: 3, stride: 2 })?;
        let mut x = self.stem.forward(&patches)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = self.head.forward(&x)?;
        let (n, h, w, c) = x.dims4()?;
        let pooled = x.reshape((n, h * w, c))?.mean(1)?.reshape((n, 1, 1, c))?;
        Ok(self.classifier.forward(&pooled)?.reshape((n, CLASSES))?)
    }

    /// Class probabilities, one row of 1000 per image.
    pub fn probabilities(&self, images: &Tensor) -> Result<Vec<Vec<f32>>, ModelError> {
        let logits = self.forward(images)?;
        let exp = logits.broadcast_sub(&logits.max_keepdim(1)?)?.exp()?;
        Ok(exp.broadcast_div(&exp.sum_keepdim(1)?)?.to_vec2::<f32>()?)
    }
}
