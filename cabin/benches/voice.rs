//! Voice benchmark: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin --bench voice`
//! (needs `cabin models fetch whisper-tiny.en silero-vad piper-joe kokoro-ja onnxruntime` and espeak-ng). `CABIN_BENCH_WAKE=acoustic`
//! measures the acoustic wake stage (`cabin models fetch wakeword-embedding onnxruntime`);
//! `CABIN_BENCH_ONLY=wake` measures the wake phrase alone (false rejects, false accepts, near
//! misses and CPU), not recognition.
//!
//! The corpus is generated (cabin-voice-corpus): the held-out espeak-ng, Piper and Kokoro voices,
//! each command with and without "hey cabin", chatter without the phrase and near misses
//! ("hey Kevin…"), mixed with cabin noise at 20, 10 and 5 dB SNR. Nothing here was tuned on
//! these voices.

use std::time::Instant;

use cabin_asr::{AsrConfig, Transcriber};
use cabin_audio::Audio;
use cabin_bench_support::percentile;
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, word_error_rate, CHATTER, COMMANDS, HELD_OUT_VOICES, NEAR_MISSES, SNRS_DB};
use cabin_voice_service::{load_listener, transcribe_file, Heard, Listener, ListenerConfig, VoiceModels};

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[path = "support/assistant.rs"]
mod assistant;
use assistant::{vocabulary, DialogJudge};

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let models = VoiceModels::locate(&ModelsDir::resolve(), cabin_asr::DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}"));
    // `CABIN_BENCH_WAKE=acoustic`: the wake phrase heard by the acoustic head first.
    let acoustic = std::env::var("CABIN_BENCH_WAKE").is_ok_and(|stage| stage == "acoustic");
    let models = if acoustic { models.with_acoustic_wake(&ModelsDir::resolve()).unwrap_or_else(|e| panic!("{e}")) } else { models };
    let recognition = !std::env::var("CABIN_BENCH_ONLY").is_ok_and(|part| part == "wake");
    let asr_config = AsrConfig { vocabulary: vocabulary(), threads, ..AsrConfig::default() };
    println!(
        "voice benchmark: whisper tiny.en (converted), silero VAD in candle, {threads} threads; wake phrase {}",
        if acoustic { "heard by the acoustic head, then verified by whisper" } else { "spotted by whisper on text" }
    );

    // --- Generate the corpus once.
    let started = Instant::now();
    let mut commands = Vec::new(); // (snr, audio without phrase, audio with phrase, reference)
    let mut chatter = Vec::new(); // (snr, audio, near miss?, what was said)
    for (v, speaker) in HELD_OUT_VOICES.iter().enumerate() {
        for (c, (said, reference)) in COMMANDS.iter().enumerate() {
            let plain = padded(&speak(said, speaker), 0.6, 1.0);
            let woken = padded(&speak(&format!("hey cabin, {said}"), speaker), 0.6, 1.0);
            for &snr in SNRS_DB {
                let seed = (v * 100 + c) as u32;
                commands.push((snr, mix_at_snr(&plain, snr, seed), mix_at_snr(&woken, snr, seed + 7), *reference));
            }
        }
        let sayings = CHATTER.iter().map(|said| (said, false)).chain(NEAR_MISSES.iter().map(|said| (said, true)));
        for (c, (said, near_miss)) in sayings.enumerate() {
            let audio = padded(&speak(said, speaker), 0.6, 1.0);
            for &snr in SNRS_DB {
                chatter.push((snr, mix_at_snr(&audio, snr, (v * 100 + c) as u32 + 50), near_miss, *said));
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

    let per_voice = COMMANDS.len() * SNRS_DB.len();
    let family_of = |index: usize| HELD_OUT_VOICES[index / per_voice].family();
    if recognition {
        // --- ASR real-time factor on clean commands, trimmed window and whisper's full 30 s.
        for trim_window in [true, false] {
            let asr = Transcriber::load(&models.whisper, AsrConfig { trim_window, ..asr_config.clone() }).unwrap();
            let _warm = asr.transcribe(&commands[0].1).unwrap();
            let (mut audio_secs, mut asr_secs, mut latencies) = (0.0f32, 0.0f32, Vec::new());
            for (_, audio, _, _) in commands.iter().filter(|(snr, ..)| *snr == 20.0).take(64) {
                let transcript = asr.transcribe(audio).unwrap();
                audio_secs += audio.duration_secs();
                asr_secs += transcript.asr_ms / 1000.0;
                latencies.push(f64::from(transcript.asr_ms));
            }
            let window = if trim_window { "trimmed window (audio_ctx)" } else { "full 30 s window" };
            println!(
                "ASR {window}: real-time factor {:.3}, per command p50 {:.0} ms, p95 {:.0} ms (64 commands, 20 dB)",
                asr_secs / audio_secs,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.95)
            );
        }

        // --- whisper.cpp's own bench procedure on the same model: encode a full 30 s window of
        // zero mel frames (what `whisper-bench` times), through the C API directly.
        {
            let path = models.whisper.join(cabin_asr::MODEL_FILE);
            let context =
                whisper_rs::WhisperContext::new_with_params(path.to_str().unwrap(), whisper_rs::WhisperContextParameters::default())
                    .unwrap();
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
        let (mut listener, _) =
            load_listener(&models, asr_config.clone(), ListenerConfig { wake: None, ..ListenerConfig::default() }).unwrap();
        for &snr in SNRS_DB {
            let mut counts = FamilyCounts::default();
            for (index, (_, audio, _, reference)) in commands.iter().enumerate().filter(|(_, (s, ..))| *s == snr) {
                let heard = transcribe_file(&mut listener, audio).unwrap();
                counts.add(family_of(index), word_error_rate(reference, &heard.text));
            }
            let (errors, words) = counts.total();
            println!(
                "WER at {snr:>4} dB SNR: {:.1} % ({errors} errors in {words} words); {}",
                100.0 * errors as f32 / words.max(1) as f32,
                counts.rates()
            );
        }

        // --- whisper base (multilingual, installed for Mandarin) beside tiny.en on the 10 dB
        // commands: word errors by voice family, and what each costs.
        match VoiceModels::locate(&ModelsDir::resolve(), "whisper-base") {
            Ok(base) => {
                for (name, models) in [("tiny.en", &models), ("base", &base)] {
                    let asr = AsrConfig { language: "en".into(), ..asr_config.clone() };
                    let (mut listener, _) = load_listener(models, asr, ListenerConfig { wake: None, ..ListenerConfig::default() }).unwrap();
                    let (mut counts, mut audio_secs, mut asr_secs) = (FamilyCounts::default(), 0.0f32, 0.0f32);
                    for (index, (_, audio, _, reference)) in commands.iter().enumerate().filter(|(_, (s, ..))| *s == 10.0) {
                        let heard = transcribe_file(&mut listener, audio).unwrap();
                        counts.add(family_of(index), word_error_rate(reference, &heard.text));
                        audio_secs += audio.duration_secs();
                        asr_secs += heard.commands.iter().map(|c| c.timings.asr_ms / 1000.0).sum::<f32>();
                    }
                    println!("whisper {name} at 10 dB: WER {}; recognition real-time factor {:.3}", counts.rates(), asr_secs / audio_secs);
                }
            }
            Err(error) => println!("whisper base not compared: {error}"),
        }
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
        if let Err(error) = cabin_voice_service::enrol(&mut listener, &mut phrase, &recordings) {
            // A driver would be asked to record again; this voice keeps the default phrase.
            println!("enrolment refused for {}: {error}", speaker.label());
        }
        enrolled_listeners.push(
            load_listener(&models, asr_config.clone(), ListenerConfig { wake: Some(phrase), ..ListenerConfig::default() }).unwrap().0,
        );
    }
    let mut missed_by_voice = vec![0usize; HELD_OUT_VOICES.len()];
    let mut end_to_text = Vec::new();
    let mut full_silence_texts = Vec::new();
    for &snr in SNRS_DB {
        let (mut missed, mut missed_enrolled, mut total) = (0, 0, 0);
        // False rejects per voice family: (phrases missed, phrases said).
        let (mut by_family, mut by_family_enrolled) = (FamilyCounts::default(), FamilyCounts::default());
        for (index, (_, _, woken, _)) in commands.iter().enumerate().filter(|(_, (s, ..))| *s == snr) {
            let heard = transcribe_file(&mut listener, woken).unwrap();
            full_silence_texts.push(heard.text.clone());
            total += 1;
            missed += usize::from(!heard.woke);
            by_family.add(family_of(index), (usize::from(!heard.woke), 1));
            end_to_text.extend(heard.commands.iter().map(|c| f64::from(c.timings.end_of_speech_to_text_ms)));
            let enrolled = transcribe_file(&mut enrolled_listeners[index / per_voice], woken).unwrap();
            missed_enrolled += usize::from(!enrolled.woke);
            by_family_enrolled.add(family_of(index), (usize::from(!enrolled.woke), 1));
            missed_by_voice[index / per_voice] += usize::from(!enrolled.woke);
        }
        println!(
            "wake phrase at {snr:>4} dB: false rejects {missed}/{total} ({:.1} %) with the default phrase ({}), {missed_enrolled}/{total} ({:.1} %) after enrolment ({})",
            100.0 * missed as f32 / total as f32,
            by_family.rates(),
            100.0 * missed_enrolled as f32 / total as f32,
            by_family_enrolled.rates()
        );
    }
    let breakdown: Vec<String> =
        HELD_OUT_VOICES.iter().zip(&missed_by_voice).map(|(v, m)| format!("{} {m}/{per_voice}", v.label())).collect();
    println!("false rejects after enrolment, by voice: {}", breakdown.join(", "));
    println!(
        "end of speech to transcript (600 ms end-pointing + recognition): p50 {:.0} ms, p95 {:.0} ms over {} commands",
        percentile(&end_to_text, 0.5),
        percentile(&end_to_text, 0.95),
        end_to_text.len()
    );

    if recognition {
        // --- The same commands, the turn ended at a 250 ms pause when the assistant's dialog finds
        // the words a whole command: how much sooner, and how often words were lost by it.
        let mut judged =
            load_listener(&models, asr_config.clone(), ListenerConfig::default()).unwrap().0.with_judge(Box::new(DialogJudge::embedded()));
        let (mut early_to_text, mut ended_early, mut words_lost) = (Vec::new(), 0, 0);
        let woken_in_order = SNRS_DB.iter().flat_map(|&snr| commands.iter().filter(move |(s, ..)| *s == snr).map(|(_, _, woken, _)| woken));
        for (woken, full_text) in woken_in_order.zip(&full_silence_texts) {
            let heard = transcribe_file(&mut judged, woken).unwrap();
            for command in &heard.commands {
                early_to_text.push(f64::from(command.timings.end_of_speech_to_text_ms));
                ended_early += usize::from(command.timings.endpoint_ms < 500.0);
            }
            if heard.text.split_whitespace().count() < full_text.split_whitespace().count() {
                words_lost += 1;
                if words_lost <= 8 {
                    println!("  heard shorter: {full_text:?} -> {:?}", heard.text);
                }
            }
        }
        println!(
            "end of speech to transcript, ended at a pause when whole: p50 {:.0} ms, p95 {:.0} ms over {} commands ({ended_early} ended at the pause; {words_lost} heard shorter than with the full silence)",
            percentile(&early_to_text, 0.5),
            percentile(&early_to_text, 0.95),
            early_to_text.len()
        );
    }

    // --- False accepts on chatter and on near misses (default and enrolled phrases), and CPU
    // while listening.
    let per_voice_chatter = (CHATTER.len() + NEAR_MISSES.len()) * SNRS_DB.len();
    let (mut chatter_secs, mut speech_secs) = (0.0f32, 0.0f32);
    let (mut accepts, mut enrolled_accepts) = ([0usize; 2], [0usize; 2]); // [ordinary, near miss]
    let mut near_miss_accepts: std::collections::BTreeMap<&str, usize> = NEAR_MISSES.iter().map(|s| (*s, 0)).collect();
    let cpu_before = cpu_secs();
    for (_, audio, near_miss, said) in &chatter {
        let woke = transcribe_file(&mut listener, audio).unwrap().woke;
        speech_secs += audio.duration_secs();
        if !near_miss {
            chatter_secs += audio.duration_secs();
        } else if woke {
            *near_miss_accepts.get_mut(said).unwrap() += 1;
        }
        accepts[usize::from(*near_miss)] += usize::from(woke);
    }
    let speech_cpu = cpu_secs() - cpu_before;
    for (index, (_, audio, near_miss, _)) in chatter.iter().enumerate() {
        let woke = transcribe_file(&mut enrolled_listeners[index / per_voice_chatter], audio).unwrap().woke;
        enrolled_accepts[usize::from(*near_miss)] += usize::from(woke);
    }
    let per_hour = |n: usize| n as f32 / (chatter_secs / 3600.0);
    println!(
        "false accepts in {:.1} min of chatter without the phrase: {} with the default phrase ({:.1} per hour), {} after enrolment ({:.1} per hour)",
        chatter_secs / 60.0,
        accepts[0],
        per_hour(accepts[0]),
        enrolled_accepts[0],
        per_hour(enrolled_accepts[0])
    );
    let near_misses = chatter.len() - chatter.iter().filter(|c| !c.2).count();
    let by_saying: Vec<String> = near_miss_accepts.iter().map(|(said, n)| format!("\"{said}\" {n}")).collect();
    println!(
        "near misses accepted: {}/{near_misses} with the default phrase, {}/{near_misses} after enrolment; by saying (default phrase): {}",
        accepts[1],
        enrolled_accepts[1],
        by_saying.join(", ")
    );
    println!(
        "CPU while listening to speech (VAD, and whisper on each utterance): {:.1} % of one core",
        100.0 * speech_cpu / speech_secs as f64
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

/// Errors and counts (words, or phrases) per voice family, in the order first met.
#[derive(Default)]
struct FamilyCounts(Vec<(&'static str, usize, usize)>);

impl FamilyCounts {
    fn add(&mut self, family: &'static str, (errors, words): (usize, usize)) {
        match self.0.iter_mut().find(|(f, ..)| *f == family) {
            Some((_, e, n)) => (*e, *n) = (*e + errors, *n + words),
            None => self.0.push((family, errors, words)),
        }
    }

    fn total(&self) -> (usize, usize) {
        self.0.iter().fold((0, 0), |(e, n), (_, errors, words)| (e + errors, n + words))
    }

    /// "espeak-ng voices 26.4 %, Piper voices 5.7 %, ..."
    fn rates(&self) -> String {
        let rate = |errors: usize, words: usize| 100.0 * errors as f32 / words.max(1) as f32;
        self.0.iter().map(|(family, e, n)| format!("{family} voices {:.1} %", rate(*e, *n))).collect::<Vec<_>>().join(", ")
    }
}

fn listen_all(listener: &mut Listener, audio: &Audio) -> Vec<Heard> {
    listener.reset();
    let mut heard = Vec::new();
    for piece in audio.samples.chunks(1600) {
        heard.extend(listener.push(piece).unwrap());
    }
    heard
}
