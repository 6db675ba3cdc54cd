//! Tokens through a Q5_0 or Q4_1 matrix, with AVX2 or AVX-512, or a Q4_K or Q6_K one with AVX-512.
//!
//! The small models' weights are mostly in these two older block formats (Qwen2.5-0.5B's Q5_0,
//! SmolLM2's Q4_1), and candle 0.11 has no vector kernel for either: its product is the generic
//! loop, which was 46 % of Qwen's decoding time here (perf), at a third of the speed of its AVX
//! Q8_0 kernel on the same matrix. This one reads a block as llama.cpp's does: the 32 weights
//! are spread to bytes (low nibbles, and for Q5_0 the fifth bits from `qh` through a byte
//! shuffle), multiplied with a token's 8-bit values in pairs (`maddubs`), and each block's
//! sum is scaled into eight float lanes, summed once per row. A block spread once serves up to
//! six tokens, so a prompt takes this path too: it beats dequantizing the matrix to f32 for
//! candle's tiled product, which costs a fixed write of the whole matrix per prompt.
//!
//! Qwen's down projections are Q4_K and Q6_K, which candle has vector kernels for but
//! dequantizes, in scalar code, for a prompt (its tiled kernels would keep a repacked copy of
//! each matrix, `transformer.rs`). Their sub-blocks are 32 weights too, so the same tokens serve:
//! Q4_K's are Q4_1's with scales from the block's header, Q6_K's are six-bit weights less 32,
//! with a scale per 16.
//!
//! `pulp` gives the AVX2 and AVX-512 instructions as safe functions once the CPU is known to
//! have them, so no `unsafe` is written here; with AVX-512 two blocks share a register; without
//! AVX2 (or off x86-64) candle's own path runs.
//!
//! Blocks hold 32 weights. Q5_0 (22 bytes): an f16 scale `d`, the 32 fifth bits in a
//! little-endian `qh`, then 16 bytes whose low nibbles are weights 0-15 and high nibbles
//! weights 16-31; a weight is `d * q - 16 * d`. Q4_1 (20 bytes): `d`, an f16 offset `m`, the
//! 16 bytes of nibbles; a weight is `d * q + m`. Either way a block times a token's block
//! (scale `s`, values `y`) is `d * s * Σ q·y + offset * s * Σ y`.

use std::sync::Mutex;

use candle_core::quantized::GgmlDType;

const WEIGHTS_PER_BLOCK: usize = 32;
/// Output rows per task: enough work to pay for the hand-over, small enough to share out.
const ROWS_PER_TASK: usize = 64;
/// Tokens multiplied with a block once it is spread to bytes: each costs a few instructions
/// more, against about fifteen to spread it (six measured faster than three; one at a time,
/// twice as slow).
const TOKENS_PER_TILE: usize = 6;

/// A token quantized as llama.cpp's Q8_1 does for these products: blocks of 32 values, each
/// block's largest magnitude mapped to 127.
struct Quantized {
    scales: Vec<f32>,
    values: Vec<i8>,
    /// Each block's values summed and scaled: what a weight's offset is multiplied by.
    scaled_sums: Vec<f32>,
}

impl Quantized {
    fn new(x: &[f32]) -> Quantized {
        let blocks = x.len() / WEIGHTS_PER_BLOCK;
        let mut quantized =
            Quantized { scales: Vec::with_capacity(blocks), values: Vec::with_capacity(x.len()), scaled_sums: Vec::with_capacity(blocks) };
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
            // Stored as f16, as the block formats hold it: the numbers llama.cpp multiplies.
            let scale = half::f16::from_f32(scale).to_f32();
            quantized.scales.push(scale);
            quantized.scaled_sums.push(sum as f32 * scale);
        }
        quantized
    }
}

/// The instructions a product runs on.
#[derive(Clone, Copy)]
enum Simd {
    /// AVX-512 (F, BW, DQ, VL): two blocks per register.
    #[cfg(target_arch = "x86_64")]
    V4(pulp::x86::V4),
    /// AVX2 and FMA: one block per register.
    #[cfg(target_arch = "x86_64")]
    V3(pulp::x86::V3),
}

impl std::fmt::Debug for Simd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            #[cfg(target_arch = "x86_64")]
            Simd::V4(_) => "AVX-512",
            #[cfg(target_arch = "x86_64")]
            Simd::V3(_) => "AVX2",
        })
    }
}

