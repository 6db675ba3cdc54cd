//! The voice corpus, generated rather than recorded so anyone can rebuild it: speech from
//! espeak-ng in several voices, speeds and pitches, mixed with synthetic cabin noise (road
//! rumble and fan hiss) at chosen signal-to-noise ratios. Tests and benchmarks share it.
//!
//! Voices are split: [`ENROLMENT_VOICES`] make the wake-word templates, [`HELD_OUT_VOICES`]
//! are what it is measured on, so no figure comes from a voice the model was built from.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use cabin_audio::{read_wav_bytes, Audio, SAMPLE_RATE};

/// How espeak-ng says something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speaker {
    pub voice: &'static str,
    pub words_per_minute: u32,
    pub pitch: u32,
}

impl Speaker {
    pub const fn new(voice: &'static str, words_per_minute: u32, pitch: u32) -> Speaker {
        Speaker { voice, words_per_minute, pitch }
    }

    pub fn label(&self) -> String {
        format!("{}@{}wpm/p{}", self.voice, self.words_per_minute, self.pitch)
    }
}

pub const ENROLMENT_VOICES: &[Speaker] = &[
    Speaker::new("en-us", 150, 50),
    Speaker::new("en-us", 180, 45),
    Speaker::new("en-gb", 160, 50),
    Speaker::new("en-us+f3", 160, 55),
    Speaker::new("en-gb-x-rp", 150, 40),
];

pub const HELD_OUT_VOICES: &[Speaker] = &[
    Speaker::new("en-us+m3", 140, 40),
    Speaker::new("en-us+f2", 170, 60),
    Speaker::new("en-gb-scotland", 160, 50),
    Speaker::new("en-029", 150, 50),
    Speaker::new("en-us-nyc", 190, 45),
    Speaker::new("en-gb-x-gbclan", 165, 55),
    Speaker::new("en-us+f4", 155, 65),
    Speaker::new("en-us+m5", 175, 35),
];

pub const SNRS_DB: &[f32] = &[20.0, 10.0, 5.0];

pub const WAKE_PHRASE: &str = "hey cabin";

/// Commands as a driver says them, with what a perfect transcript reads (digits as whisper
/// writes them).
pub const COMMANDS: &[(&str, &str)] = &[
    ("set the temperature to twenty one degrees", "set the temperature to 21 degrees"),
    ("open the trunk", "open the trunk"),
    ("turn on the seat heating", "turn on the seat heating"),
    ("close all the windows", "close all the windows"),
    ("navigate to the nearest charging station", "navigate to the nearest charging station"),
    ("make it a bit warmer", "make it a bit warmer"),
    ("turn the fan up", "turn the fan up"),
    ("lock the doors", "lock the doors"),
    ("what is the battery level", "what is the battery level"),
    ("play some jazz", "play some jazz"),
    ("call my wife", "call my wife"),
    ("open the sunroof halfway", "open the sunroof halfway"),
    ("turn off the air conditioning", "turn off the air conditioning"),
    ("set the volume to ten", "set the volume to 10"),
    ("is my hat in the car", "is my hat in the car"),
    ("defrost the windshield", "defrost the windshield"),
];

/// Speech that must not wake the car: chatter, commands without the phrase, near misses.
pub const WITHOUT_PHRASE: &[&str] = &[
    "I think we should stop for coffee before the motorway",
    "the cabinet in the kitchen needs a new hinge",
    "hey can you pass me the water bottle",
    "did you see the game last night",
    "turn left at the next junction and then keep going",
    "we are going to be late again",
    "the cab driver said it would take twenty minutes",
    "hey Kevin how are you doing today",
    "can I have some of those crisps",
    "the weather forecast says rain this afternoon",
    "open the trunk when we get home",
    "my cousin bought a cabin by the lake",
    "hey listen to this song it is great",
    "I left my phone on the back seat",
    "how long until we get there",
    "the traffic is terrible on this road",
];

