//! Microphones and speakers through cpal (ALSA on the car's Linux).
//!
//! A cpal stream is not `Send`, so each lives on a thread of its own for as long as its
//! handle does. Capture converts whatever the device offers to 16 kHz mono in blocks of
//! 100 ms; a device that fails mid-stream is logged, and the stream stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use thiserror::Error;

use crate::{resample, Audio, SAMPLE_RATE};

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("no audio {direction} device{}", named.as_ref().map(|n| format!(" named `{n}`")).unwrap_or_default())]
    NotFound { direction: &'static str, named: Option<String> },
    #[error("audio device `{device}`: {reason}")]
    Failed { device: String, reason: String },
    #[error("no sound card, so no audio {direction} device")]
    NoSoundCard { direction: &'static str },
}

/// Where ALSA lists the sound cards, and the files that may route its default device
/// elsewhere (to a file, a network sink, a plugin).
const CARDS: &str = "/proc/asound/cards";
const SYSTEM_CONFIG: &str = "/etc/asound.conf";

/// Whether ALSA has nowhere to play or record by default: no card, and no configuration of the
/// machine's or the user's that could name a default device without one. ALSA itself would
/// print eight lines of its own to stderr to say the same.
fn no_sound_card(cards: &std::path::Path, configs: &[std::path::PathBuf]) -> bool {
    let listed = std::fs::read_to_string(cards).unwrap_or_default();
    let no_cards = listed.trim().is_empty() || listed.contains("no soundcards");
    no_cards && !configs.iter().any(|config| config.exists())
}

fn alsa_configs() -> Vec<std::path::PathBuf> {
    let mut configs = vec![std::path::PathBuf::from(SYSTEM_CONFIG)];
    configs.extend(std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".asoundrc")));
    // A list, like PATH: ALSA's own file and the machine's additions after it.
    if let Some(paths) = std::env::var_os("ALSA_CONFIG_PATH") {
        configs.extend(std::env::split_paths(&paths));
    }
    configs
}

fn find(input: bool, name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let direction = if input { "input" } else { "output" };
    if name.is_none() && no_sound_card(std::path::Path::new(CARDS), &alsa_configs()) {
        return Err(DeviceError::NoSoundCard { direction });
    }
    let host = cpal::default_host();
    let not_found = || DeviceError::NotFound { direction, named: name.map(str::to_owned) };
    match name {
        None => if input { host.default_input_device() } else { host.default_output_device() }.ok_or_else(not_found),
        Some(name) => {
            let devices = if input {
                host.input_devices().map(|d| d.collect::<Vec<_>>())
            } else {
                host.output_devices().map(|d| d.collect::<Vec<_>>())
            };
            devices
                .map_err(|_| not_found())?
                .into_iter()
                .find(|d| d.description().is_ok_and(|desc| desc.name() == name))
                .ok_or_else(not_found)
        }
    }
}

fn device_name(device: &cpal::Device) -> String {
    device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| "unnamed".into())
}

/// A running microphone; capture stops when it is dropped.
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Capture {
    /// Opens the named (or default) input and calls `on_audio` with 16 kHz mono blocks.
    pub fn start(name: Option<&str>, mut on_audio: impl FnMut(Vec<f32>) + Send + 'static) -> Result<Capture, DeviceError> {
        let device = find(true, name)?;
        let label = device_name(&device);
        let failed = |reason: String| DeviceError::Failed { device: label.clone(), reason };
        let supported = device.default_input_config().map_err(|e| failed(e.to_string()))?;
        let (channels, rate) = (supported.channels() as usize, supported.sample_rate());
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_stop = stop.clone();
        std::thread::Builder::new()
            .name("microphone".into())
            .spawn(move || {
                let (block_tx, block_rx) = mpsc::channel::<Vec<f32>>();
                let mut pending = Vec::new();
                let stream = device.build_input_stream(
                    supported.config(),
                    move |data: &[f32], _: &cpal::InputCallbackInfo| {
                        pending.extend(data.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
                        // Resampled in 100 ms blocks: the filter's edge effects stay below hearing.
                        if pending.len() >= rate as usize / 10 {
                            let _ = block_tx.send(std::mem::take(&mut pending));
                        }
                    },
                    move |error| tracing::error!(%error, "microphone failed"),
                    None,
                );
                let stream = match stream.and_then(|s| s.play().map(|_| s)) {
                    Ok(stream) => stream,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while !thread_stop.load(Ordering::SeqCst) {
                    match block_rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(block) => on_audio(resample(&block, rate, SAMPLE_RATE)),
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                drop(stream);
            })
            .map_err(|e| failed(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Capture { stop }),
            Ok(Err(reason)) => Err(failed(reason)),
            Err(_) => Err(failed("capture thread ended".into())),
        }
    }
}

/// Plays `audio` on the named (or default) output until it ends or `stop` is set; returns
/// whether it was stopped.
pub fn play_until(audio: &Audio, name: Option<&str>, stop: &AtomicBool) -> Result<bool, DeviceError> {
    let device = find(false, name)?;
    let label = device_name(&device);
    let failed = |reason: String| DeviceError::Failed { device: label.clone(), reason };
    let supported = device.default_output_config().map_err(|e| failed(e.to_string()))?;
    let (channels, rate) = (supported.channels() as usize, supported.sample_rate());
    let samples = resample(&audio.samples, audio.rate, rate);
    let duration = Duration::from_secs_f64(samples.len() as f64 / rate as f64);
    let mut position = 0;
    let stream = device
        .build_output_stream(
            supported.config(),
            move |out: &mut [f32], _: &cpal::OutputCallbackInfo| {
                for frame in out.chunks_mut(channels) {
                    let sample = samples.get(position).copied().unwrap_or(0.0);
                    frame.fill(sample);
                    position += 1;
                }
            },
            move |error| tracing::error!(%error, "speaker failed"),
            None,
        )
        .map_err(|e| failed(e.to_string()))?;
    stream.play().map_err(|e| failed(e.to_string()))?;
    let started = std::time::Instant::now();
    while started.elapsed() < duration + Duration::from_millis(100) {
        if stop.load(Ordering::SeqCst) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(false)
}

/// Plays `audio` to the end.
pub fn play(audio: &Audio, name: Option<&str>) -> Result<(), DeviceError> {
    play_until(audio, name, &AtomicBool::new(false)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_card_and_no_alsa_config_is_no_sound_card() {
        let dir = tempfile::tempdir().unwrap();
        let cards = dir.path().join("cards");
        let config = dir.path().join("asoundrc");
        assert!(no_sound_card(&cards, std::slice::from_ref(&config)), "no card list at all (no ALSA in the kernel)");
        std::fs::write(&cards, "--- no soundcards ---\n").unwrap();
        assert!(no_sound_card(&cards, std::slice::from_ref(&config)));
        std::fs::write(&config, "pcm.!default { type file slave.pcm null file /tmp/out.raw }\n").unwrap();
        assert!(!no_sound_card(&cards, std::slice::from_ref(&config)), "a configured default may need no card");
        std::fs::remove_file(&config).unwrap();
        std::fs::write(&cards, " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n").unwrap();
        assert!(!no_sound_card(&cards, &[config]));
    }
}