/// The block formats multiplied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Q5_0,
    Q4_1,
    /// 256 weights in eight 32-weight sub-blocks of 4-bit values, each with a 6-bit scale and
    /// minimum (AVX-512 only).
    Q4K,
    /// 256 weights of 6 bits in sixteen 16-weight groups, each with an 8-bit scale (AVX-512 only).
    Q6K,
}

impl Format {
    /// Weights and bytes per block.
    fn block(self) -> (usize, usize) {
        match self {
            Format::Q5_0 => (32, 22),
            Format::Q4_1 => (32, 20),
            Format::Q4K => (256, 144),
            Format::Q6K => (256, 210),
        }
    }
}

/// The vector product for one block format, on a CPU that has AVX2 or AVX-512.
#[derive(Debug, Clone, Copy)]
pub struct BlockProduct {
    simd: Simd,
    format: Format,
}

impl BlockProduct {
    /// None for other formats, and where the CPU lacks AVX2 and FMA (candle's path is used).
    /// AVX-512 where the CPU has it.
    pub fn for_format(dtype: GgmlDType) -> Option<BlockProduct> {
        Self::every_available(dtype).into_iter().next()
    }

    /// The products this CPU can run for `dtype`, the fastest first.
    fn every_available(dtype: GgmlDType) -> Vec<BlockProduct> {
        let format = match dtype {
            GgmlDType::Q5_0 => Format::Q5_0,
            GgmlDType::Q4_1 => Format::Q4_1,
            GgmlDType::Q4K => Format::Q4K,
            GgmlDType::Q6K => Format::Q6K,
            _ => return Vec::new(),
        };
        #[cfg(target_arch = "x86_64")]
        let levels = [pulp::x86::V4::try_new().map(Simd::V4), pulp::x86::V3::try_new().map(Simd::V3)];
        #[cfg(not(target_arch = "x86_64"))]
        let levels: [Option<Simd>; 0] = [];
        let k_quant = matches!(format, Format::Q4K | Format::Q6K);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unreachable_code, unused_variables))]
        let written_for = |simd: &Simd| !k_quant || matches!(simd, Simd::V4(_));
        levels.into_iter().flatten().filter(written_for).map(|simd| BlockProduct { simd, format }).collect()
    }

    fn block_bytes(&self) -> usize {
        self.format.block().1
    }

    /// `out` (tokens × rows) = `x` (tokens × columns) times the transpose of the matrix
    /// `blocks` (rows × columns), rows shared out between threads.
    pub fn multiply(&self, blocks: &[u8], (rows, columns): (usize, usize), x: &[f32], out: &mut [f32]) {
        let (block_weights, block_bytes) = self.format.block();
        let row_bytes = columns / block_weights * block_bytes;
        assert!(
            columns.is_multiple_of(block_weights) && blocks.len() == rows * row_bytes,
            "a matrix of {rows}x{columns} in blocks of {block_bytes} bytes holds {} bytes",
            blocks.len()
        );
        let tokens: Vec<Quantized> = x.chunks_exact(columns).map(Quantized::new).collect();
        assert_eq!(out.len(), tokens.len() * rows, "one output row per token");
        // Per task, the rows' products for every token: each row is read from memory once.
        let mut by_row = vec![0f32; rows * tokens.len()];
        // Each task's share of the output behind a lock of its own, taken once, by one thread.
        let tasks: Vec<Mutex<&mut [f32]>> = by_row.chunks_mut(ROWS_PER_TASK * tokens.len()).map(Mutex::new).collect();
        // candle's own threads: a pool beside them (rayon's) fought them for the two cores.
        candle_core::utils::barrier_pool().execute_chunked(tasks.len(), |range| {
            for task in range {
                let mut products = tasks[task].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                for (offset, row_products) in products.chunks_exact_mut(tokens.len()).enumerate() {
                    let row = &blocks[(task * ROWS_PER_TASK + offset) * row_bytes..][..row_bytes];
                    for (products, tokens) in row_products.chunks_mut(TOKENS_PER_TILE).zip(tokens.chunks(TOKENS_PER_TILE)) {
                        self.tile(row, tokens, products);
                    }
                }
            }
        });
        drop(tasks);
        for (row, products) in by_row.chunks_exact(tokens.len()).enumerate() {
            for (token, product) in products.iter().enumerate() {
                out[token * rows + row] = *product;
            }
        }
    }

    /// One row times up to [`TOKENS_PER_TILE`] tokens, into `products`.
    fn tile(&self, row: &[u8], tokens: &[Quantized], products: &mut [f32]) {
        match tokens.len() {
            1 => products.copy_from_slice(&self.row_times::<1>(row, tokens)),
            2 => products.copy_from_slice(&self.row_times::<2>(row, tokens)),
            3 => products.copy_from_slice(&self.row_times::<3>(row, tokens)),
            4 => products.copy_from_slice(&self.row_times::<4>(row, tokens)),
            5 => products.copy_from_slice(&self.row_times::<5>(row, tokens)),
            _ => products.copy_from_slice(&self.row_times::<TOKENS_PER_TILE>(row, tokens)),
        }
    }

    /// One row times `N` tokens: each block is spread to bytes once and multiplied with each.
    #[cfg(target_arch = "x86_64")]
    fn row_times<const N: usize>(&self, row: &[u8], tokens: &[Quantized]) -> [f32; N] {
        let tokens: &[Quantized; N] = tokens.try_into().expect("a tile of N tokens");
        match (self.simd, self.format) {
            (Simd::V4(simd), Format::Q5_0) => self.row_times_avx512::<N, true>(simd, row, tokens),
            (Simd::V4(simd), Format::Q4_1) => self.row_times_avx512::<N, false>(simd, row, tokens),
            (Simd::V4(simd), Format::Q4K) => Self::q4k_row_times_avx512::<N>(simd, row, tokens),
            (Simd::V4(simd), Format::Q6K) => Self::q6k_row_times_avx512::<N>(simd, row, tokens),
            (Simd::V3(simd), Format::Q5_0) => self.row_times_avx2::<N, true>(simd, row, tokens),
            (Simd::V3(simd), Format::Q4_1) => self.row_times_avx2::<N, false>(simd, row, tokens),
            (Simd::V3(_), Format::Q4K | Format::Q6K) => unreachable!("every_available() gives k-quants AVX-512 only"),
        }
    }

    /// A block's scale and what its weights are offset by (both times the weight's `q`).
    fn scale_and_offset<const FIVE_BIT: bool>(block: &[u8]) -> (f32, f32) {
        let scale = f16_at(block, 0);
        if FIVE_BIT {
            (scale, -16.0 * scale)
        } else {
            (scale, f16_at(block, 2))
        }
    }

    /// [`row_times`](Self::row_times) with AVX-512: blocks in pairs, 64 weights per register,
    /// so the multiplying and the scaling take half the instructions they take with AVX2.
    #[cfg(target_arch = "x86_64")]
    fn row_times_avx512<const N: usize, const FIVE_BIT: bool>(&self, simd: pulp::x86::V4, row: &[u8], tokens: &[Quantized; N]) -> [f32; N] {
        use core::arch::x86_64::{__m128i, __m512i};
        use pulp::bytemuck::cast;
        let block_bytes = self.block_bytes();
        let nibbles_at = if FIVE_BIT { 6 } else { 4 };
        let blocks = row.len() / block_bytes;
        simd.vectorize(
            #[inline(always)]
            || {
                let (avx, avx2, f, bw) = (simd.avx, simd.avx2, simd.avx512f, simd.avx512bw);
                let low_nibble = avx._mm256_set1_epi8(0x0F);
                // As for AVX2, in each half: byte j of a block takes byte j / 8 of its `qh`,
                // then tests bit j % 8 of it.
                let spread: __m512i = cast(std::array::from_fn::<u8, 64, _>(|j| (j % 32 / 8) as u8));
                let bit: __m512i = cast(std::array::from_fn::<u8, 64, _>(|j| 1 << (j % 8)));
                let sixteen = f._mm512_set1_epi8(0x10);
                // [low nibbles of a, of b, high nibbles of a, of b] in 64-bit lanes, put in
                // the order of the weights: a's 32, then b's.
                let in_order = f._mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7);
                let mut lanes = [f._mm512_setzero_ps(); N];
                let mut offsets = [0f32; N];
                for first in (0..blocks).step_by(2) {
                    let a = &row[first * block_bytes..][..block_bytes];
                    // An odd last block is paired with itself, scaled by nothing.
                    let paired = first + 1 < blocks;
                    let b = if paired { &row[(first + 1) * block_bytes..][..block_bytes] } else { a };
                    let (scale_a, offset_a) = Self::scale_and_offset::<FIVE_BIT>(a);
                    let (scale_b, offset_b) = if paired { Self::scale_and_offset::<FIVE_BIT>(b) } else { (0.0, 0.0) };
                    let nibbles =
                        |block: &[u8]| cast::<[u8; 16], __m128i>(block[nibbles_at..nibbles_at + 16].try_into().expect("16 bytes"));
                    let packed = avx._mm256_set_m128i(nibbles(b), nibbles(a));
                    let low = avx2._mm256_and_si256(packed, low_nibble);
                    let high = avx2._mm256_and_si256(avx2._mm256_srli_epi16::<4>(packed), low_nibble);
                    let mut weights = f._mm512_permutexvar_epi64(in_order, f._mm512_inserti64x4::<1>(f._mm512_castsi256_si512(low), high));
                    if FIVE_BIT {
                        let qh = |block: &[u8]| avx._mm256_set1_epi32(i32::from_le_bytes([block[2], block[3], block[4], block[5]]));
                        let both = f._mm512_inserti64x4::<1>(f._mm512_castsi256_si512(qh(a)), qh(b));
                        let fifth_bit = bw._mm512_test_epi8_mask(bw._mm512_shuffle_epi8(both, spread), bit);
                        weights = bw._mm512_mask_add_epi8(weights, fifth_bit, weights, sixteen);
                    }
                    let pair = Pair { first, paired, scales: (scale_a, scale_b), offsets: (offset_a, offset_b) };
                    pair.times_tokens_avx512(simd, weights, tokens, &mut lanes, &mut offsets);
                }
                std::array::from_fn(|token| f._mm512_reduce_add_ps(lanes[token]) + offsets[token])
            },
        )
    }

    /// [`row_times`](Self::row_times) for Q4_K, with AVX-512. A block of 256 weights (144 bytes):
    /// f16 `d` and `dmin`, 12 bytes packing eight 6-bit scales and eight 6-bit minimums, then 128
    /// bytes of nibbles, each 32 of them two sub-blocks (the low nibbles the first, the high
    /// the second), so a pair of sub-blocks fills a register as it lies. A weight is
    /// `d * scale * q - dmin * min`: the minimum is an offset, as in Q4_1.
    #[cfg(target_arch = "x86_64")]
    fn q4k_row_times_avx512<const N: usize>(simd: pulp::x86::V4, row: &[u8], tokens: &[Quantized; N]) -> [f32; N] {
        use core::arch::x86_64::__m256i;
        use pulp::bytemuck::cast;
        simd.vectorize(
            #[inline(always)]
            || {
                let (avx, avx2, f) = (simd.avx, simd.avx2, simd.avx512f);
                let low_nibble = avx._mm256_set1_epi8(0x0F);
                let mut lanes = [f._mm512_setzero_ps(); N];
                let mut offsets = [0f32; N];
                for (index, block) in row.chunks_exact(144).enumerate() {
                    let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
                    let packed_scales = &block[4..16];
                    for pair in 0..4 {
                        let packed: __m256i = cast::<[u8; 32], _>(block[16 + 32 * pair..][..32].try_into().expect("32 bytes"));
                        let low = avx2._mm256_and_si256(packed, low_nibble);
                        let high = avx2._mm256_and_si256(avx2._mm256_srli_epi16::<4>(packed), low_nibble);
                        let weights = f._mm512_inserti64x4::<1>(f._mm512_castsi256_si512(low), high);
                        let (scale_a, min_a) = k4_scale_and_min(2 * pair, packed_scales);
                        let (scale_b, min_b) = k4_scale_and_min(2 * pair + 1, packed_scales);
                        let pair = Pair {
                            first: index * 8 + 2 * pair,
                            paired: true,
                            scales: (d * scale_a, d * scale_b),
                            offsets: (-dmin * min_a, -dmin * min_b),
                        };
                        pair.times_tokens_avx512(simd, weights, tokens, &mut lanes, &mut offsets);
                    }
                }
                std::array::from_fn(|token| f._mm512_reduce_add_ps(lanes[token]) + offsets[token])
            },
        )
    }

    /// [`row_times`](Self::row_times) for Q6_K, with AVX-512. A block of 256 weights (210 bytes):
    /// 128 bytes of low nibbles, 64 bytes of two-bit high parts, sixteen signed 8-bit scales (one
    /// per 16 weights), then an f16 `d`; a weight is `d * scale * (q - 32)`. In each half of the
    /// block, 64 nibble bytes hold four sub-blocks: the low nibbles of bytes 0-31 and 32-63 are
    /// the first two, the high nibbles the last two, and byte `l` of the half's 32 high-part
    /// bytes holds the top bits of weight `l` of each of the four, two bits apiece.
    #[cfg(target_arch = "x86_64")]
    fn q6k_row_times_avx512<const N: usize>(simd: pulp::x86::V4, row: &[u8], tokens: &[Quantized; N]) -> [f32; N] {
        use core::arch::x86_64::{__m256i, __m512i};
        use pulp::bytemuck::cast;
        simd.vectorize(
            #[inline(always)]
            || {
                let (sse, avx2, f, bw) = (simd.sse, simd.avx2, simd.avx512f, simd.avx512bw);
                let low_nibble = f._mm512_set1_epi8(0x0F);
                let bits_4_and_5 = f._mm512_set1_epi8(0x30);
                let thirty_two = f._mm512_set1_epi8(32);
                let ones = f._mm512_set1_epi16(1);
                // Each 16 weights' products end up summed in four lanes: their scale goes to those.
                let by_group = f._mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
                let mut lanes = [f._mm512_setzero_ps(); N];
                for (index, block) in row.chunks_exact(210).enumerate() {
                    let d = f16_at(block, 208);
                    for half in 0..2 {
                        let nibbles: __m512i = cast::<[u8; 64], _>(block[64 * half..][..64].try_into().expect("64 bytes"));
                        let high: __m256i = cast::<[u8; 32], _>(block[128 + 32 * half..][..32].try_into().expect("32 bytes"));
                        // The second and fourth sub-blocks' top bits sit two bits above the first's
                        // and the third's: shifted down, every pair's are in the same place.
                        let high = f._mm512_inserti64x4::<1>(f._mm512_castsi256_si512(high), avx2._mm256_srli_epi16::<2>(high));
                        let pairs = [
                            f._mm512_or_si512(
                                f._mm512_and_si512(nibbles, low_nibble),
                                f._mm512_and_si512(bw._mm512_slli_epi16::<4>(high), bits_4_and_5),
                            ),
                            f._mm512_or_si512(
                                f._mm512_and_si512(bw._mm512_srli_epi16::<4>(nibbles), low_nibble),
                                f._mm512_and_si512(high, bits_4_and_5),
                            ),
                        ];
                        for (pair, weights) in pairs.into_iter().enumerate() {
                            let sub_block = 4 * half + 2 * pair;
                            let group_scale = |group: usize| d * f32::from(block[192 + 2 * sub_block + group] as i8);
                            let first = index * 8 + sub_block;
                            for (lanes, token) in lanes.iter_mut().zip(tokens) {
                                let values: __m512i = cast::<[i8; 64], _>(token.values[first * 32..][..64].try_into().expect("64 values"));
                                // (q - 32) y as q y - 32 y: 0..63 and 32 times -127..127, in pairs,
                                // each inside i16, and so is their difference.
                                let products = bw._mm512_sub_epi16(
                                    bw._mm512_maddubs_epi16(weights, values),
                                    bw._mm512_maddubs_epi16(thirty_two, values),
                                );
                                let sums = bw._mm512_madd_epi16(products, ones);
                                let (token_a, token_b) = (token.scales[first], token.scales[first + 1]);
                                let four = sse._mm_setr_ps(
                                    group_scale(0) * token_a,
                                    group_scale(1) * token_a,
                                    group_scale(2) * token_b,
                                    group_scale(3) * token_b,
                                );
                                let scales = f._mm512_permutexvar_ps(by_group, f._mm512_castps128_ps512(four));
                                *lanes = f._mm512_fmadd_ps(f._mm512_cvtepi32_ps(sums), scales, *lanes);
                            }
                        }
                    }
                }
                std::array::from_fn(|token| f._mm512_reduce_add_ps(lanes[token]))
            },
        )
    }

    /// [`row_times`](Self::row_times) with AVX2.
    #[cfg(target_arch = "x86_64")]
    fn row_times_avx2<const N: usize, const FIVE_BIT: bool>(&self, simd: pulp::x86::V3, row: &[u8], tokens: &[Quantized; N]) -> [f32; N] {
        use core::arch::x86_64::{__m128i, __m256i};
        use pulp::bytemuck::cast;
        let block_bytes = self.block_bytes();
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
                let mut lanes = [avx._mm256_setzero_ps(); N];
                let mut offsets = [0f32; N];
                for (index, block) in row.chunks_exact(block_bytes).enumerate() {
                    let (scale, offset) = Self::scale_and_offset::<FIVE_BIT>(block);
                    let nibbles_at = if FIVE_BIT { 6 } else { 4 };
                    let packed: __m128i = cast::<[u8; 16], _>(block[nibbles_at..nibbles_at + 16].try_into().expect("16 bytes"));
                    let low = sse2._mm_and_si128(packed, low_nibble);
                    let high = sse2._mm_and_si128(sse2._mm_srli_epi16::<4>(packed), low_nibble);
                    let mut weights = avx._mm256_set_m128i(high, low);
                    if FIVE_BIT {
                        let qh = i32::from_le_bytes([block[2], block[3], block[4], block[5]]);
                        let bits = avx2._mm256_and_si256(avx2._mm256_shuffle_epi8(avx._mm256_set1_epi32(qh), spread), bit);
                        weights = avx2._mm256_or_si256(weights, avx2._mm256_and_si256(avx2._mm256_cmpeq_epi8(bits, bit), sixteen));
                    }
                    for ((lanes, offsets), token) in lanes.iter_mut().zip(&mut offsets).zip(tokens) {
                        let values: __m256i = cast::<[i8; 32], _>(token.values[index * 32..][..32].try_into().expect("32 values"));
                        // 0..31 times -127..127, in pairs: at most 7,874, inside i16.
                        let sums = avx2._mm256_madd_epi16(avx2._mm256_maddubs_epi16(weights, values), ones);
                        *lanes = fma._mm256_fmadd_ps(avx._mm256_cvtepi32_ps(sums), avx._mm256_set1_ps(scale * token.scales[index]), *lanes);
                        *offsets += offset * token.scaled_sums[index];
                    }
                }
                std::array::from_fn(|token| cast::<_, [f32; 8]>(lanes[token]).iter().sum::<f32>() + offsets[token])
            },
        )
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn row_times<const N: usize>(&self, _: &[u8], _: &[Quantized]) -> [f32; N] {
        unreachable!("for_format() gives no product off x86-64")
    }
}