/// espeak-ng speaking `text` (a few hundred milliseconds of silence at each end, as a
/// person leaves), at 16 kHz.
pub fn speak(text: &str, speaker: &Speaker) -> Audio {
    let mut child = Command::new("espeak-ng")
        .args(["--stdout", "-v", speaker.voice, "-s", &speaker.words_per_minute.to_string(), "-p", &speaker.pitch.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("espeak-ng is installed (.ci/run installs it)");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("espeak-ng reads its text");
    let output = child.wait_with_output().expect("espeak-ng runs");
    assert!(output.status.success(), "espeak-ng failed for voice {}", speaker.voice);
    read_wav_bytes(&output.stdout, Path::new("espeak-ng")).expect("espeak-ng writes WAV")
}

/// `audio` with `seconds` of silence before and after.
pub fn padded(audio: &Audio, before: f32, after: f32) -> Audio {
    let mut samples = vec![0.0; (before * SAMPLE_RATE as f32) as usize];
    samples.extend_from_slice(&audio.samples);
    samples.resize(samples.len() + (after * SAMPLE_RATE as f32) as usize, 0.0);
    Audio::new(samples, SAMPLE_RATE)
}

/// Road rumble (integrated white noise, mostly below 200 Hz) and fan hiss (white noise,
/// gently low-passed), deterministic for a seed, normalised to an RMS of 0.1.
pub fn cabin_noise(samples: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut white = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    };
    let (mut rumble, mut hiss) = (0.0f32, 0.0f32);
    let noise: Vec<f32> = (0..samples)
        .map(|_| {
            rumble = rumble * 0.995 + white() * 0.1;
            hiss = hiss * 0.6 + white() * 0.4;
            rumble + hiss * 0.5
        })
        .collect();
    let rms = (noise.iter().map(|s| s * s).sum::<f32>() / noise.len().max(1) as f32).sqrt().max(1e-9);
    noise.into_iter().map(|s| s / rms * 0.1).collect()
}

/// `speech` with cabin noise added so that speech power over noise power is `snr_db`.
pub fn mix_at_snr(speech: &Audio, snr_db: f32, seed: u32) -> Audio {
    // Speech power over its voiced part, so leading and trailing silence do not count.
    let voiced: Vec<f32> = speech.samples.iter().copied().filter(|s| s.abs() > 1e-3).collect();
    let speech_power = voiced.iter().map(|s| s * s).sum::<f32>() / voiced.len().max(1) as f32;
    let noise = cabin_noise(speech.samples.len(), seed);
    let noise_power = 0.01;
    let gain = (speech_power / noise_power / 10f32.powf(snr_db / 10.0)).sqrt();
    let samples = speech.samples.iter().zip(&noise).map(|(s, n)| (s + n * gain).clamp(-1.0, 1.0)).collect();
    Audio::new(samples, speech.rate)
}

/// Word error rate of `hypothesis` against `reference`: edits over reference words, after
/// lower-casing and dropping punctuation (hyphens join, so "sun-roof" is "sunroof").
pub fn word_error_rate(reference: &str, hypothesis: &str) -> (usize, usize) {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .replace('-', "")
            .split_whitespace()
            .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>())
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (r, h) = (words(reference), words(hypothesis));
    (cabin_wake::edit_distance(&r, &h), r.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_errors_count_substitutions_insertions_and_deletions() {
        assert_eq!(word_error_rate("open the trunk", "Open the trunk."), (0, 3));
        assert_eq!(word_error_rate("open the trunk", "open a trunk now"), (2, 3));
        assert_eq!(word_error_rate("open the sunroof", "open the sun-roof"), (0, 3));
        assert_eq!(word_error_rate("lock the doors", ""), (3, 3));
    }

    #[test]
    fn noise_is_mixed_at_the_asked_ratio() {
        let tone = Audio::new((0..16_000).map(|i| (i as f32 * 0.07).sin() * 0.3).collect(), SAMPLE_RATE);
        let mixed = mix_at_snr(&tone, 10.0, 1);
        let noise: Vec<f32> = mixed.samples.iter().zip(&tone.samples).map(|(m, t)| m - t).collect();
        let power = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32;
        let snr = 10.0 * (power(&tone.samples) / power(&noise)).log10();
        assert!((snr - 10.0).abs() < 0.2, "{snr}");
    }
}
