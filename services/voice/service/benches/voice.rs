//! Voice benchmark: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-voice --bench voice`
//! (needs `cabin models fetch whisper-tiny.en silero-vad` and espeak-ng).
//!
//! The corpus is generated (cabin-voice-corpus): the held-out espeak-ng voices, each
//! command with and without "hey cabin", and chatter without the phrase, mixed with cabin
//! noise at 20, 10 and 5 dB SNR. Nothing here was tuned on these voices.

use std::time::Instant;

use cabin_asr::{AsrConfig, Transcriber};
use cabin_audio::Audio;
use cabin_models::ModelsDir;
use cabin_voice::{load_listener, transcribe_file, Heard, Listener, ListenerConfig, VoiceModels};
use cabin_voice_corpus::{mix_at_snr, padded, speak, word_error_rate, COMMANDS, HELD_OUT_VOICES, SNRS_DB, WITHOUT_PHRASE};

/// The words the default task book biases the recogniser with (as `cabin serve voice` does).
fn vocabulary() -> Vec<String> {
    let vehicle = cabin_vehicle_config::VehicleConfig::embedded();
    let intents = cabin_nlu::IntentCatalog::embedded();
    cabin_dialog::TaskBook::load(&[] as &[&str], &intents, &vehicle.catalog).expect("shipped tasks load").vocabulary()
}

