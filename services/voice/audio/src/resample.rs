//! Band-limited resampling with a windowed sinc. Commands are seconds long, so a direct
//! polyphase-free implementation is fast enough (well under 1 % of the audio's duration)
//! and keeps the crate free of DSP dependencies.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side: enough for speech, where everything above
/// 7 kHz is discarded anyway.
const HALF_TAPS: i64 = 16;

/// `samples` at `from` Hz, resampled to `to` Hz. Downsampling low-passes at the new
/// Nyquist frequency so nothing aliases into the speech band.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() {
        return samples.to_vec();
    }
    let step = from as f64 / to as f64;
    // Cut-off relative to the input's Nyquist frequency, a little below to leave room for the window's roll-off.
    let cutoff = (to as f64 / from as f64).min(1.0) * 0.94;
    let reach = (HALF_TAPS as f64 / cutoff).ceil() as i64;
    let out_len = ((samples.len() as f64) / step).floor() as usize;
    let last = samples.len() as i64 - 1;
    (0..out_len)
        .map(|n| {
            let centre = n as f64 * step;
            let first = (centre.floor() as i64 - reach).max(0);
            let end = (centre.floor() as i64 + reach).min(last);
            let mut sum = 0.0;
            for k in first..=end {
                let x = (k as f64 - centre) * cutoff;
                let window = 0.5 + 0.5 * (PI * (k as f64 - centre) / (reach as f64 + 1.0)).cos();
                sum += samples[k as usize] as f64 * sinc(x) * window * cutoff;
            }
            sum as f32
        })
        .collect()
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        (0..(rate as f64 * seconds) as usize).map(|i| (2.0 * PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5).collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    #[test]
    fn a_tone_in_the_speech_band_keeps_its_pitch_and_level() {
        let out = resample(&tone(440.0, 44_100, 1.0), 44_100, 16_000);
        assert_eq!(out.len(), 16_000);
        let expected = tone(440.0, 16_000, 1.0);
        // Away from the edges the resampled tone matches a tone generated at 16 kHz.
        let error = out[200..15_800].iter().zip(&expected[200..15_800]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(error < 0.01, "max error {error}");
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed_not_folded_back() {
        let out = resample(&tone(12_000.0, 48_000, 1.0), 48_000, 16_000);
        assert!(rms(&out[200..15_800]) < 0.01, "rms {}", rms(&out));
    }

    #[test]
    fn upsampling_keeps_duration() {
        let out = resample(&tone(300.0, 8_000, 0.5), 8_000, 16_000);
        assert_eq!(out.len(), 8_000);
        assert!((rms(&out[100..7_900]) - 0.5 / 2f32.sqrt()).abs() < 0.01);
    }
}
