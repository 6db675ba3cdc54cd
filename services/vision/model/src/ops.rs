//! The two convolutions candle has no fast CPU path for, on channels-last (NHWC) f32 tensors,
//! and the bias and activation that finish a matrix product in place.
//!
//! candle runs a grouped convolution as one convolution per group; a depthwise layer of 480
//! channels would be 480 tiny convolutions. Here it is one pass with the channel loop
//! innermost, where the compiler vectorises it. The stem's 3-channel convolution becomes a
//! matrix product over image patches. Both pad like TensorFlow's "SAME", which is what the
//! network was trained with: the extra row or column goes at the bottom and right.

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, Layout, Shape};
use rayon::prelude::*;

/// Output size and leading padding of a TensorFlow "SAME" convolution along one axis.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let output = input.div_ceil(stride);
    let total = ((output - 1) * stride + kernel).saturating_sub(input);
    (output, total / 2)
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<(&'a [f32], [usize; 4])> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg(format!("{op}: input must be contiguous")))?;
    let dims: [usize; 4] =
        layout.dims().try_into().map_err(|_| candle_core::Error::Msg(format!("{op}: input must be NHWC, got {:?}", layout.dims())))?;
    Ok((&storage.as_slice::<f32>()?[start..end], dims))
}

/// What follows a convolution's bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Relu6,
}

impl Activation {
    #[inline]
    fn apply(self, value: f32) -> f32 {
        match self {
            Activation::Linear => value,
            Activation::Relu => value.max(0.0),
            Activation::Relu6 => value.clamp(0.0, 6.0),
        }
    }
}

/// The f32 values an in-place op may change, checked to be contiguous.
fn contiguous_f32_mut<'a>(storage: &'a mut CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'a mut [f32]> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg(format!("{op}: input must be contiguous")))?;
    let CpuStorage::F32(values) = storage else { candle_core::bail!("{op}: f32 only") };
    Ok(&mut values[start..end])
}

/// A depthwise convolution with its BatchNorm folded into weights and bias, then an activation.
#[derive(Debug, Clone)]
pub struct DepthwiseConv {
    /// `[kernel, kernel, channels]`.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub kernel: usize,
    pub stride: usize,
    pub activation: Activation,
}

impl CustomOp1 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "depthwise-conv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [batch, height, width, channels]) = contiguous_f32(storage, layout, self.name())?;
        if channels != self.bias.len() {
            candle_core::bail!("depthwise-conv: {channels} channels in, weights for {}", self.bias.len());
        }
        let (k, stride) = (self.kernel, self.stride);
        let (out_h, pad_top) = same_padding(height, k, stride);
        let (out_w, pad_left) = same_padding(width, k, stride);
        let mut output = vec![0f32; batch * out_h * out_w * channels];
        // One output row per task: rows are independent and large enough to be worth a thread.
        output.par_chunks_mut(out_w * channels).enumerate().for_each(|(row, out_row)| {
            let (n, oy) = (row / out_h, row % out_h);
            let image = &input[n * height * width * channels..(n + 1) * height * width * channels];
            for ox in 0..out_w {
                let acc = &mut out_row[ox * channels..(ox + 1) * channels];
                acc.copy_from_slice(&self.bias);
                for ky in 0..k {
                    let Some(iy) = (oy * stride + ky).checked_sub(pad_top).filter(|&y| y < height) else { continue };
                    for kx in 0..k {
                        let Some(ix) = (ox * stride + kx).checked_sub(pad_left).filter(|&x| x < width) else { continue };
                        let pixel = &image[(iy * width + ix) * channels..][..channels];
                        let weight = &self.weights[(ky * k + kx) * channels..][..channels];
                        for ((a, p), w) in acc.iter_mut().zip(pixel).zip(weight) {
                            *a += p * w;
                        }
                    }
                }
                for a in acc.iter_mut() {
                    *a = self.activation.apply(*a);
                }
            }
        });
        Ok((CpuStorage::F32(output), Shape::from((batch, out_h, out_w, channels))))
    }
}

/// Adds a per-channel bias to a `[pixels, channels]` matrix product and applies the
/// activation: one pass, in place, where candle would take three passes and three new tensors.
#[derive(Debug, Clone)]
pub struct BiasActivation {
    pub bias: Vec<f32>,
    pub activation: Activation,
}

