//! A few tokens through a Q5_0 matrix, with AVX2.
//!
//! Most of Qwen2.5-0.5B's weights are Q5_0, and candle 0.11 has no vector kernel for that
//! format: its product is the generic loop, which was 46 % of decoding time here (perf), at a
//! third of the speed of its AVX Q8_0 kernel on the same matrix. This one reads a block as
//! llama.cpp's does: the 32 five-bit weights are spread to bytes (low nibbles, then the fifth
//! bits from `qh` through a byte shuffle), multiplied with the token's 8-bit values in pairs
//! (`maddubs`), and each block's sum is scaled into eight float lanes, summed once per row.
//!
//! `pulp` gives the AVX2 instructions as safe functions once the CPU is known to have them,
//! so no `unsafe` is written here; without AVX2 (or off x86-64) candle's own path runs.
//!
//! Block layout (22 bytes for 32 weights): an f16 scale `d`, the 32 fifth bits in a
//! little-endian `qh`, then 16 bytes whose low nibbles are weights 0-15 and high nibbles
//! weights 16-31; a weight is `d * (q - 16)`.

use rayon::prelude::*;

pub const BLOCK_BYTES: usize = 22;
const WEIGHTS_PER_BLOCK: usize = 32;
/// Output rows per task: enough work to pay for the hand-over, small enough to share out.
const ROWS_PER_TASK: usize = 64;

/// A token quantized as llama.cpp's Q8_0 does for this product: blocks of 32 values, each
/// block's largest magnitude mapped to 127.
struct Quantized {
    scales: Vec<f32>,
    values: Vec<i8>,
    /// Each block's sum of values: the weights' offset of 16 is taken off through it.
    sums: Vec<i32>,
}

impl Quantized {
    fn new(x: &[f32]) -> Quantized {
        let blocks = x.len() / WEIGHTS_PER_BLOCK;
        let mut quantized =
            Quantized { scales: Vec::with_capacity(blocks), values: Vec::with_capacity(x.len()), sums: Vec::with_capacity(blocks) };
        for block in x.chunks_exact(WEIGHTS_PER_BLOCK) {
            let largest = block.iter().fold(0f32, |largest, v| largest.max(v.abs()));
            let scale = largest / 127.0;
            let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let mut sum = 0;
            for v in block {
                let q = (v * inverse).round() as i8;
                sum += q as i32;
                quantized.values.push(q);
            }
            // Stored as f16, as the block format holds it: the same numbers llama.cpp multiplies.
            quantized.scales.push(half::f16::from_f32(scale).to_f32());
            quantized.sums.push(sum);
        }
        quantized
    }
}

/// The AVX2 product, on a CPU that has it.
#[derive(Debug, Clone, Copy)]
pub struct Q5_0Product {
    #[cfg(target_arch = "x86_64")]
    simd: pulp::x86::V3,
}

impl Q5_0Product {
    /// None where the CPU lacks AVX2 and FMA (candle's path is used there).
    pub fn detect() -> Option<Q5_0Product> {
        #[cfg(target_arch = "x86_64")]
        return pulp::x86::V3::try_new().map(|simd| Q5_0Product { simd });
        #[cfg(not(target_arch = "x86_64"))]
        None
    }

