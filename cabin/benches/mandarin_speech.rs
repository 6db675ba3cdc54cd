//! Spoken Mandarin through the listening pipeline: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin --bench mandarin_speech`
//! (needs `cabin models fetch whisper-base silero-vad`, and pip for the recordings in
//! benches/mandarin_speech.toml).
//!
//! Real recordings (AISHELL-1 test utterances), clean and mixed with cabin noise at 20, 10 and
//! 5 dB, go through the end-pointer and whisper base with the language set to `zh`, as
//! `cabin serve voice --whisper whisper-base --language zh` hears a driver. The figure is the
//! character error rate: edits over the reference's characters, punctuation dropped, a
//! traditional character counted as an error.
//!
//! Then synthetic Mandarin in quantity: Kokoro's eight Mandarin speakers (`cabin models fetch
//! kokoro onnxruntime`) say commands of the held-out Chinese set (written apart from the intent
//! examples), a speaker each in turn, at the same SNRs: the character error rate, the intent
//! the assistant finds in what whisper heard against the one it finds in the written command,
//! and end of speech to transcript. Kokoro's Mandarin is read from each character's most common
//! pinyin, so a character read otherwise in its word is said wrong: the figures are a floor.
//!
//! Last, the wake phrase 你好小舱 with `--language zh`: through the acoustic head trained for it
//! (`--wake-head services/voice/wake/heads/ni-hao-xiao-cang`), then on whisper base's text alone
//! (the default), on the two Mandarin speakers the head never trained on
//! (`MANDARIN_HELD_OUT_VOICES`): the phrase before commands, the commands alone, and near misses.

use cabin_asr::AsrConfig;
use cabin_bench_support::percentile;
use cabin_models::{Manifest, ModelsDir};
use cabin_voice_corpus::{mix_at_snr, padded, speak, Speaker, MANDARIN_HELD_OUT_VOICES, SNRS_DB};
use cabin_voice_service::{load_listener, transcribe_file, Listener, ListenerConfig, VoiceModels};
use cabin_wake::WakePhrase;

