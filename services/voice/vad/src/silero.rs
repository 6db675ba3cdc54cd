//! Silero VAD v5 (16 kHz) in candle.
//!
//! The network: a fixed STFT as a convolution (256-sample window, hop 128, magnitudes of
//! 129 bins), four conv+ReLU blocks (strides 1, 2, 2, 1), an LSTM cell carrying state from
//! chunk to chunk, and a 1x1 conv + sigmoid. Each 512-sample chunk is preceded by the last
//! 64 samples of the one before, as silero's own runtime does.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv1d, Conv1dConfig, VarBuilder};
use thiserror::Error;

/// Samples per decision at 16 kHz (32 ms).
pub const CHUNK_SAMPLES: usize = 512;
const CONTEXT_SAMPLES: usize = 64;
const STATE: usize = 128;

#[derive(Debug, Error)]
pub enum VadError {
    #[error("{}: not silero VAD weights ({reason}); run `cabin models fetch --force silero-vad`", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("silero VAD failed: {0}")]
    Inference(#[from] candle_core::Error),
}

/// One stream's detector: it keeps the LSTM state and the previous chunk's tail.
#[derive(Debug)]
pub struct Silero {
    stft: Tensor,
    convs: Vec<Conv1d>,
    lstm_input: Tensor,
    lstm_hidden: Tensor,
    lstm_bias: Tensor,
    output: Conv1d,
    hidden: Tensor,
    cell: Tensor,
    context: Vec<f32>,
}

impl Silero {
    /// Loads the weights from a model folder (from `cabin models fetch silero-vad`) or a file.
    pub fn load(model: &Path) -> Result<Silero, VadError> {
        let path = if model.is_dir() { model.join(crate::MODEL_FILE) } else { model.to_owned() };
        let load_error = |e: candle_core::Error| VadError::Load { path: path.clone(), reason: e.to_string() };
        let device = Device::Cpu;
        let weights = read_safetensors(&path, &device).map_err(load_error)?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let conv = |name: &str, channels: (usize, usize), stride: usize| {
            let config = Conv1dConfig { padding: 1, stride, ..Default::default() };
            candle_nn::conv1d(channels.0, channels.1, 3, config, vb.pp(name))
        };
        let convs =
            vec![conv("conv1", (129, 128), 1), conv("conv2", (128, 64), 2), conv("conv3", (64, 64), 2), conv("conv4", (64, 128), 1)]
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(load_error)?;
        let lstm = vb.pp("lstm_cell");
        let bias = (lstm.get(4 * STATE, "bias_ih").map_err(load_error)? + lstm.get(4 * STATE, "bias_hh").map_err(load_error)?)
            .map_err(load_error)?;
        let zeros = Tensor::zeros((1, STATE), DType::F32, &device)?;
        Ok(Silero {
            stft: vb.get((258, 1, 256), "stft_conv.weight").map_err(load_error)?,
            convs,
            lstm_input: lstm.get((4 * STATE, STATE), "weight_ih").map_err(load_error)?.t().map_err(load_error)?,
            lstm_hidden: lstm.get((4 * STATE, STATE), "weight_hh").map_err(load_error)?.t().map_err(load_error)?,
            lstm_bias: bias.unsqueeze(0)?,
            output: candle_nn::conv1d(STATE, 1, 1, Conv1dConfig::default(), vb.pp("final_conv")).map_err(load_error)?,
            hidden: zeros.clone(),
            cell: zeros,
            context: vec![0.0; CONTEXT_SAMPLES],
        })
    }

    /// Forgets the stream so far (a new source, or after a long pause).
    pub fn reset(&mut self) {
        self.hidden = self.hidden.zeros_like().expect("zeros of an existing tensor");
        self.cell = self.cell.zeros_like().expect("zeros of an existing tensor");
        self.context = vec![0.0; CONTEXT_SAMPLES];
    }

    /// The probability that `chunk` (512 samples at 16 kHz) holds speech.
    pub fn probability(&mut self, chunk: &[f32]) -> Result<f32, VadError> {
        assert_eq!(chunk.len(), CHUNK_SAMPLES, "silero scores 512-sample chunks");
        let mut input = Vec::with_capacity(CONTEXT_SAMPLES + CHUNK_SAMPLES + CONTEXT_SAMPLES);
        input.extend_from_slice(&self.context);
        input.extend_from_slice(chunk);
        self.context.copy_from_slice(&chunk[CHUNK_SAMPLES - CONTEXT_SAMPLES..]);
        // Reflection padding on the right, as the model was trained with.
        let n = input.len();
        for i in 1..=CONTEXT_SAMPLES {
            input.push(input[n - 1 - i]);
        }

        let x = Tensor::from_vec(input, (1, 1, n + CONTEXT_SAMPLES), &Device::Cpu)?;
        let spectrum = x.conv1d(&self.stft, 0, 128, 1, 1)?;
        let (real, imaginary) = (spectrum.narrow(1, 0, 129)?, spectrum.narrow(1, 129, 129)?);
        let mut features = (real.sqr()? + imaginary.sqr()?)?.sqrt()?;
        for conv in &self.convs {
            features = conv.forward(&features)?.relu()?;
        }
        // One time step is left: [1, 128, 1] -> [1, 128].
        let step = features.squeeze(D::Minus1)?;
        let gates = (step.matmul(&self.lstm_input)? + self.hidden.matmul(&self.lstm_hidden)?)?.broadcast_add(&self.lstm_bias)?;
        let gate = |i: usize| gates.narrow(1, i * STATE, STATE);
        let (input_gate, forget_gate) = (candle_nn::ops::sigmoid(&gate(0)?)?, candle_nn::ops::sigmoid(&gate(1)?)?);
        let (candidate, output_gate) = (gate(2)?.tanh()?, candle_nn::ops::sigmoid(&gate(3)?)?);
        self.cell = ((forget_gate * &self.cell)? + (input_gate * candidate)?)?;
        self.hidden = (output_gate * self.cell.tanh()?)?;
        let score = self.output.forward(&self.hidden.relu()?.unsqueeze(D::Minus1)?)?;
        Ok(candle_nn::ops::sigmoid(&score)?.flatten_all()?.to_vec1::<f32>()?[0])
    }
}

/// Reads safetensors through a plain read (the workspace forbids `unsafe`, so no mmap).
fn read_safetensors(path: &Path, device: &Device) -> candle_core::Result<std::collections::HashMap<String, Tensor>> {
    let bytes = std::fs::read(path)?;
    candle_core::safetensors::load_buffer(&bytes, device)
}
