//! Microphones and speakers through cpal (ALSA on the car's Linux).
//!
//! A cpal stream is not `Send`, so each lives on a thread of its own for as long as its
//! handle does. Capture converts whatever the device offers to 16 kHz mono in blocks of
//! 100 ms; a microphone that fails or falls silent mid-stream (a USB one unplugged) is logged
//! and opened again until it is back, so the driver is heard again without a restart.

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

/// How long a playing microphone may hand over nothing before it counts as gone: ALSA delivers
/// a period every 10-100 ms, and a device unplugged mid-stream does not always say so.
const SILENT_DEVICE: Duration = Duration::from_secs(2);
/// Waits between attempts to open a lost microphone again: doubling from the first, at most
/// the last, for as long as the capture runs.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MOST: Duration = Duration::from_secs(5);

/// One open input stream, and what it hands over.
struct InputStream {
    /// Kept for its lifetime: dropping it closes the device.
    _stream: cpal::Stream,
    rate: u32,
    blocks: mpsc::Receiver<Vec<f32>>,
    failures: mpsc::Receiver<String>,
}

impl InputStream {
    fn open(name: Option<&str>) -> Result<InputStream, DeviceError> {
        let device = find(true, name)?;
        let label = device_name(&device);
        let failed = |reason: String| DeviceError::Failed { device: label.clone(), reason };
        let supported = device.default_input_config().map_err(|e| failed(e.to_string()))?;
        let (channels, rate) = (supported.channels() as usize, supported.sample_rate());
        let (block_tx, blocks) = mpsc::channel::<Vec<f32>>();
        let (failure_tx, failures) = mpsc::channel::<String>();
        let mut pending = Vec::new();
        let stream = device
            .build_input_stream(
                supported.config(),
                move |data: &[f32], _: &cpal::InputCallbackInfo| {
                    pending.extend(data.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
                    // Resampled in 100 ms blocks: the filter's edge effects stay below hearing.
                    if pending.len() >= rate as usize / 10 {
                        let _ = block_tx.send(std::mem::take(&mut pending));
                    }
                },
                move |error: cpal::Error| match error.kind() {
                    // cpal recovers from these itself; the stream goes on.
                    cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied => {
                        tracing::warn!(%error, "microphone glitch")
                    }
                    _ => {
                        let _ = failure_tx.send(error.to_string());
                    }
                },
                None,
            )
            .map_err(|e| failed(e.to_string()))?;
        stream.play().map_err(|e| failed(e.to_string()))?;
        Ok(InputStream { _stream: stream, rate, blocks, failures })
    }

    /// Hands 16 kHz blocks to `on_audio` until `stop` is set (None) or the device fails (why).
    fn run(&self, stop: &AtomicBool, on_audio: &mut impl FnMut(Vec<f32>)) -> Option<String> {
        let mut last_heard = std::time::Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if let Ok(reason) = self.failures.try_recv() {
                return Some(reason);
            }
            match self.blocks.recv_timeout(Duration::from_millis(200)) {
                Ok(block) => {
                    last_heard = std::time::Instant::now();
                    on_audio(resample(&block, self.rate, SAMPLE_RATE));
                }
                Err(mpsc::RecvTimeoutError::Timeout) if last_heard.elapsed() >= SILENT_DEVICE => {
                    return Some(format!("nothing heard for {} s", SILENT_DEVICE.as_secs()));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Some("the stream ended".into()),
            }
        }
        None
    }
}

/// Calls `open` until it succeeds, waiting longer after each failure (from [`RETRY_FIRST`],
/// doubling, at most [`RETRY_MOST`]) and logging each; None once `stop` is set.
fn reopen<T, E: std::fmt::Display>(stop: &AtomicBool, first_wait: Duration, mut open: impl FnMut() -> Result<T, E>) -> Option<T> {
    let mut wait = first_wait;
    for attempt in 1.. {
        let waited = std::time::Instant::now();
        while waited.elapsed() < wait {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20).min(wait));
        }
        match open() {
            Ok(opened) => {
                tracing::info!(attempt, "microphone open again");
                return Some(opened);
            }
            Err(error) => {
                tracing::warn!(attempt, %error, next_try_ms = (wait * 2).min(RETRY_MOST).as_millis() as u64, "microphone still gone")
            }
        }
        wait = (wait * 2).min(RETRY_MOST);
    }
    None
}

impl Capture {
    /// Opens the named (or default) input and calls `on_audio` with 16 kHz mono blocks. A
    /// device that cannot be opened now is an error; one that fails or falls silent later is
    /// logged and opened again, for as long as the capture runs.
    pub fn start(name: Option<&str>, mut on_audio: impl FnMut(Vec<f32>) + Send + 'static) -> Result<Capture, DeviceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_stop = stop.clone();
        let name = name.map(str::to_owned);
        std::thread::Builder::new()
            .name("microphone".into())
            .spawn(move || {
                // A cpal stream is not `Send`: it is opened, and opened again, on this thread.
                let mut stream = match InputStream::open(name.as_deref()) {
                    Ok(stream) => stream,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Some(reason) = stream.run(&thread_stop, &mut on_audio) {
                    tracing::error!(%reason, "microphone lost; opening it again");
                    drop(stream);
                    match reopen(&thread_stop, RETRY_FIRST, || InputStream::open(name.as_deref())) {
                        Some(again) => stream = again,
                        None => return,
                    }
                }
            })
            .map_err(|e| DeviceError::Failed { device: "microphone".into(), reason: e.to_string() })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Capture { stop }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(DeviceError::Failed { device: "microphone".into(), reason: "capture thread ended".into() }),
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
    fn a_lost_device_is_tried_again_waiting_longer_each_time_until_it_opens() {
        let stop = AtomicBool::new(false);
        let mut tries = Vec::new();
        let started = std::time::Instant::now();
        let opened = reopen(&stop, Duration::from_millis(10), || {
            tries.push(started.elapsed());
            if tries.len() < 4 {
                Err("no such device")
            } else {
                Ok("microphone")
            }
        });
        assert_eq!(opened, Some("microphone"));
        assert_eq!(tries.len(), 4);
        let gaps: Vec<Duration> = tries.windows(2).map(|pair| pair[1] - pair[0]).collect();
        for (gap, wanted) in gaps.iter().zip([20, 40, 80]) {
            assert!(*gap >= Duration::from_millis(wanted), "waited {gap:?} before a try, not {wanted} ms: {gaps:?}");
        }
    }

    #[test]
    fn trying_again_ends_when_the_capture_is_stopped() {
        let stop = Arc::new(AtomicBool::new(false));
        let stopper = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            stopper.store(true, Ordering::SeqCst);
        });
        let mut tries = 0;
        let opened: Option<()> = reopen(&stop, Duration::from_millis(10), || {
            tries += 1;
            Err("no such device")
        });
        assert_eq!(opened, None);
        assert!(tries >= 2, "it tried {tries} times");
    }

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
