//! The decoder-only transformer of Llama and Qwen2 GGUF files, on candle's quantized matrix
//! products. Ours rather than candle-transformers' because of memory: theirs dequantizes the
//! token embedding to f32 at load (545 MB for Qwen2.5-0.5B's 151,936 × 896 table, more than
//! all its other weights together), where we keep it quantized and dequantize only the rows of
//! the tokens being read.
//!
//! Per layer: RMS norm, attention (rotary positions, grouped-query heads, a KV cache), RMS norm,
//! a SiLU-gated MLP; each added back to the residual stream.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QMatMul, QStorage, QTensor, QuantizedType};
use candle_core::{CpuStorage, DType, Device, Module, Result, Tensor};

use crate::block_product::BlockProduct;
use crate::dequantize;

/// A token embedding kept as the file has it (and shared with the output layer where the
/// model ties them).
struct Embedding {
    table: Arc<QTensor>,
    row_bytes: usize,
    hidden: usize,
}

impl Embedding {
    fn new(table: QTensor) -> Result<Embedding> {
        let (rows, hidden) = table.shape().dims2()?;
        let dtype = table.dtype();
        if hidden % dtype.block_size() != 0 {
            candle_core::bail!("token embedding rows of {hidden} do not hold whole {dtype:?} blocks");
        }
        let row_bytes = hidden / dtype.block_size() * dtype.type_size();
        let bytes = table.data()?.len();
        if bytes != rows * row_bytes {
            candle_core::bail!("token embedding holds {bytes} bytes, not {rows} rows of {row_bytes}");
        }
        Ok(Embedding { table: Arc::new(table), row_bytes, hidden })
    }

    /// The embeddings of `tokens`, as (tokens, hidden) f32.
    fn rows(&self, tokens: &[u32], device: &Device) -> Result<Tensor> {
        // On the CPU the table's bytes are borrowed, not copied.
        let bytes = self.table.data()?;
        let mut picked = Vec::with_capacity(tokens.len() * self.row_bytes);
        for &token in tokens {
            let start = token as usize * self.row_bytes;
            let row = bytes
                .get(start..start + self.row_bytes)
                .ok_or_else(|| candle_core::Error::Msg(format!("token {token} is outside the vocabulary")))?;
            picked.extend_from_slice(row);
        }
        qtensor_from_ggml(self.table.dtype(), &picked, vec![tokens.len(), self.hidden], device)?.dequantize(device)
    }
}

/// A quantized weight matrix, applied the fastest way for the number of tokens at hand, and held
/// once.
///
/// One token (decoding) reads each weight once: candle's quantized vector products are bound by
/// memory and are the fastest there is. A prompt reads each weight once per token. The older
/// block formats the small models mostly use (Q4_1, Q5_0) candle computes as one vector product
/// per token and row, at about 20 GFLOPS here; dequantizing the matrix (held only while it is
/// used) and multiplying in f32 through candle's tiled matrix product runs at 100-140 GFLOPS.
///
/// candle repacks the k-quants (and Q8_0, Q4_0 on some machines) into tiles for its integer
/// kernels on first use and keeps the tiles beside the file's blocks, one copy per kernel: on
/// this machine a Q4_K matrix ended up held three times (4.5 + 6 + 10 bits a weight), which took
/// Qwen2.5-0.5B from 528 to 705 MiB once it had answered. Those formats are kept as bare blocks
/// that candle cannot repack: multiplied by our product where the CPU has AVX-512, else by
/// candle's plain vector products, for a prompt of up to [`BLOCKS_PROMPT_TOKENS`] too: with
/// AVX2 those beat an AVX2 port of our k-quant product (`services/llm/README.md`).
///
/// For Q5_0 and Q4_1, most of both models' weights, candle's vector product is generic code;
/// tokens go through our AVX2 one instead (`block_product.rs`), prompts of under 48 too. So do
/// Q4_K and Q6_K (Qwen's down projections) with AVX-512: a prompt no longer waits for the
/// matrix to be dequantized.
enum Weight {
    /// A format candle multiplies as the file has it.
    InPlace { quantized: QMatMul, table: Arc<QTensor>, dequantize_for_prompts: bool },
    /// A format candle would repack, out of its reach.
    Blocks { blocks: Box<dyn QuantizedType>, rows: usize, columns: usize },
    /// Q5_0 or Q4_1, which candle multiplies in generic code, or Q4_K and Q6_K, which it would
    /// repack, on a CPU where ours runs.
    Ours { table: Arc<QTensor>, product: BlockProduct },
}