impl InplaceOp1 for BiasActivation {
    fn name(&self) -> &'static str {
        "bias-activation"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let channels = self.bias.len();
        if layout.dims().last() != Some(&channels) {
            candle_core::bail!("bias-activation: {:?} does not end in {channels} channels", layout.dims());
        }
        contiguous_f32_mut(storage, layout, self.name())?.par_chunks_mut(channels * 64).for_each(|rows| {
            for row in rows.chunks_exact_mut(channels) {
                for (value, bias) in row.iter_mut().zip(&self.bias) {
                    *value = self.activation.apply(*value + bias);
                }
            }
        });
        Ok(())
    }
}

/// Hard swish, `x · relu6(x + 3) · sixth` (MobileNetV3), in place. `sixth` is the graph's own
/// constant (fp16 stores 1/6 as 0.1666, and the network was converted with that).
#[derive(Debug, Clone, Copy)]
pub struct HardSwish {
    pub sixth: f32,
}

impl InplaceOp1 for HardSwish {
    fn name(&self) -> &'static str {
        "hard-swish"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        contiguous_f32_mut(storage, layout, self.name())?.par_chunks_mut(1 << 14).for_each(|chunk| {
            for value in chunk {
                *value *= (*value + 3.0).clamp(0.0, 6.0) * self.sixth;
            }
        });
        Ok(())
    }
}

/// The mean of each channel over height and width, `[n, h, w, c]` → `[n, 1, 1, c]`, in one
/// pass (candle reduces one axis at a time, through a strided copy of the whole tensor).
#[derive(Debug, Clone, Copy)]
pub struct SpatialMean;

impl CustomOp1 for SpatialMean {
    fn name(&self) -> &'static str {
        "spatial-mean"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [batch, height, width, channels]) = contiguous_f32(storage, layout, self.name())?;
        let pixels = height * width;
        let mut output = vec![0f32; batch * channels];
        for (image, sums) in input.chunks_exact(pixels * channels).zip(output.chunks_exact_mut(channels)) {
            for pixel in image.chunks_exact(channels) {
                for (sum, value) in sums.iter_mut().zip(pixel) {
                    *sum += value;
                }
            }
            for sum in sums.iter_mut() {
                *sum /= pixels as f32;
            }
        }
        Ok((CpuStorage::F32(output), Shape::from((batch, 1, 1, channels))))
    }
}

/// The logistic function, in one pass where candle takes four.
#[derive(Debug, Clone, Copy)]
pub struct Sigmoid;

impl CustomOp1 for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (start, end) =
            layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("sigmoid: input must be contiguous".into()))?;
        let CpuStorage::F32(values) = storage else { candle_core::bail!("sigmoid: f32 only") };
        let mut output = values[start..end].to_vec();
        output.par_chunks_mut(1 << 14).for_each(|chunk| {
            for value in chunk {
                *value = 1.0 / (1.0 + (-*value).exp());
            }
        });
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }
}

/// The image patches a `kernel`×`kernel` "SAME" convolution with `stride` reads, one row of
/// `kernel * kernel * channels` values (row, column, channel order) per output pixel.
#[derive(Debug, Clone, Copy)]
pub struct Patches {
    pub kernel: usize,
    pub stride: usize,
}