    /// `out` (tokens × rows) = `x` (tokens × columns) times the transpose of the Q5_0 matrix
    /// `blocks` (rows × columns), rows shared out between threads.
    pub fn multiply(&self, blocks: &[u8], (rows, columns): (usize, usize), x: &[f32], out: &mut [f32]) {
        let row_bytes = columns / WEIGHTS_PER_BLOCK * BLOCK_BYTES;
        assert!(
            columns.is_multiple_of(WEIGHTS_PER_BLOCK) && blocks.len() == rows * row_bytes,
            "a Q5_0 matrix of {rows}x{columns} holds {} bytes",
            blocks.len()
        );
        let tokens: Vec<Quantized> = x.chunks_exact(columns).map(Quantized::new).collect();
        assert_eq!(out.len(), tokens.len() * rows, "one output row per token");
        // Per task, the rows' products for every token: each row is read from memory once.
        let mut by_row = vec![0f32; rows * tokens.len()];
        by_row.par_chunks_mut(ROWS_PER_TASK * tokens.len()).enumerate().for_each(|(task, products)| {
            let first = task * ROWS_PER_TASK;
            for (offset, row_products) in products.chunks_exact_mut(tokens.len()).enumerate() {
                let row = &blocks[(first + offset) * row_bytes..][..row_bytes];
                for (product, token) in row_products.iter_mut().zip(&tokens) {
                    *product = self.row_times(row, token);
                }
            }
        });
        for (row, products) in by_row.chunks_exact(tokens.len()).enumerate() {
            for (token, product) in products.iter().enumerate() {
                out[token * rows + row] = *product;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn row_times(&self, row: &[u8], token: &Quantized) -> f32 {
        use core::arch::x86_64::{__m128i, __m256i};
        use pulp::bytemuck::cast;
        let simd = self.simd;
        simd.vectorize(
            #[inline(always)]
            || {
                let (sse2, avx, avx2, fma) = (simd.sse2, simd.avx, simd.avx2, simd.fma);
                let low_nibble = sse2._mm_set1_epi8(0x0F);
                // Byte j of the 32 takes byte j / 8 of `qh`, then keeps bit j % 8 of it.
                let spread: __m256i =
                    cast([0u8, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
                let bit: __m256i = cast([
                    1u8, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
                ]);
                let sixteen = avx._mm256_set1_epi8(0x10);
                let ones = avx._mm256_set1_epi16(1);
                let mut lanes = avx._mm256_setzero_ps();
                for (index, block) in row.chunks_exact(BLOCK_BYTES).enumerate() {
                    let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32() * token.scales[index];
                    let qh = i32::from_le_bytes([block[2], block[3], block[4], block[5]]);
                    let packed: __m128i = cast::<[u8; 16], _>(block[6..22].try_into().expect("16 bytes"));
                    let low = sse2._mm_and_si128(packed, low_nibble);
                    let high = sse2._mm_and_si128(sse2._mm_srli_epi16::<4>(packed), low_nibble);
                    let nibbles = avx._mm256_set_m128i(high, low);
                    let bits = avx2._mm256_and_si256(avx2._mm256_shuffle_epi8(avx._mm256_set1_epi32(qh), spread), bit);
                    let fifth = avx2._mm256_and_si256(avx2._mm256_cmpeq_epi8(bits, bit), sixteen);
                    let weights = avx2._mm256_or_si256(nibbles, fifth);
                    let values: __m256i = cast::<[i8; 32], _>(token.values[index * 32..][..32].try_into().expect("32 values"));
                    // 0..31 times -127..127, in pairs: at most 7,874, inside i16.
                    let sums = avx2._mm256_madd_epi16(avx2._mm256_maddubs_epi16(weights, values), ones);
                    let sums = avx2._mm256_sub_epi32(sums, avx._mm256_setr_epi32(16 * token.sums[index], 0, 0, 0, 0, 0, 0, 0));
                    lanes = fma._mm256_fmadd_ps(avx._mm256_cvtepi32_ps(sums), avx._mm256_set1_ps(scale), lanes);
                }
                cast::<_, [f32; 8]>(lanes).iter().sum()
            },
        )
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn row_times(&self, _: &[u8], _: &Quantized) -> f32 {
        unreachable!("detect() gives no product off x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    #[test]
    fn the_product_is_candles_for_one_token_and_for_several() {
        let Some(product) = Q5_0Product::detect() else {
            panic!("this test needs a CPU with AVX2 and FMA; without them the product is never used");
        };
        let device = Device::Cpu;
        let (rows, columns) = (200, 896);
        let matrix = Tensor::randn(0f32, 1.0, (rows, columns), &device).unwrap();
        let table = QTensor::quantize(&matrix, GgmlDType::Q5_0).unwrap();
        let candles = candle_core::quantized::QMatMul::from_qtensor(table).unwrap();
        let table = QTensor::quantize(&matrix, GgmlDType::Q5_0).unwrap();
        for tokens in [1, 3] {
            let x = Tensor::randn(0f32, 1.0, (1, tokens, columns), &device).unwrap();
            let expected = candle_core::Module::forward(&candles, &x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let mut ours = vec![0f32; tokens * rows];
            product.multiply(&table.data().unwrap(), (rows, columns), &x.flatten_all().unwrap().to_vec1().unwrap(), &mut ours);
            for (index, (a, b)) in ours.iter().zip(&expected).enumerate() {
                // The same integers; only the order the block sums are added in differs.
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{tokens} tokens, output {index}: ours {a}, candle's {b}");
            }
        }
    }
}