/// From this many tokens on, dequantizing costs less than it saves (measured: about 15).
const PROMPT_TOKENS: usize = 16;
/// From this many tokens on, dequantizing beats our block product too (`block_product.rs`):
/// it spreads each block once per six tokens, candle's tiled f32 product does better per token
/// once the fixed cost of writing the f32 matrix is shared by enough of them (measured with
/// AVX-512 and with AVX2 alike).
const OUR_PROMPT_TOKENS: usize = 48;
/// From this many tokens on, dequantizing a k-quant matrix beats candle's vector products over
/// its blocks. Measured with AVX2 on Qwen's 896 × 4,864 down projection: 16 tokens 1.7 ms
/// against 8.9 dequantized, 48 tokens 5.1 against 8.6, 200 tokens 22 against 22 (Q4_K) and
/// 25 against 18 (Q6_K).
const BLOCKS_PROMPT_TOKENS: usize = 128;

impl Weight {
    fn new(table: Arc<QTensor>) -> Result<Weight> {
        let (rows, columns) = table.shape().dims2()?;
        let dtype = table.dtype();
        if let (Some(product), true) = (BlockProduct::for_format(dtype), table.device().is_cpu()) {
            return Ok(Weight::Ours { table, product });
        }
        if table.device().is_cpu() && candle_repacks(dtype, columns) {
            if let QStorage::Cpu(blocks) = QStorage::from_data(table.data()?, &Device::Cpu, dtype)? {
                return Ok(Weight::Blocks { blocks, rows, columns });
            }
        }
        let dequantize_for_prompts = dequantize::is_fast(dtype);
        Ok(Weight::InPlace { quantized: QMatMul::from_arc(table.clone())?, table, dequantize_for_prompts })
    }

    /// `x` is (batch, tokens, in); the result (batch, tokens, out).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let prompt = x.dim(1)? >= PROMPT_TOKENS;
        match self {
            Weight::InPlace { quantized, dequantize_for_prompts, .. } if !prompt || !dequantize_for_prompts => quantized.forward(x),
            Weight::InPlace { table, .. } => times_dequantized(x, table),
            Weight::Ours { table, .. } if x.dim(1)? >= OUR_PROMPT_TOKENS => times_dequantized(x, table),
            Weight::Ours { table, product } => {
                let (batch, tokens, columns) = x.dims3()?;
                let rows = table.shape().dims2()?.0;
                let mut out = vec![0f32; batch * tokens * rows];
                product.multiply(&table.data()?, (rows, columns), &x.flatten_all()?.to_vec1::<f32>()?, &mut out);
                Tensor::from_vec(out, (batch, tokens, rows), x.device())
            }
            Weight::Blocks { blocks, rows, columns } if x.dim(1)? >= BLOCKS_PROMPT_TOKENS => {
                let CpuStorage::F32(matrix) = blocks.dequantize(rows * columns)? else {
                    candle_core::bail!("{:?} blocks did not dequantize to f32", blocks.dtype());
                };
                x.broadcast_matmul(&Tensor::from_vec(matrix, (*rows, *columns), x.device())?.t()?)
            }
            Weight::Blocks { blocks, rows, columns } => {
                let (batch, tokens, _) = x.dims3()?;
                let mut out = vec![0f32; batch * tokens * rows];
                blocks.matmul_t((batch * tokens, *columns, *rows), &x.flatten_all()?.to_vec1::<f32>()?, &mut out)?;
                Tensor::from_vec(out, (batch, tokens, *rows), x.device())
            }
        }
    }
}