impl CustomOp1 for Patches {
    fn name(&self) -> &'static str {
        "patches"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, [batch, height, width, channels]) = contiguous_f32(storage, layout, self.name())?;
        let (k, stride) = (self.kernel, self.stride);
        let (out_h, pad_top) = same_padding(height, k, stride);
        let (out_w, pad_left) = same_padding(width, k, stride);
        let patch = k * k * channels;
        let mut output = vec![0f32; batch * out_h * out_w * patch];
        output.par_chunks_mut(out_w * patch).enumerate().for_each(|(row, out_row)| {
            let (n, oy) = (row / out_h, row % out_h);
            let image = &input[n * height * width * channels..(n + 1) * height * width * channels];
            for ox in 0..out_w {
                for ky in 0..k {
                    let Some(iy) = (oy * stride + ky).checked_sub(pad_top).filter(|&y| y < height) else { continue };
                    for kx in 0..k {
                        let Some(ix) = (ox * stride + kx).checked_sub(pad_left).filter(|&x| x < width) else { continue };
                        let at = ox * patch + (ky * k + kx) * channels;
                        out_row[at..at + channels].copy_from_slice(&image[(iy * width + ix) * channels..][..channels]);
                    }
                }
            }
        });
        Ok((CpuStorage::F32(output), Shape::from((batch, out_h, out_w, patch))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_after() {
        assert_eq!(same_padding(224, 3, 2), (112, 0));
        assert_eq!(same_padding(112, 3, 1), (112, 1));
        assert_eq!(same_padding(28, 5, 2), (14, 1));
        assert_eq!(same_padding(7, 5, 1), (7, 2));
    }

    /// A direct, unoptimised "SAME" convolution to check the ops against.
    fn naive(input: &[f32], dims: [usize; 4], weights: impl Fn(usize, usize, usize) -> f32, k: usize, stride: usize) -> Vec<f32> {
        let [batch, h, w, c] = dims;
        let (oh, pt) = same_padding(h, k, stride);
        let (ow, pl) = same_padding(w, k, stride);
        let mut out = Vec::new();
        for n in 0..batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let mut acc = 0.0;
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = ((oy * stride + ky) as isize - pt as isize, (ox * stride + kx) as isize - pl as isize);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += input[((n * h + iy as usize) * w + ix as usize) * c + ch] * weights(ky, kx, ch);
                                }
                            }
                        }
                        out.push(acc);
                    }
                }
            }
        }
        out
    }

    fn ramp(len: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 37 % 101) as f32 - 50.0) / 60.0).collect()
    }

    #[test]
    fn depthwise_matches_a_direct_convolution_with_stride_and_odd_sizes() {
        let dims = [2, 7, 9, 5];
        let input = ramp(dims.iter().product());
        for (k, stride) in [(3, 1), (3, 2), (5, 2), (5, 1)] {
            let weights = ramp(k * k * 5).iter().map(|w| w * 0.7).collect::<Vec<_>>();
            let op = DepthwiseConv { weights: weights.clone(), bias: vec![0.0; 5], kernel: k, stride, activation: Activation::Relu6 };
            let x = Tensor::from_vec(input.clone(), dims.to_vec(), &Device::Cpu).unwrap();
            let got = x.apply_op1_no_bwd(&op).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let expected = naive(&input, dims, |ky, kx, c| weights[(ky * k + kx) * 5 + c], k, stride);
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e.clamp(0.0, 6.0)).abs() < 1e-5, "k {k} stride {stride}: {g} vs {e}");
            }
        }
    }

    #[test]
    fn the_spatial_mean_and_the_sigmoid_agree_with_candle() {
        let x = Tensor::from_vec(ramp(2 * 3 * 4 * 5), (2, 3, 4, 5), &Device::Cpu).unwrap();
        let ours = x.apply_op1_no_bwd(&SpatialMean).unwrap();
        let candles = x.mean_keepdim(1).unwrap().mean_keepdim(2).unwrap();
        assert_eq!(ours.dims(), candles.dims());
        let difference = (ours - candles).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(difference < 1e-6, "{difference}");
        let ours = x.apply_op1_no_bwd(&Sigmoid).unwrap();
        let candles = (x.neg().unwrap().exp().unwrap() + 1.0).unwrap().recip().unwrap();
        let difference = (ours - candles).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(difference < 1e-6, "{difference}");
    }

    #[test]
    fn patches_times_weights_is_the_convolution() {
        let dims = [1, 6, 5, 3];
        let input = ramp(dims.iter().product());
        let (k, stride) = (3, 2);
        let x = Tensor::from_vec(input.clone(), dims.to_vec(), &Device::Cpu).unwrap();
        let patches = x.apply_op1_no_bwd(&Patches { kernel: k, stride }).unwrap();
        assert_eq!(patches.dims(), &[1, 3, 3, 27]);
        // One output channel that sums channel 1 of the patch: the same as a depthwise check.
        let rows = patches.flatten_to(2).unwrap().to_vec2::<f32>().unwrap();
        let expected = naive(&input, dims, |_, _, c| if c == 1 { 1.0 } else { 0.0 }, k, stride);
        for (pixel, row) in rows.iter().enumerate() {
            let sum: f32 = row.chunks(3).map(|rgb| rgb[1]).sum();
            assert!((sum - expected[pixel * 3 + 1]).abs() < 1e-5, "pixel {pixel}");
        }
    }
}
