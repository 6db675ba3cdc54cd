use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::{resample, Audio, SAMPLE_RATE};

#[derive(Debug, Error)]
pub enum WavError {
    #[error("{}: not a WAV file this can read: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{}: the WAV file holds no samples", path.display())]
    Empty { path: PathBuf },
    #[error("{}: a sample rate of {rate} Hz; this reads {} to {} Hz", path.display(), READABLE_RATES.start(), READABLE_RATES.end())]
    Rate { path: PathBuf, rate: u32 },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The sample rates a WAV may have. A header claiming 1 Hz would make the resampler fill 16,000
/// samples for each one read.
pub const READABLE_RATES: std::ops::RangeInclusive<u32> = 4_000..=384_000;

/// Reads a WAV file (PCM 8 to 32 bit or float, 4 to 384 kHz, any channel count) as 16 kHz mono.
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    let file = std::fs::File::open(path).map_err(|source| WavError::Io { path: path.to_owned(), source })?;
    decode(std::io::BufReader::new(file), path)
}

/// As [`read_wav`], from bytes (stdin, a D-Bus argument); `origin` names them in errors.
/// A WAV written to a pipe (espeak-ng, sox, arecord) carries placeholder sizes because
/// its writer could not seek back; the sizes are taken from the bytes that arrived.
pub fn read_wav_bytes(bytes: &[u8], origin: &Path) -> Result<Audio, WavError> {
    let mut bytes = bytes.to_vec();
    fix_streamed_sizes(&mut bytes);
    decode(Cursor::new(bytes), origin)
}

/// Sets the RIFF and `data` chunk sizes to what is actually there when they claim more.
fn fix_streamed_sizes(bytes: &mut [u8]) {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return;
    }
    let riff_size = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff_size.to_le_bytes());
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        if &bytes[at..at + 4] == b"data" {
            let available = bytes.len() - at - 8;
            if size > available {
                bytes[at + 4..at + 8].copy_from_slice(&((available & !3) as u32).to_le_bytes());
            }
            return;
        }
        at += 8 + size + (size & 1);
    }
}

fn decode<R: Read>(reader: R, path: &Path) -> Result<Audio, WavError> {
    let format_error = |e: hound::Error| WavError::Format { path: path.to_owned(), reason: e.to_string() };
    let mut reader = hound::WavReader::new(reader).map_err(format_error)?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(WavError::Format { path: path.to_owned(), reason: "zero channels".into() });
    }
    if !READABLE_RATES.contains(&spec.sample_rate) {
        return Err(WavError::Rate { path: path.to_owned(), rate: spec.sample_rate });
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>().map_err(format_error)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|s| s as f32 * scale)).collect::<Result<_, _>>().map_err(format_error)?
        }
    };
    if interleaved.is_empty() {
        return Err(WavError::Empty { path: path.to_owned() });
    }
    let channels = spec.channels as usize;
    let mono: Vec<f32> = interleaved.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    Ok(Audio::new(resample(&mono, spec.sample_rate, SAMPLE_RATE), SAMPLE_RATE))
}

/// Writes 16-bit PCM mono at the audio's own rate.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), WavError> {
    let spec = hound::WavSpec { channels: 1, sample_rate: audio.rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let io_error = |e: hound::Error| match e {
        hound::Error::IoError(source) => WavError::Io { path: path.to_owned(), source },
        other => WavError::Format { path: path.to_owned(), reason: other.to_string() },
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(io_error)?;
    for sample in &audio.samples {
        writer.write_sample((sample.clamp(-1.0, 1.0) * i16::MAX as f32) as i16).map_err(io_error)?;
    }
    writer.finalize().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_claiming_an_absurd_rate_is_refused_in_words_before_any_resampling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one-hertz.wav");
        let spec = hound::WavSpec { channels: 1, sample_rate: 1, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..100_000 {
            writer.write_sample(0i16).unwrap();
        }
        writer.finalize().unwrap();
        let error = read_wav(&path).unwrap_err().to_string();
        assert!(error.ends_with("one-hertz.wav: a sample rate of 1 Hz; this reads 4000 to 384000 Hz"), "{error}");
    }

    fn write_stereo_44k(path: &Path, left: f32, right: f32, frames: usize) {
        let spec = hound::WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for _ in 0..frames {
            writer.write_sample((left * 32767.0) as i16).unwrap();
            writer.write_sample((right * 32767.0) as i16).unwrap();
        }
        writer.finalize().unwrap();
    }

    #[test]
    fn stereo_at_any_rate_becomes_16k_mono() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo.wav");
        write_stereo_44k(&path, 0.5, 0.1, 44_100);
        let audio = read_wav(&path).unwrap();
        assert_eq!(audio.rate, SAMPLE_RATE);
        assert_eq!(audio.samples.len(), 16_000);
        assert!((audio.samples[8_000] - 0.3).abs() < 0.01, "channels are averaged: {}", audio.samples[8_000]);
    }

    #[test]
    fn text_renamed_to_wav_is_a_format_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.wav");
        std::fs::write(&path, "these are not samples").unwrap();
        let error = read_wav(&path).unwrap_err();
        assert!(matches!(error, WavError::Format { .. }), "{error}");
        assert!(error.to_string().contains("notes.wav"), "{error}");
    }

    #[test]
    fn a_wav_without_samples_is_reported_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.wav");
        write_stereo_44k(&path, 0.0, 0.0, 0);
        assert!(matches!(read_wav(&path), Err(WavError::Empty { .. })));
    }

    #[test]
    fn a_wav_streamed_through_a_pipe_reads_with_its_real_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piped.wav");
        write_stereo_44k(&path, 0.25, 0.25, 4_410);
        let mut bytes = std::fs::read(&path).unwrap();
        // What a writer that cannot seek leaves in the header.
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let data = bytes.windows(4).position(|w| w == b"data").unwrap();
        bytes[data + 4..data + 8].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let audio = read_wav_bytes(&bytes, Path::new("stdin")).unwrap();
        assert_eq!(audio.samples.len(), 1_600);
    }

    #[test]
    fn written_audio_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("round.wav");
        let audio = Audio::new((0..1600).map(|i| (i as f32 / 1600.0) - 0.5).collect(), SAMPLE_RATE);
        write_wav(&path, &audio).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!(back.samples.len(), 1600);
        assert!(back.samples.iter().zip(&audio.samples).all(|(a, b)| (a - b).abs() < 1e-3));
    }
}
