//! Where the wake decision is made, on the wake training's validation voices (never the voice
//! benchmark's): for each clip, the acoustic head's best score and how near whisper came to
//! writing the phrase first (its regret, `PhraseFit`), for phrases followed by a command and for
//! near misses. Prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin --bench wake_tuning`
//! (needs `cabin models fetch whisper-tiny.en silero-vad kokoro wakeword-embedding onnxruntime`).
//!
//! The sentences are written here, apart from the voice benchmark's commands and near misses.

use std::sync::Mutex;

use cabin_asr::AsrConfig;
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak};
use cabin_voice_service::{load_listener, transcribe_file, ListenerConfig, VoiceModels};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

const COMMANDS: &[&str] = &[
    "turn the fan up to four",
    "put the heated steering wheel on",
    "how much charge is left",
    "close the sunroof",
    "navigate to the nearest pharmacy",
    "play the news",
    "lower the passenger window halfway",
    "set the rear temperature to twenty",
    "call my brother",
    "turn off the reading light",
];

const NEAR_MISSES: &[&str] = &[
    "hey Kevin grab my jacket from the back",
    "hey Gavin did you lock the front door",
    "hey Devin turn that music down",
    "hey Kelvin are you still awake",
    "hey Kaylin look at that sunset",
    "hey cousin how was the flight",
    "they cancelled the match last night",
    "take a cab in the morning instead",
    "hey Kevin where did you park the van",
    "hey Karen can you open the map",
];

/// What the listener's debug events said about the last clip: the head's score, whisper's fit.
#[derive(Default, Debug, Clone)]
struct Decision {
    score: Option<f32>,
    fit: Option<f32>,
    /// How near whisper came to writing the phrase's nearest rival ("Hey Kevin").
    rival: Option<f32>,
}

static LAST: Mutex<Decision> = Mutex::new(Decision { score: None, fit: None, rival: None });

struct Capture;

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Fields<'a>(&'a mut Decision);
        impl Visit for Fields<'_> {
            fn record_f64(&mut self, field: &Field, value: f64) {
                match field.name() {
                    "score" => self.0.score = Some(value as f32),
                    "fit" => self.0.fit = Some(value as f32),
                    "rival" => self.0.rival = Some(value as f32),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                // Optional values come as `Some(0.65)`.
                let value = format!("{value:?}").trim_start_matches("Some(").trim_end_matches(')').parse().ok();
                match field.name() {
                    "score" => self.0.score = value,
                    "rival" => self.0.rival = value,
                    _ => {}
                }
            }
        }
        if event.metadata().target().starts_with("cabin_voice_service") {
            event.record(&mut Fields(&mut LAST.lock().unwrap()));
        }
    }
}

fn main() {
    let filter = tracing_subscriber::filter::Targets::new().with_target("cabin_voice_service", tracing::Level::DEBUG);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture.with_filter(filter))).unwrap();
    let models = ModelsDir::resolve();
    // `CABIN_BENCH_WHISPER=whisper-base`: the multilingual base model judges instead of tiny.en.
    let whisper = std::env::var("CABIN_BENCH_WHISPER").unwrap_or_else(|_| cabin_asr::DEFAULT_MODEL.into());
    let voice = VoiceModels::locate(&models, &whisper).and_then(|m| m.with_acoustic_wake(&models)).unwrap_or_else(|e| panic!("{e}"));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let asr = AsrConfig { threads, language: "en".into(), ..AsrConfig::default() };
    let (mut listener, _) = load_listener(&voice, asr, ListenerConfig::default()).unwrap();
    let threshold = cabin_wake::acoustic::WakeHead::shipped().map(|head| head.info.threshold).unwrap_or_else(|e| panic!("{e}"));
    println!("wake decisions on the wake training's validation voices, whisper {whisper}; head threshold {threshold}");
    println!("voice\tsnr\tkind\twoke\tscore\tfit\trival\tsaid");
    // (kind, snr) -> [clips, woke, head fired]
    let mut counts: std::collections::BTreeMap<(&str, u32), [usize; 3]> = Default::default();
    for (v, speaker) in cabin_wake_training::VALIDATION_VOICES.iter().enumerate() {
        // The phrase with a comma (espeak-ng pauses there), run into the request as people say
        // it, and near misses.
        let sayings = COMMANDS
            .iter()
            .map(|c| (format!("hey cabin, {c}"), "phrase"))
            .chain(COMMANDS.iter().map(|c| (format!("hey cabin {c}"), "run-on")))
            .chain(NEAR_MISSES.iter().map(|n| (n.to_string(), "near")));
        for (c, (said, kind)) in sayings.enumerate() {
            let audio = padded(&speak(&said, speaker), 0.6, 1.0);
            for snr in [10.0, 5.0] {
                let noisy = mix_at_snr(&audio, snr, (v * 100 + c) as u32 + 900);
                *LAST.lock().unwrap() = Decision::default();
                let heard = transcribe_file(&mut listener, &noisy).unwrap();
                let last = LAST.lock().unwrap().clone();
                let show = |x: Option<f32>| x.map_or("-".to_string(), |x| format!("{x:.2}"));
                println!(
                    "{}\t{snr}\t{kind}\t{}\t{}\t{}\t{}\t{said}",
                    speaker.label(),
                    heard.woke,
                    show(last.score),
                    show(last.fit),
                    show(last.rival)
                );
                let count = counts.entry((kind, snr as u32)).or_default();
                count[0] += 1;
                count[1] += usize::from(heard.woke);
                count[2] += usize::from(last.score.is_some_and(|score| score >= threshold));
            }
        }
    }
    for ((kind, snr), [clips, woke, fired]) in counts {
        let what = match kind {
            "phrase" => "phrases",
            "run-on" => "phrases run into the request",
            _ => "near misses",
        };
        println!("{what} at {snr} dB: {woke} of {clips} woke the car; the head fired on {fired}");
    }
}