/// `x` times the transpose of `table` dequantized, which is dropped after.
fn times_dequantized(x: &Tensor, table: &QTensor) -> Result<Tensor> {
    let matrix = match dequantize::dequantize(table, x.device())? {
        Some(matrix) => matrix,
        // The k-quants: candle's dequantizing leaves the blocks as they are (its products repack).
        None => table.dequantize(x.device())?,
    };
    x.broadcast_matmul(&matrix.t()?)
}

/// Whether candle 0.11 repacks a matrix of `dtype` with `columns` columns for its tiled kernels
/// (`quantized/repack.rs` on aarch64, `repack_x86.rs` on x86-64).
fn candle_repacks(dtype: GgmlDType, columns: usize) -> bool {
    use GgmlDType::*;
    match dtype {
        Q2K | Q3K | Q4K | Q5K | Q6K | Q8K => true,
        Q8_0 => cfg!(target_arch = "aarch64") || columns.is_multiple_of(256),
        Q4_0 => cfg!(target_arch = "aarch64"),
        _ => false,
    }
}

struct Linear {
    weight: Weight,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

struct Layer {
    attention_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Weight,
    mlp_norm: Tensor,
    gate: Weight,
    up: Weight,
    down: Weight,
    cache: KvCache,
}

/// A layer's keys and values of the tokens seen so far, (1, kv heads, tokens, head size), in
/// buffers with room to spare: a new token's row is written in place, where joining it to the
/// cache copied the whole cache, per layer and token.
#[derive(Default)]
struct KvCache {
    /// (keys, values), with room for more tokens than `len`.
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
}

impl KvCache {
    /// Room for this many tokens at first; it doubles when full.
    const FIRST_ROOM: usize = 128;