fn percentile(values: &mut [f32], p: f32) -> f32 {
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f32 * p).round() as usize]
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let models = VoiceModels::locate(&ModelsDir::resolve(), cabin_asr::DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let asr_config = AsrConfig { vocabulary: vocabulary(), threads, ..AsrConfig::default() };
    println!("voice benchmark: whisper tiny.en (converted), silero VAD in candle, {threads} threads");

    // --- Generate the corpus once.
    let started = Instant::now();
    let mut commands = Vec::new(); // (snr, audio without phrase, audio with phrase, reference)
    let mut chatter = Vec::new(); // (snr, audio)
    for (v, speaker) in HELD_OUT_VOICES.iter().enumerate() {
        for (c, (said, reference)) in COMMANDS.iter().enumerate() {
            let plain = padded(&speak(said, speaker), 0.6, 1.0);
            let woken = padded(&speak(&format!("hey cabin, {said}"), speaker), 0.6, 1.0);
            for &snr in SNRS_DB {
                let seed = (v * 100 + c) as u32;
                commands.push((snr, mix_at_snr(&plain, snr, seed), mix_at_snr(&woken, snr, seed + 7), *reference));
            }
        }
        for (c, said) in WITHOUT_PHRASE.iter().enumerate() {
            let audio = padded(&speak(said, speaker), 0.6, 1.0);
            for &snr in SNRS_DB {
                chatter.push((snr, mix_at_snr(&audio, snr, (v * 100 + c) as u32 + 50)));
            }
        }
    }
    println!(
        "corpus: {} commands and {} chatter clips over {} voices x {:?} dB SNR, generated in {:.0} s",
        commands.len() / SNRS_DB.len(),
        chatter.len() / SNRS_DB.len(),
        HELD_OUT_VOICES.len(),
        SNRS_DB,
        started.elapsed().as_secs_f32()
    );

    // --- ASR real-time factor on clean commands, trimmed window and whisper's full 30 s.
    for trim_window in [true, false] {
        let asr = Transcriber::load(&models.whisper, AsrConfig { trim_window, ..asr_config.clone() }).unwrap();
        let _warm = asr.transcribe(&commands[0].1).unwrap();
        let (mut audio_secs, mut asr_secs, mut latencies) = (0.0f32, 0.0f32, Vec::new());
        for (_, audio, _, _) in commands.iter().filter(|(snr, ..)| *snr == 20.0).take(64) {
            let transcript = asr.transcribe(audio).unwrap();
            audio_secs += audio.duration_secs();
            asr_secs += transcript.asr_ms / 1000.0;
            latencies.push(transcript.asr_ms);
        }
        let window = if trim_window { "trimmed window (audio_ctx)" } else { "full 30 s window" };
        println!(
            "ASR {window}: real-time factor {:.3}, per command p50 {:.0} ms, p95 {:.0} ms (64 commands, 20 dB)",
            asr_secs / audio_secs,
            percentile(&mut latencies.clone(), 0.5),
            percentile(&mut latencies, 0.95)
        );
    }

    // --- WER per SNR (commands without the phrase, every utterance a command).
    let (mut listener, _) = load_listener(&models, asr_config.clone(), ListenerConfig { wake: None, ..ListenerConfig::default() }).unwrap();
    for &snr in SNRS_DB {
        let (mut errors, mut words) = (0, 0);
        for (_, audio, _, reference) in commands.iter().filter(|(s, ..)| *s == snr) {
            let heard = transcribe_file(&mut listener, audio).unwrap();
            let (e, n) = word_error_rate(reference, &heard.text);
            errors += e;
            words += n;
        }
        println!("WER at {snr:>4} dB SNR: {:.1} % ({errors} errors in {words} words)", 100.0 * errors as f32 / words as f32);
    }

    // --- With the wake phrase: false rejects, end of speech to transcript.
    let (mut listener, _) = load_listener(&models, asr_config.clone(), ListenerConfig::default()).unwrap();
    let mut end_to_text = Vec::new();
    for &snr in SNRS_DB {
        let (mut missed, mut total) = (0, 0);
        for (_, _, woken, _) in commands.iter().filter(|(s, ..)| *s == snr) {
            let heard = transcribe_file(&mut listener, woken).unwrap();
            total += 1;
            if !heard.woke {
                missed += 1;
            }
            end_to_text.extend(heard.commands.iter().map(|c| c.timings.end_of_speech_to_text_ms));
        }
        println!("wake phrase at {snr:>4} dB: false rejects {missed}/{total} ({:.1} %)", 100.0 * missed as f32 / total as f32);
    }
    println!(
        "end of speech to transcript (600 ms end-pointing + recognition): p50 {:.0} ms, p95 {:.0} ms over {} commands",
        percentile(&mut end_to_text.clone(), 0.5),
        percentile(&mut end_to_text, 0.95),
        end_to_text.len()
    );

    // --- False accepts on chatter, and CPU while listening.
    let (mut false_accepts, mut chatter_secs) = (0, 0.0f32);
    let cpu_before = cpu_secs();
    for (_, audio) in &chatter {
        let heard = transcribe_file(&mut listener, audio).unwrap();
        chatter_secs += audio.duration_secs();
        false_accepts += usize::from(heard.woke);
    }
    let speech_cpu = cpu_secs() - cpu_before;
    println!(
        "false accepts: {false_accepts} in {:.1} min of chatter without the phrase ({:.1} per hour); CPU while listening to speech: {:.1} % of one core",
        chatter_secs / 60.0,
        false_accepts as f32 / (chatter_secs / 3600.0),
        100.0 * speech_cpu / chatter_secs as f64
    );
    let quiet = mix_at_snr(&Audio::silence(60.0), 30.0, 99);
    let cpu_before = cpu_secs();
    let heard = listen_all(&mut listener, &quiet);
    let silence_cpu = cpu_secs() - cpu_before;
    println!("CPU while listening to a quiet cabin: {:.2} % of one core (60 s, {} events)", 100.0 * silence_cpu / 60.0, heard.len());
    let chunk = vec![0.0f32; 512];
    let mut vad = cabin_vad::Silero::load(&models.vad).unwrap();
    let started = Instant::now();
    for _ in 0..2000 {
        vad.probability(&chunk).unwrap();
    }
    println!("silero VAD: {:.3} ms per 32 ms chunk", started.elapsed().as_secs_f64() * 1000.0 / 2000.0);
}

fn listen_all(listener: &mut Listener, audio: &Audio) -> Vec<Heard> {
    listener.reset();
    let mut heard = Vec::new();
    for piece in audio.samples.chunks(1600) {
        heard.extend(listener.push(piece).unwrap());
    }
    heard
}
