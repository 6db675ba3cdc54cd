//! The wake phrase on sentences written by someone who never saw the listener
//! (`wake_strangers.txt`: "hey cabin" and a request, "hey Kevin" and the like said to a
//! passenger (some asking them to do something with the car), chatter with the phrase's sounds
//! in it), said by the voice benchmark's held-out
//! voices in cabin noise, heard by the listener as the car runs it (the assistant's dialog
//! judging the words; `CABIN_BENCH_JUDGE=off`: no judge). Prints figures, asserts nothing. Run
//! with `cargo bench -p cabin --bench wake_strangers --profile dev` (needs `cabin models fetch
//! minilm e5-small whisper-tiny.en silero-vad piper-joe kokoro wakeword-embedding onnxruntime`).

use cabin_asr::AsrConfig;
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, HELD_OUT_VOICES};
use cabin_voice_service::{load_listener, transcribe_file, ListenerConfig, VoiceModels};

#[path = "support/assistant.rs"]
mod assistant;

const SET: &str = include_str!("wake_strangers.txt");

fn main() {
    // `CABIN_LOG=cabin_voice_service=debug`: why each clip woke the car or not (the head's score, whisper's fit).
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("CABIN_LOG")).with_writer(std::io::stderr).init();
    let models = ModelsDir::resolve();
    let voice = VoiceModels::locate(&models, cabin_asr::DEFAULT_MODEL)
        .and_then(|m| m.with_acoustic_wake(&models))
        .unwrap_or_else(|e| panic!("{e}"));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let (listener, _) = load_listener(
        &voice,
        AsrConfig { vocabulary: assistant::vocabulary(), threads, ..AsrConfig::default() },
        ListenerConfig::default(),
    )
    .unwrap();
    let judged = std::env::var("CABIN_BENCH_JUDGE").map_or(true, |judge| judge != "off");
    let mut listener = if judged { listener.with_judge(Box::new(assistant::DialogJudge::embedded())) } else { listener };
    let snrs: Vec<f32> = std::env::var("CABIN_BENCH_SNRS")
        .map_or(vec![10.0], |snrs| snrs.split(',').map(|s| s.parse().expect("CABIN_BENCH_SNRS: numbers, comma-separated")).collect());
    // `CABIN_BENCH_VOICES=gbclan,piper`: only voices whose label holds one of these.
    let voices: Vec<String> = std::env::var("CABIN_BENCH_VOICES").map_or(Vec::new(), |v| v.split(',').map(str::to_string).collect());
    // `CABIN_BENCH_SET=FILE`: other sentences, in the same form.
    let set = std::env::var("CABIN_BENCH_SET")
        .map_or(SET.to_string(), |path| std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")));
    let mut kind = "";
    let sayings: Vec<(&str, &str)> = set
        .lines()
        .filter_map(|line| match line.trim() {
            "" => None,
            header if header.starts_with('#') => {
                kind = header.trim_start_matches('#').trim();
                None
            }
            said => Some((kind, said)),
        })
        .collect();
    println!(
        "wake phrase on a stranger's sentences, {} voices, {snrs:?} dB; {}",
        HELD_OUT_VOICES.len(),
        if judged { "the assistant judging" } else { "no judge" }
    );
    // (snr, kind, family) -> [clips, woke]
    let mut counts: std::collections::BTreeMap<(u32, &str, &str), [usize; 2]> = Default::default();
    for (v, speaker) in HELD_OUT_VOICES.iter().enumerate() {
        if !voices.is_empty() && !voices.iter().any(|wanted| speaker.label().contains(wanted.as_str())) {
            continue;
        }
        for (s, (kind, said)) in sayings.iter().enumerate() {
            let audio = padded(&speak(said, speaker), 0.6, 1.0);
            for &snr in &snrs {
                let heard = transcribe_file(&mut listener, &mix_at_snr(&audio, snr, (v * 1000 + s) as u32 + 5000)).unwrap();
                let woke_wrongly = heard.woke != (*kind == "phrase");
                if woke_wrongly {
                    println!("  {} {snr} dB {kind}: {said:?} -> woke {}, heard {:?}", speaker.label(), heard.woke, heard.text);
                }
                let count = counts.entry((snr as u32, kind, speaker.family())).or_default();
                count[0] += 1;
                count[1] += usize::from(heard.woke);
            }
        }
    }
    for ((snr, kind, family), [clips, woke]) in counts {
        println!("{snr} dB, {kind}, {family}: {woke} of {clips} woke the car ({:.1} %)", 100.0 * woke as f32 / clips as f32);
    }
}
