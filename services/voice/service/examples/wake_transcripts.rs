//! Dumps how whisper writes the start of each corpus clip, with and without the wake phrase
//! as prompt, token by token, and whether the listener woke: the data the wake phrase's
//! acceptance rule is chosen from (on the enrolment voices; the held-out ones are for figures).
//! `cargo run --release -p cabin-voice-service --example wake_transcripts -- enrolment|held-out [chatter] > out.jsonl`
//! (`chatter`: only the ordinary chatter, for false accepts).

use cabin_asr::{AsrConfig, Transcriber};
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, CHATTER, COMMANDS, ENROLMENT_VOICES, HELD_OUT_VOICES, NEAR_MISSES, SNRS_DB};
use cabin_voice_service::VoiceModels;

fn main() {
    let voices = match std::env::args().nth(1).as_deref() {
        Some("held-out") => HELD_OUT_VOICES,
        _ => ENROLMENT_VOICES,
    };
    let mut listener = cabin_voice_service::load_listener(
        &VoiceModels::locate(&ModelsDir::resolve(), cabin_asr::DEFAULT_MODEL).unwrap(),
        AsrConfig::default(),
        cabin_voice_service::ListenerConfig::default(),
    )
    .unwrap()
    .0;
    let models = VoiceModels::locate(&ModelsDir::resolve(), cabin_asr::DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let asr = Transcriber::load(&models.whisper, AsrConfig::default()).unwrap();
    let phrase = cabin_wake::WakePhrase::default();
    let mut clips: Vec<(bool, String)> = COMMANDS.iter().map(|(said, _)| (true, format!("hey cabin, {said}"))).collect();
    clips.extend(CHATTER.iter().chain(NEAR_MISSES).map(|said| (false, said.to_string())));
    clips.extend(COMMANDS.iter().map(|(said, _)| (false, said.to_string())));
    if std::env::args().nth(2).as_deref() == Some("chatter") {
        clips.retain(|(has_phrase, said)| !has_phrase && CHATTER.contains(&said.as_str()));
    }
    for (v, speaker) in voices.iter().enumerate() {
        for (c, (has_phrase, text)) in clips.iter().enumerate() {
            let clean = padded(&speak(text, speaker), 0.2, 0.3);
            for &snr in SNRS_DB {
                let audio = mix_at_snr(&clean, snr, (v * 100 + c) as u32 + 1000);
                let probe = cabin_audio::Audio::new(audio.samples[..audio.samples.len().min(32_000)].to_vec(), audio.rate);
                let prompted = asr.transcribe_after(&probe, &phrase.prompt()).unwrap();
                let listened = cabin_voice_service::transcribe_file(&mut listener, &padded(&audio, 0.4, 0.7)).unwrap();
                let plain = asr.transcribe_after(&probe, "").unwrap();
                let line = serde_json::json!({
                    "voice": speaker.label(), "snr": snr, "phrase": has_phrase, "said": text,
                    "prompted": prompted.text, "prompted_tokens": prompted.tokens,
                    "plain": plain.text, "plain_tokens": plain.tokens,
                    "woke": listened.woke, "heard": listened.text,
                });
                println!("{line}");
            }
        }
    }
}
