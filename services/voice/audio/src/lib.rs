//! Audio for the voice path. Everything downstream (VAD, wake word, whisper) takes 16 kHz mono
//! f32 in [-1, 1]; this crate turns whatever a file or device gives into that, and writes
//! what the voice says back out.

mod device;
mod resample;
mod wav;

pub use device::{play, play_until, Capture, DeviceError};
pub use resample::resample;
pub use wav::{read_wav, read_wav_bytes, write_wav, WavError};

/// The rate every stage after the source works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// Mono samples at a known rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub rate: u32,
}

impl Audio {
    pub fn new(samples: Vec<f32>, rate: u32) -> Audio {
        Audio { samples, rate }
    }

    pub fn silence(seconds: f32) -> Audio {
        Audio::new(vec![0.0; (seconds * SAMPLE_RATE as f32) as usize], SAMPLE_RATE)
    }

    pub fn duration_secs(&self) -> f32 {
        self.samples.len() as f32 / self.rate as f32
    }

    /// This audio at `rate` (a copy when it already is).
    pub fn at_rate(&self, rate: u32) -> Audio {
        Audio::new(resample(&self.samples, self.rate, rate), rate)
    }

    /// Root-mean-square level in dBFS (-inf for digital silence).
    pub fn level_dbfs(&self) -> f32 {
        if self.samples.is_empty() {
            return f32::NEG_INFINITY;
        }
        let mean_square = self.samples.iter().map(|s| s * s).sum::<f32>() / self.samples.len() as f32;
        10.0 * mean_square.log10()
    }
}
