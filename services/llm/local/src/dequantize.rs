//! Dequantizing a weight matrix for a prompt. candle's own dequantization reads each block in
//! scalar code: for Qwen2.5-0.5B that took 0.2-0.4 s per prompt, most of a short prompt's
//! time. The older block formats small models mostly use are simple enough that plain loops
//! over fixed-size blocks vectorize: about twice as fast, which leaves the writing of the f32
//! matrix the limit (so more threads gain little). Other formats are left to candle's kernels.
//!
//! Each block holds 32 weights: an f16 scale `d` (and an f16 offset `m` in the `_1` formats),
//! then the quantized values. In the 4- and 5-bit formats, byte `j` of `qs` holds weight `j` in
//! its low nibble and weight `j + 16` in its high one; the 5-bit formats keep each weight's
//! fifth bit in the 32-bit `qh`.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor};

const WEIGHTS_PER_BLOCK: usize = 32;

/// The matrix as f32, or None if [`is_fast`] is false for its format.
pub fn dequantize(table: &QTensor, device: &Device) -> Result<Option<Tensor>> {
    let Some((block_bytes, block)) = block_format(table.dtype()) else {
        return Ok(None);
    };
    let bytes = table.data()?;
    let weights = table.shape().elem_count();
    if !weights.is_multiple_of(WEIGHTS_PER_BLOCK) || bytes.len() != weights / WEIGHTS_PER_BLOCK * block_bytes {
        candle_core::bail!("a {:?} matrix of {weights} weights holds {} bytes", table.dtype(), bytes.len());
    }
    // Filled block by block rather than zeroed first: writing the matrix is most of the cost.
    let mut out = Vec::with_capacity(weights);
    let mut weights = [0f32; WEIGHTS_PER_BLOCK];
    for bytes in bytes.chunks_exact(block_bytes) {
        block(bytes, &mut weights);
        out.extend_from_slice(&weights);
    }
    Tensor::from_vec(out, table.shape().clone(), device).map(Some)
}

/// Whether [`dequantize`] reads `dtype`.
pub fn is_fast(dtype: GgmlDType) -> bool {
    block_format(dtype).is_some()
}

type Block = fn(&[u8], &mut [f32; WEIGHTS_PER_BLOCK]);

/// Bytes per block and how to read one, for the formats done here.
fn block_format(dtype: GgmlDType) -> Option<(usize, Block)> {
    match dtype {
        GgmlDType::Q4_0 => Some((18, q4_0)),
        GgmlDType::Q4_1 => Some((20, q4_1)),
        GgmlDType::Q5_0 => Some((22, q5_0)),
        GgmlDType::Q5_1 => Some((24, q5_1)),
        GgmlDType::Q8_0 => Some((34, q8_0)),
        _ => None,
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Weight `j`'s fifth bit in a 5-bit block's `qh`, as 0 or 16. Taken per weight in the loop:
/// spread to an array of 32 first, the loop did not vectorize (with AVX2, a 4,864 × 896 Q5_0
/// matrix took 20 ms instead of 2, three times candle's 6.6).
fn fifth_bit(qh: u32, j: usize) -> u32 {
    ((qh >> j) & 1) << 4
}

fn qh_at(block: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]])
}

fn q4_0(block: &[u8], out: &mut [f32; WEIGHTS_PER_BLOCK]) {
    let d = f16_at(block, 0);
    let qs = &block[2..18];
    for j in 0..16 {
        out[j] = ((qs[j] & 0x0F) as i32 - 8) as f32 * d;
        out[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

fn q4_1(block: &[u8], out: &mut [f32; WEIGHTS_PER_BLOCK]) {
    let (d, m) = (f16_at(block, 0), f16_at(block, 2));
    let qs = &block[4..20];
    for j in 0..16 {
        out[j] = (qs[j] & 0x0F) as f32 * d + m;
        out[j + 16] = (qs[j] >> 4) as f32 * d + m;
    }
}

fn q5_0(block: &[u8], out: &mut [f32; WEIGHTS_PER_BLOCK]) {
    let (d, qh) = (f16_at(block, 0), qh_at(block, 2));
    let qs = &block[6..22];
    for j in 0..16 {
        out[j] = ((u32::from(qs[j] & 0x0F) | fifth_bit(qh, j)) as i32 - 16) as f32 * d;
        out[j + 16] = ((u32::from(qs[j] >> 4) | fifth_bit(qh, j + 16)) as i32 - 16) as f32 * d;
    }
}

fn q5_1(block: &[u8], out: &mut [f32; WEIGHTS_PER_BLOCK]) {
    let (d, m, qh) = (f16_at(block, 0), f16_at(block, 2), qh_at(block, 4));
    let qs = &block[8..24];
    for j in 0..16 {
        out[j] = (u32::from(qs[j] & 0x0F) | fifth_bit(qh, j)) as f32 * d + m;
        out[j + 16] = (u32::from(qs[j] >> 4) | fifth_bit(qh, j + 16)) as f32 * d + m;
    }
}

fn q8_0(block: &[u8], out: &mut [f32; WEIGHTS_PER_BLOCK]) {
    let d = f16_at(block, 0);
    for (out, &q) in out.iter_mut().zip(&block[2..34]) {
        *out = q as i8 as f32 * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn each_block_format_reads_as_candle_reads_it() {
        let device = Device::Cpu;
        let original = Tensor::randn(0f32, 1.0, (70, 1024), &device).unwrap();
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1, GgmlDType::Q8_0] {
            let table = QTensor::quantize(&original, dtype).unwrap();
            let candles = table.dequantize(&device).unwrap().to_vec2::<f32>().unwrap();
            let ours = dequantize(&table, &device).unwrap().unwrap().to_vec2::<f32>().unwrap();
            for (row, (ours, candles)) in ours.iter().zip(&candles).enumerate() {
                for (column, (a, b)) in ours.iter().zip(candles).enumerate() {
                    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{dtype:?} [{row}, {column}]: ours {a}, candle's {b}");
                }
            }
        }
    }

    #[test]
    fn other_formats_are_left_to_candle() {
        let table = QTensor::quantize(&Tensor::zeros((4, 256), DType::F32, &Device::Cpu).unwrap(), GgmlDType::Q4K).unwrap();
        assert!(!is_fast(GgmlDType::Q4K));
        assert!(dequantize(&table, &Device::Cpu).unwrap().is_none());
    }
}