/// Two blocks of a row side by side in one AVX-512 register: blocks `first` and `first + 1` of
/// the tokens (a lone last block is paired with nothing), with what each block's sums are
/// scaled by and its weights offset by.
struct Pair {
    first: usize,
    paired: bool,
    scales: (f32, f32),
    offsets: (f32, f32),
}

impl Pair {
    /// The pair's 64 weights, spread to bytes (0..31), times each token, into its lanes and its
    /// offset.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn times_tokens_avx512<const N: usize>(
        &self,
        simd: pulp::x86::V4,
        weights: core::arch::x86_64::__m512i,
        tokens: &[Quantized; N],
        lanes: &mut [core::arch::x86_64::__m512; N],
        offsets: &mut [f32; N],
    ) {
        use core::arch::x86_64::{__m256i, __m512i};
        use pulp::bytemuck::cast;
        let (avx, f, bw, dq) = (simd.avx, simd.avx512f, simd.avx512bw, simd.avx512dq);
        let (first, paired) = (self.first, self.paired);
        for ((lanes, offsets), token) in lanes.iter_mut().zip(offsets).zip(tokens) {
            let values: __m512i = if paired {
                cast::<[i8; 64], _>(token.values[first * 32..][..64].try_into().expect("64 values"))
            } else {
                f._mm512_castsi256_si512(cast::<[i8; 32], __m256i>(token.values[first * 32..][..32].try_into().expect("32 values")))
            };
            // 0..31 times -127..127, in pairs: inside i16.
            let sums = bw._mm512_madd_epi16(bw._mm512_maddubs_epi16(weights, values), f._mm512_set1_epi16(1));
            let (token_a, token_b) = (token.scales[first], if paired { token.scales[first + 1] } else { 0.0 });
            let scales = dq._mm512_insertf32x8::<1>(
                f._mm512_castps256_ps512(avx._mm256_set1_ps(self.scales.0 * token_a)),
                avx._mm256_set1_ps(self.scales.1 * token_b),
            );
            *lanes = f._mm512_fmadd_ps(f._mm512_cvtepi32_ps(sums), scales, *lanes);
            *offsets +=
                self.offsets.0 * token.scaled_sums[first] + if paired { self.offsets.1 * token.scaled_sums[first + 1] } else { 0.0 };
        }
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Sub-block `j`'s scale and minimum in Q4_K's 12 packed bytes: six bits each, the first four
/// sub-blocks' in the low bits of bytes 0-3 and 4-7, the last four's low bits in the nibbles of
/// bytes 8-11 and their top two bits in the top of bytes 0-7.
fn k4_scale_and_min(j: usize, packed: &[u8]) -> (f32, f32) {
    let (scale, min) = if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
    };
    (f32::from(scale), f32::from(min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    #[test]
    fn the_product_is_the_matrixs_to_the_rounding_of_the_tokens_for_one_token_and_for_tiles() {
        let device = Device::Cpu;
        // 29 blocks a row: AVX-512 pairs them, and the last is left alone; the k-quants' blocks
        // are 256 weights.
        for (dtype, columns) in [(GgmlDType::Q5_0, 928), (GgmlDType::Q4_1, 928), (GgmlDType::Q4K, 768), (GgmlDType::Q6K, 768)] {
            let rows = 200;
            let matrix = Tensor::randn(0f32, 1.0, (rows, columns), &device).unwrap();
            let products = BlockProduct::every_available(dtype);
            if matches!(dtype, GgmlDType::Q4K | GgmlDType::Q6K) && products.is_empty() {
                // Not a pass: on this CPU these formats go through candle's products, not ours.
                eprintln!("NOT TESTED here: the {dtype:?} product needs AVX-512, which this CPU lacks (candle's is used)");
                continue;
            }
            assert!(!products.is_empty(), "this test needs a CPU with AVX2 and FMA; without them the product is never used");
            let table = QTensor::quantize(&matrix, dtype).unwrap();
            let weights = table.dequantize(&device).unwrap().to_vec2::<f32>().unwrap();
            for product in &products {
                for tokens in [1, 3, 8, 17] {
                    let x = Tensor::randn(0f32, 1.0, (tokens, columns), &device).unwrap().to_vec2::<f32>().unwrap();
                    let mut ours = vec![0f32; tokens * rows];
                    product.multiply(&table.data().unwrap(), (rows, columns), &x.concat(), &mut ours);
                    for (token, x) in x.iter().enumerate() {
                        // Each value of the token is rounded by up to 1/254 of its block's largest, as
                        // good as at random: six standard deviations of the sum of those errors.
                        let largest: Vec<f32> = x
                            .chunks(WEIGHTS_PER_BLOCK)
                            .flat_map(|b| [b.iter().fold(0f32, |m, v| m.max(v.abs())); WEIGHTS_PER_BLOCK])
                            .collect();
                        for (row, weights) in weights.iter().enumerate() {
                            let exact: f32 = weights.iter().zip(x).map(|(w, x)| w * x).sum();
                            let variance: f32 = weights.iter().zip(&largest).map(|(w, l)| (w * l / 254.0).powi(2) / 3.0).sum();
                            let rounding = 6.0 * variance.sqrt() + 1e-4 * weights.iter().zip(x).map(|(w, x)| (w * x).abs()).sum::<f32>();
                            let ours = ours[token * rows + row];
                            assert!(
                                (ours - exact).abs() <= rounding,
                                "{product:?}, {tokens} tokens, token {token}, row {row}: ours {ours}, exact {exact}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn other_formats_are_left_to_candle() {
        assert!(BlockProduct::for_format(GgmlDType::Q8_0).is_none());
        assert!(BlockProduct::for_format(GgmlDType::Q5K).is_none());
        #[cfg(target_arch = "x86_64")]
        assert!(BlockProduct::every_available(GgmlDType::Q4K).iter().all(|product| matches!(product.simd, Simd::V4(_))));
    }
}