/// Kokoro's Mandarin speakers, female and male.
const KOKORO_SPEAKERS: [&str; 8] =
    ["zf_xiaobei", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi", "zm_yunxia", "zm_yunyang"];
/// Every this many commands of the held-out set is said.
const EVERY: usize = 5;
/// Said to someone else, sharing the phrase's first or last characters or their sounds
/// (written for this benchmark, apart from the head's training sentences).
const NEAR_MISSES: [&str; 8] = [
    "你好小王，今天几点下班",
    "你好小朋友们",
    "小舱室里还挺宽敞",
    "你好，小李在吗",
    "你好小刘，帮我拿一下",
    "小仓鼠跑到座位底下了",
    "你好啊小姑娘",
    "这个船舱不大",
];

/// AISHELL-1's transcripts of the recordings, by utterance id.
const TRANSCRIPTS: [(&str, &str); 2] =
    [("BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况"), ("BAC009S0764W0122.wav", "一二线城市虽然也处于调整中")];

/// The characters that count: letters, digits and ideographs, one "word" each.
fn characters(text: &str) -> Vec<String> {
    text.chars().filter(|c| c.is_alphanumeric()).map(|c| c.to_lowercase().to_string()).collect()
}

fn main() {
    let models_dir = ModelsDir::resolve();
    let models = match VoiceModels::locate(&models_dir, "whisper-base") {
        Ok(models) => models,
        Err(error) => {
            println!("spoken Mandarin: not measured: {error}");
            return;
        }
    };
    let manifest: Manifest = toml::from_str(include_str!("mandarin_speech.toml")).expect("benches/mandarin_speech.toml parses");
    let fetched = match cabin_models::install(&ModelsDir::new(models_dir.root().join("test-data")), &manifest.models[0], false) {
        Ok(fetched) => fetched,
        Err(error) => {
            println!("spoken Mandarin: not measured, cannot fetch the recordings: {error}");
            return;
        }
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let asr = AsrConfig { language: "zh".into(), threads, ..AsrConfig::default() };
    let (mut listener, _) = load_listener(&models, asr, ListenerConfig { wake: None, ..ListenerConfig::default() }).unwrap();
    println!("spoken Mandarin, whisper base (language zh), {threads} threads: {} AISHELL-1 recordings", TRANSCRIPTS.len());
    println!("| SNR | character errors | characters | CER | real-time factor | heard |");
    println!("|---|---|---|---|---|---|");
    let levels = std::iter::once(None).chain(SNRS_DB.iter().copied().map(Some));
    for snr in levels {
        let (mut errors, mut total, mut audio_secs, mut asr_secs, mut heard) = (0, 0, 0.0f32, 0.0f32, Vec::new());
        for (index, (file, reference)) in TRANSCRIPTS.iter().enumerate() {
            let recording = cabin_audio::read_wav(&fetched.dir.join(file)).unwrap_or_else(|e| panic!("{e}")).at_rate(16_000);
            let recording = padded(&recording, 0.3, 1.0);
            let audio = match snr {
                Some(snr) => mix_at_snr(&recording, snr, index as u32 + 900),
                None => recording,
            };
            let transcript = transcribe_file(&mut listener, &audio).unwrap();
            let (reference, hypothesis) = (characters(reference), characters(&transcript.text));
            errors += cabin_wake::edit_distance(&reference, &hypothesis);
            total += reference.len();
            audio_secs += audio.duration_secs();
            asr_secs += transcript.commands.iter().map(|c| c.timings.asr_ms / 1000.0).sum::<f32>();
            heard.push(transcript.text);
        }
        let level = snr.map_or("clean".to_string(), |snr| format!("{snr:.0} dB"));
        println!(
            "| {level} | {errors} | {total} | {:.1} % | {:.3} | {} |",
            100.0 * errors as f32 / total as f32,
            asr_secs / audio_secs,
            heard.join(" / ")
        );
    }
    synthetic_commands(&mut listener);
    mandarin_wake(&models_dir, models);
}

/// The phrase before commands, the commands alone and near misses, by the held-out speakers:
/// with the acoustic stage, then on whisper's text alone (`--text-wake`).
fn mandarin_wake(models_dir: &ModelsDir, models: VoiceModels) {
    let head = concat!(env!("CARGO_MANIFEST_DIR"), "/../services/voice/wake/heads/ni-hao-xiao-cang");
    let acoustic = match models.clone().with_acoustic_wake(models_dir) {
        Ok(models) => VoiceModels { wake_head: Some(head.into()), ..models },
        Err(error) => return println!("Mandarin wake phrase: not measured: {error}"),
    };
    for models in [acoustic, models] {
        let asr = AsrConfig { language: "zh".into(), threads: 2, ..AsrConfig::default() };
        let config = ListenerConfig { wake: Some(WakePhrase::for_language("zh")), ..ListenerConfig::default() };
        mandarin_wake_with(&mut load_listener(&models, asr, config).unwrap().0);
    }
}

fn mandarin_wake_with(listener: &mut Listener) {
    let commands: Vec<String> = include_str!("../../services/assistant/nlu/tests/data/test-set-zh-2.jsonl")
        .lines()
        .step_by(EVERY * 2)
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON lines")["text"].as_str().expect("text").to_owned())
        .collect();
    println!(
        "Mandarin wake phrase 你好小舱 (acoustic stage: {}), {} held-out speakers × {} commands of the second held-out set, each with and without the phrase, and {} near misses",
        listener.has_acoustic_stage(),
        MANDARIN_HELD_OUT_VOICES.len(),
        commands.len(),
        NEAR_MISSES.len()
    );
    println!("| SNR | phrase + command: woke | command alone: woke | near miss: woke |");
    println!("|---|---|---|---|");
    for &snr in SNRS_DB {
        let (mut heard, mut false_wakes, mut near_wakes, mut missed) = (0, 0, 0, Vec::new());
        for (v, speaker) in MANDARIN_HELD_OUT_VOICES.iter().enumerate() {
            let woke = |listener: &mut Listener, text: &str, seed: u32| {
                let audio = mix_at_snr(&padded(&speak(text, speaker), 0.6, 1.0), snr, seed);
                transcribe_file(listener, &audio).unwrap().woke
            };
            for (c, command) in commands.iter().enumerate() {
                let seed = (v * 1000 + c) as u32;
                if woke(listener, &format!("你好小舱，{command}"), seed) {
                    heard += 1;
                } else if missed.len() < 3 {
                    missed.push(format!("{}: {command}", speaker.label()));
                }
                false_wakes += usize::from(woke(listener, command, seed + 500));
            }
            near_wakes += NEAR_MISSES.iter().enumerate().filter(|(n, text)| woke(listener, text, (v * 100 + n) as u32 + 7000)).count();
        }
        let said = MANDARIN_HELD_OUT_VOICES.len() * commands.len();
        println!(
            "| {snr:.0} dB | {heard}/{said} | {false_wakes}/{said} | {near_wakes}/{} |",
            MANDARIN_HELD_OUT_VOICES.len() * NEAR_MISSES.len()
        );
        println!("  missed e.g. {}", missed.join("; "));
    }
}

/// The held-out Chinese commands said by Kokoro's Mandarin speakers: CER, intents, latency.
fn synthetic_commands(listener: &mut Listener) {
    let commands: Vec<(String, String)> = include_str!("../../services/assistant/nlu/tests/data/test-set-zh.jsonl")
        .lines()
        .step_by(EVERY)
        .map(|line| {
            let case: serde_json::Value = serde_json::from_str(line).expect("the held-out set is JSON lines");
            (case["text"].as_str().expect("text").to_owned(), case["intent"].as_str().expect("intent").to_owned())
        })
        .collect();
    let models = ModelsDir::resolve();
    let brain = match cabin_assistant_service::Brain::load(
        &models,
        &cabin_assistant_service::BrainFiles::default(),
        &cabin_vehicle_config::VehicleConfig::embedded(),
    ) {
        Ok(brain) => brain,
        Err(error) => return println!("synthetic Mandarin: not measured: {error}"),
    };
    if let Err(error) = models.locate("kokoro") {
        return println!("synthetic Mandarin: not measured: {error}");
    }
    let understander = brain.dialog().understander().clone();
    let intent_of = |text: &str| understander.understand(text).map(|u| u.intent).unwrap_or_default();
    let written_right = commands.iter().filter(|(text, intent)| intent_of(text) == *intent).count();
    let said: Vec<cabin_audio::Audio> = commands
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            let speaker = KOKORO_SPEAKERS[index % KOKORO_SPEAKERS.len()];
            padded(&speak(text, &Speaker::kokoro(speaker, speaker, 0.0, 1.0, 1.0)), 0.6, 1.0)
        })
        .collect();
    println!(
        "synthetic Mandarin: {} held-out commands (every {EVERY}th), Kokoro's {} Mandarin speakers in turn; the intent found in the written commands: {written_right}/{}",
        commands.len(),
        KOKORO_SPEAKERS.len(),
        commands.len()
    );
    println!("| SNR | CER | intent right from what was heard | end of speech to transcript, p50 / p95 |");
    println!("|---|---|---|---|");
    let levels = std::iter::once(None).chain(SNRS_DB.iter().copied().map(Some));
    for snr in levels {
        let (mut errors, mut total, mut right, mut latencies, mut misheard) = (0, 0, 0, Vec::new(), Vec::new());
        for (index, ((text, intent), audio)) in commands.iter().zip(&said).enumerate() {
            let audio = match snr {
                Some(snr) => mix_at_snr(audio, snr, index as u32 + 1200),
                None => audio.clone(),
            };
            let transcript = transcribe_file(listener, &audio).unwrap();
            let (reference, hypothesis) = (characters(text), characters(&transcript.text));
            errors += cabin_wake::edit_distance(&reference, &hypothesis);
            total += reference.len();
            let found = intent_of(&transcript.text);
            if found == *intent {
                right += 1;
            } else if misheard.len() < 4 {
                misheard.push(format!("{text} → {} ({found})", transcript.text));
            }
            latencies.extend(transcript.commands.iter().map(|c| f64::from(c.timings.end_of_speech_to_text_ms)));
        }
        let level = snr.map_or("clean".to_string(), |snr| format!("{snr:.0} dB"));
        println!(
            "| {level} | {:.1} % | {right}/{} | {:.0} / {:.0} ms |",
            100.0 * errors as f32 / total as f32,
            commands.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.95)
        );
        println!("  e.g. {}", misheard.join("; "));
    }
}
