//! Which stage turns the phrase away, on the wake head's validation voices (never the
//! benchmark's): `cargo run --release -p cabin-voice-service --example wake_stages`.
use cabin_asr::AsrConfig;
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, COMMANDS};
use cabin_voice_service::{load_listener, Heard, ListenerConfig, VoiceModels};

fn main() {
    let dir = ModelsDir::resolve();
    let models = VoiceModels::locate(&dir, cabin_asr::DEFAULT_MODEL).unwrap().with_acoustic_wake(&dir).unwrap();
    let asr = AsrConfig { threads: 2, ..AsrConfig::default() };
    let mut listener = load_listener(&models, asr, ListenerConfig::default()).unwrap().0;
    let voices = cabin_wake_training::VALIDATION_VOICES;
    let (mut woke, mut head_no, mut whisper_no) = (0, 0, 0);
    for speaker in voices {
        for (c, (said, _)) in COMMANDS.iter().enumerate() {
            let audio = mix_at_snr(&padded(&speak(&format!("hey cabin, {said}"), speaker), 0.6, 1.0), 10.0, c as u32);
            listener.reset();
            let mut heard = listener.push(&audio.samples).unwrap();
            heard.extend(listener.finish().unwrap());
            if heard.iter().any(|h| matches!(h, Heard::Wake { .. })) {
                woke += 1;
            } else if let Some(Heard::NotForUs { text }) = heard.iter().find(|h| matches!(h, Heard::NotForUs { .. })) {
                if text.is_empty() {
                    head_no += 1
                } else {
                    whisper_no += 1;
                    println!("{}: whisper heard {text:?}", speaker.label())
                }
            }
        }
    }
    println!("woke {woke}, head refused {head_no}, whisper refused {whisper_no}");
}
