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

    // --- whisper.cpp's own bench procedure on the same model: encode a full 30 s window of
    // zero mel frames (what `whisper-bench` times), through the C API directly.
    {
        let path = models.whisper.join(cabin_asr::MODEL_FILE);
        let context =
            whisper_rs::WhisperContext::new_with_params(path.to_str().unwrap(), whisper_rs::WhisperContextParameters::default()).unwrap();
        let mut state = context.create_state().unwrap();
        state.set_mel(&vec![0.0; 80 * 3000]).unwrap();
        state.encode(0, threads).unwrap();
        let started = Instant::now();
        for _ in 0..3 {
            state.encode(0, threads).unwrap();
        }
        let encode_ms = started.elapsed().as_secs_f32() * 1000.0 / 3.0;
        let asr = Transcriber::load(&models.whisper, AsrConfig { trim_window: false, ..asr_config.clone() }).unwrap();
        // A 3 s command through our path with the full window: one 30 s encode plus decoding.
        let command = &commands[0].1;
        let full_ms: f32 = (0..3)
            .map(|_| {
                let started = Instant::now();
                let _ = asr.transcribe(command).unwrap();
                started.elapsed().as_secs_f32() * 1000.0
            })
            .sum::<f32>()
            / 3.0;
        println!(
            "whisper.cpp bench procedure (one 30 s encode, C API): {encode_ms:.0} ms; our path, full window, a {:.1} s command (encode + decode): {full_ms:.0} ms",
            command.duration_secs()
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

    // --- With the wake phrase: false rejects with the default phrase, and after each voice
    // enrolled itself (three recordings of the phrase at other speeds: what a driver does
    // once), and end of speech to transcript.
    let (mut listener, _) = load_listener(&models, asr_config.clone(), ListenerConfig::default()).unwrap();
    let mut enrolled_listeners = Vec::new();
    for speaker in HELD_OUT_VOICES {
        let recordings: Vec<Audio> =
            [0.8, 1.0, 1.2].iter().map(|&speed| padded(&speak("hey cabin", &speaker.at_speed(speed)), 0.3, 0.3)).collect();
        let mut phrase = cabin_wake::WakePhrase::default();
        if let Err(error) = cabin_voice::enrol(&mut listener, &mut phrase, &recordings) {
            // A driver would be asked to record again; this voice keeps the default phrase.
            println!("enrolment refused for {}: {error}", speaker.label());
        }
        enrolled_listeners.push(
            load_listener(&models, asr_config.clone(), ListenerConfig { wake: Some(phrase), ..ListenerConfig::default() }).unwrap().0,
        );
    }
    let per_voice = COMMANDS.len() * SNRS_DB.len();
    let mut missed_by_voice = vec![0usize; HELD_OUT_VOICES.len()];
    let mut end_to_text = Vec::new();
    for &snr in SNRS_DB {
        let (mut missed, mut missed_enrolled, mut total) = (0, 0, 0);
        for (index, (_, _, woken, _)) in commands.iter().enumerate().filter(|(_, (s, ..))| *s == snr) {
            let heard = transcribe_file(&mut listener, woken).unwrap();
            total += 1;
            missed += usize::from(!heard.woke);
            end_to_text.extend(heard.commands.iter().map(|c| c.timings.end_of_speech_to_text_ms));
            let enrolled = transcribe_file(&mut enrolled_listeners[index / per_voice], woken).unwrap();
            missed_enrolled += usize::from(!enrolled.woke);
            missed_by_voice[index / per_voice] += usize::from(!enrolled.woke);
        }
        println!(
            "wake phrase at {snr:>4} dB: false rejects {missed}/{total} ({:.1} %) with the default phrase, {missed_enrolled}/{total} ({:.1} %) after enrolment",
            100.0 * missed as f32 / total as f32,
            100.0 * missed_enrolled as f32 / total as f32
        );
    }
    let breakdown: Vec<String> =
        HELD_OUT_VOICES.iter().zip(&missed_by_voice).map(|(v, m)| format!("{} {m}/{per_voice}", v.label())).collect();
    println!("false rejects after enrolment, by voice: {}", breakdown.join(", "));
    println!(
        "end of speech to transcript (600 ms end-pointing + recognition): p50 {:.0} ms, p95 {:.0} ms over {} commands",
        percentile(&mut end_to_text.clone(), 0.5),
        percentile(&mut end_to_text, 0.95),
        end_to_text.len()
    );

    // --- False accepts on chatter (default and enrolled phrases), and CPU while listening.
    let per_voice_chatter = WITHOUT_PHRASE.len() * SNRS_DB.len();
    let (mut false_accepts, mut enrolled_accepts, mut chatter_secs) = (0, 0, 0.0f32);
    let cpu_before = cpu_secs();
    for (_, audio) in &chatter {
        let heard = transcribe_file(&mut listener, audio).unwrap();
        chatter_secs += audio.duration_secs();
        false_accepts += usize::from(heard.woke);
    }
    let speech_cpu = cpu_secs() - cpu_before;
    for (index, (_, audio)) in chatter.iter().enumerate() {
        enrolled_accepts += usize::from(transcribe_file(&mut enrolled_listeners[index / per_voice_chatter], audio).unwrap().woke);
    }
    println!(
        "false accepts in {:.1} min of chatter without the phrase: {false_accepts} with the default phrase ({:.1} per hour), {enrolled_accepts} after enrolment ({:.1} per hour)",
        chatter_secs / 60.0,
        false_accepts as f32 / (chatter_secs / 3600.0),
        enrolled_accepts as f32 / (chatter_secs / 3600.0)
    );
    println!(
        "CPU while listening to speech (VAD, and whisper on each utterance): {:.1} % of one core",
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