    /// Adds `keys` and `values` (1, kv heads, new tokens, head size); every token's, as views.
    fn append(&mut self, keys: &Tensor, values: &Tensor) -> Result<(Tensor, Tensor)> {
        let needed = self.len + keys.dim(2)?;
        let room = match &self.buffers {
            Some((held, _)) => held.dim(2)?,
            None => 0,
        };
        if needed > room {
            let (batch, heads, _, size) = keys.dims4()?;
            let room = needed.max(room * 2).max(Self::FIRST_ROOM);
            let grown = || Tensor::zeros((batch, heads, room, size), keys.dtype(), keys.device());
            let (grown_keys, grown_values) = (grown()?, grown()?);
            if let Some((held_keys, held_values)) = &self.buffers {
                grown_keys.slice_set(&held_keys.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                grown_values.slice_set(&held_values.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            self.buffers = Some((grown_keys, grown_values));
        }
        let (held_keys, held_values) = self.buffers.as_ref().expect("room was made");
        held_keys.slice_set(&keys.contiguous()?, 2, self.len)?;
        held_values.slice_set(&values.contiguous()?, 2, self.len)?;
        self.len = needed;
        Ok((held_keys.narrow(2, 0, needed)?, held_values.narrow(2, 0, needed)?))
    }

    /// Keeps the first `tokens` only.
    fn truncate(&mut self, tokens: usize) -> Result<()> {
        if tokens > self.len {
            candle_core::bail!("the cache holds fewer than {tokens} tokens");
        }
        self.len = tokens;
        if tokens == 0 {
            self.buffers = None;
        }
        Ok(())
    }
}

/// Shape and constants from the file's metadata.
#[derive(Debug, Clone, Copy)]
struct Shape {
    heads: usize,
    kv_heads: usize,
    head_size: usize,
    epsilon: f32,
    /// Qwen2 rotates the two halves of a head; Llama GGUF files (their Q and K permuted by the
    /// converter) rotate neighbouring pairs.
    rotate_halves: bool,
}

pub struct Transformer {
    embedding: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    shape: Shape,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

impl Transformer {
    /// Reads an `architecture` ("llama" or "qwen2") transformer; positions up to `context`.
    pub fn from_gguf<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        architecture: &str,
        context: usize,
        device: &Device,
    ) -> Result<Transformer> {
        let meta = |key: &str| {
            content
                .metadata
                .get(&format!("{architecture}.{key}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("no {architecture}.{key} in the file")))
        };
        let hidden = meta("embedding_length")?.to_u32()? as usize;
        let heads = meta("attention.head_count")?.to_u32()? as usize;
        let kv_heads = meta("attention.head_count_kv").and_then(|v| v.to_u32()).map(|n| n as usize).unwrap_or(heads);
        let layers = meta("block_count")?.to_u32()? as usize;
        let epsilon = meta("attention.layer_norm_rms_epsilon")?.to_f32()?;
        let rope_base = meta("rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.0);
        let shape = Shape { heads, kv_heads, head_size: hidden / heads, epsilon, rotate_halves: architecture == "qwen2" };

        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let embedding = Embedding::new(tensor("token_embd.weight")?)?;
        // Small models share the embedding with the output layer.
        let output = match tensor("output.weight") {
            Ok(output) => QMatMul::from_qtensor(output)?,
            Err(_) => QMatMul::from_arc(embedding.table.clone())?,
        };
        let norm = tensor("output_norm.weight")?.dequantize(device)?;
        let mut blocks = Vec::with_capacity(layers);
        for layer in 0..layers {
            let mut part = |name: &str| tensor(&format!("blk.{layer}.{name}"));
            let mut linear = |name: &str| -> Result<Linear> {
                let weight = Weight::new(Arc::new(part(&format!("{name}.weight"))?))?;
                let bias = part(&format!("{name}.bias")).ok().map(|b| b.dequantize(device)).transpose()?;
                Ok(Linear { weight, bias })
            };
            let (q, k, v) = (linear("attn_q")?, linear("attn_k")?, linear("attn_v")?);
            blocks.push(Layer {
                attention_norm: part("attn_norm.weight")?.dequantize(device)?,
                q,
                k,
                v,
                o: Weight::new(Arc::new(part("attn_output.weight")?))?,
                mlp_norm: part("ffn_norm.weight")?.dequantize(device)?,
                gate: Weight::new(Arc::new(part("ffn_gate.weight")?))?,
                up: Weight::new(Arc::new(part("ffn_up.weight")?))?,
                down: Weight::new(Arc::new(part("ffn_down.weight")?))?,
                cache: KvCache::default(),
            });
        }
        let (cos, sin) = rotations(shape.head_size, rope_base, context, device)?;
        Ok(Transformer { embedding, layers: blocks, norm, output, shape, cos, sin, device: device.clone() })
    }

    /// The logits after `tokens`, which follow the `position` tokens already cached: (1, vocab).
    pub fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Tensor> {
        self.forward_from(tokens, position, tokens.len() - 1)
    }

    /// The logits after each of `tokens[from..]`: (tokens - from, vocab). The output layer is
    /// the biggest matrix; it runs only for the positions asked about.
    pub fn forward_from(&mut self, tokens: &[u32], position: usize, from: usize) -> Result<Tensor> {
        let count = tokens.len();
        let mut x = self.embedding.rows(tokens, &self.device)?.unsqueeze(0)?;
        let (cos, sin) = (self.cos.narrow(0, position, count)?, self.sin.narrow(0, position, count)?);
        let mask = if count > 1 { Some(causal_mask(count, position, &self.device)?) } else { None };
        for layer in &mut self.layers {
            let attended = layer.attend(&x, &cos, &sin, mask.as_ref(), self.shape)?;
            x = (x + attended)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.mlp_norm, self.shape.epsilon)?;
            let gated = (candle_nn::ops::silu(&layer.gate.forward(&h)?)? * layer.up.forward(&h)?)?;
            x = (x + layer.down.forward(&gated)?)?;
        }
        let wanted = x.narrow(1, from, count - from)?;
        let wanted = candle_nn::ops::rms_norm(&wanted, &self.norm, self.shape.epsilon)?;
        self.output.forward(&wanted)?.squeeze(0)
    }

    /// Keeps the keys and values of the first `tokens` tokens only.
    pub fn truncate_kv_cache(&mut self, tokens: usize) -> Result<()> {
        self.layers.iter_mut().try_for_each(|layer| layer.cache.truncate(tokens))
    }

    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.cache = KvCache::default();
        }
    }
}

impl Layer {
    fn attend(&mut self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: Option<&Tensor>, shape: Shape) -> Result<Tensor> {
        let (batch, count, hidden) = x.dims3()?;
        let h = candle_nn::ops::rms_norm(x, &self.attention_norm, shape.epsilon)?;
        let heads = |t: Tensor, n: usize| t.reshape((batch, count, n, shape.head_size))?.transpose(1, 2)?.contiguous();
        let q = heads(self.q.forward(&h)?, shape.heads)?;
        let k = heads(self.k.forward(&h)?, shape.kv_heads)?;
        let v = heads(self.v.forward(&h)?, shape.kv_heads)?;
        let rotate = if shape.rotate_halves { candle_nn::rotary_emb::rope } else { candle_nn::rotary_emb::rope_i };
        let (q, k) = (rotate(&q, cos, sin)?, rotate(&k, cos, sin)?);
        let (k, v) = self.cache.append(&k, &v)?;
        // Grouped-query attention: each key/value head serves `group` query heads, which sit
        // side by side, so they are taken as one head with `group` times the rows. Repeating
        // the keys and values instead copied the whole cache `group` times per layer and token
        // (Qwen 7, SmolLM2 3).
        let group = shape.heads / shape.kv_heads;
        let seen = k.dim(2)?;
        let q = q.reshape((batch, shape.kv_heads, group * count, shape.head_size))?;
        let scores = (q.matmul(&k.t()?)? / (shape.head_size as f64).sqrt())?;
        let scores = match mask {
            Some(mask) => scores.reshape((batch, shape.kv_heads, group, count, seen))?.broadcast_add(mask)?.reshape((
                batch,
                shape.kv_heads,
                group * count,
                seen,
            ))?,
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let attended = weights.matmul(&v)?.reshape((batch, shape.heads, count, shape.head_size))?;
        self.o.forward(&attended.transpose(1, 2)?.reshape((batch, count, hidden))?)
    }
}

/// −∞ where a new token would see one after it; new tokens start after `position` cached ones.
fn causal_mask(count: usize, position: usize, device: &Device) -> Result<Tensor> {
    let seen = position + count;
    let mask: Vec<f32> = (0..count).flat_map(|i| (0..seen).map(move |j| if j > position + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (count, seen), device)
}

/// Cosines and sines of each position's rotation, (context, head size / 2).
fn rotations(head_size: usize, base: f32, context: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let frequencies: Vec<f32> = (0..head_size).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_size as f32)).collect();
    let frequencies = Tensor::from_vec(frequencies, (1, head_size / 2), device)?;
    let positions = Tensor::arange(0u32, context as u32, device)?.to_dtype(DType::F32)?.reshape((context, 1))?;
    let angles = positions.matmul(&frequencies)?;
    Ok((angles.cos()?, angles.sin()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kv_cache_grows_keeps_what_it_held_and_drops_what_is_truncated() {
        let device = Device::Cpu;
        let rows = |from: usize, count: usize| {
            Tensor::arange(from as f32 * 4.0, (from + count) as f32 * 4.0, &device).unwrap().reshape((1, 2, count, 2)).unwrap()
        };
        let mut cache = KvCache::default();
        // Past its first room, so it grows once, and held rows must survive the move.
        let (first, second, third) = (rows(0, 100), rows(100, 60), rows(1000, 3));
        cache.append(&first, &first.neg().unwrap()).unwrap();
        let (keys, values) = cache.append(&second, &second.neg().unwrap()).unwrap();
        let joined = Tensor::cat(&[&first, &second], 2).unwrap();
        assert_eq!(keys.dims(), [1, 2, 160, 2]);
        assert_eq!(keys.flatten_all().unwrap().to_vec1::<f32>().unwrap(), joined.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_eq!(
            values.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            joined.neg().unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );

        cache.truncate(50).unwrap();
        let (keys, _) = cache.append(&third, &third).unwrap();
        let expected = Tensor::cat(&[&first.narrow(2, 0, 50).unwrap(), &third], 2).unwrap();
        assert_eq!(keys.dims(), [1, 2, 53, 2]);
        assert_eq!(keys.flatten_all().unwrap().to_vec1::<f32>().unwrap(), expected.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert!(cache.truncate(54).is_err(), "a cache cannot keep tokens it never held");
    }

    #[test]
    fn a_new_token_sees_everything_before_it_and_nothing_after() {
        let mask = causal_mask(2, 3, &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(mask[0], [0.0, 0.0, 0.0, 0.0, f32::NEG_INFINITY]);
        assert_eq!(mask[1], [0.0; 5]);
    }

    #[test]
    fn a_k_quant_matrix_is_held_once_and_multiplies_as_its_dequantized_self() {
        let device = Device::Cpu;
        let original = Tensor::randn(0f32, 1.0, (32, 512), &device).unwrap();
        let table = QTensor::quantize(&original, GgmlDType::Q4K).unwrap();
        let expected_matrix = table.dequantize(&device).unwrap();
        let weight = Weight::new(Arc::new(table)).unwrap();
        assert!(matches!(weight, Weight::Blocks { .. } | Weight::Ours { .. }), "candle would keep a repacked copy beside the blocks");
        // A token as decoding multiplies it, a prompt, and a prompt long enough to dequantize.
        for tokens in [1, PROMPT_TOKENS + 4, OUR_PROMPT_TOKENS.max(BLOCKS_PROMPT_TOKENS) + 4] {
            let x = Tensor::randn(0f32, 1.0, (1, tokens, 512), &device).unwrap();
            let ours = weight.forward(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let expected = x.broadcast_matmul(&expected_matrix.t().unwrap()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (a, b) in ours.iter().zip(&expected) {
                // Sums of 512 products, about 23 across; decoding multiplies by the token
                // quantized to 8 bits, as llama.cpp does, which moves them by about 0.3.
                assert!((a - b).abs() <= 1.0, "{tokens} tokens: {a} against {b}");
            }
        }
    }

    #[test]
    fn embedding_rows_are_the_rows_of_the_dequantized_table() {
        let table = Tensor::arange(0f32, 64.0 * 4.0, &Device::Cpu).unwrap().reshape((4, 64)).unwrap();
        let quantized = QTensor::quantize(&table, candle_core::quantized::GgmlDType::Q8_0).unwrap();
        let whole = quantized.dequantize(&Device::Cpu).unwrap();
        let embedding = Embedding::new(quantized).unwrap();
        let rows = embedding.rows(&[3, 1], &Device::Cpu).unwrap();
        assert_eq!(
            rows.to_vec2::<f32>().unwrap(),
            [whole.get(3).unwrap().to_vec1::<f32>().unwrap(), whole.get(1).unwrap().to_vec1::<f32>().unwrap()]
        );
        assert!(embedding.rows(&[4], &Device::Cpu).is_err(), "a token outside the vocabulary");
    }
}
