//! The listening pipeline end to end on generated speech (voices not used anywhere for
//! tuning), with real models: needs `cabin models fetch whisper-tiny.en silero-vad piper-joe
//! onnxruntime`.

use std::sync::{Mutex, OnceLock};

use cabin_asr::AsrConfig;
use cabin_audio::{Audio, SAMPLE_RATE};
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, Speaker, HELD_OUT_VOICES};
use cabin_voice_service::{load_listener, transcribe_file, CommandJudge, FileTranscript, Heard, Listener, ListenerConfig, VoiceModels};

/// One listener for the file (loading whisper takes a while); tests take turns.
fn listener(config: ListenerConfig) -> Listener {
    static MODELS: OnceLock<VoiceModels> = OnceLock::new();
    let models =
        MODELS.get_or_init(|| VoiceModels::locate(&ModelsDir::resolve(), cabin_asr::DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}")));
    let asr = AsrConfig { threads: 1, vocabulary: vec!["temperature".into(), "trunk".into()], ..AsrConfig::default() };
    load_listener(models, asr, config).unwrap().0
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A US voice the default phrase was not enrolled from.
fn voice() -> &'static Speaker {
    &HELD_OUT_VOICES[0]
}

fn said_by(text: &str, speaker: &Speaker) -> Audio {
    mix_at_snr(&padded(&speak(text, speaker), 1.0, 1.2), 20.0, 11)
}

fn said(text: &str) -> Audio {
    said_by(text, voice())
}

fn words(text: &str) -> String {
    text.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
}

#[test]
fn wake_phrase_and_command_in_one_breath() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let result =
        transcribe_file(&mut listener(ListenerConfig::default()), &said("hey cabin, set the temperature to twenty one degrees")).unwrap();
    assert!(result.woke, "{result:?}");
    assert_eq!(words(&result.text), words("set the temperature to 21 degrees"), "{result:?}");
    let command = &result.commands[0];
    assert!(command.timings.endpoint_ms >= 500.0, "the end-pointer waits for trailing silence: {:?}", command.timings);
    assert!((0.6..1.1).contains(&command.start_secs), "{}", command.start_secs);
}

/// Finds a command whole once it names its degrees, as the assistant would from its slots.
struct WholeWithDegrees;

impl CommandJudge for WholeWithDegrees {
    fn is_whole_command(&self, text: &str) -> bool {
        text.to_lowercase().contains("degrees")
    }
}

#[test]
fn a_whole_command_ends_the_turn_at_a_short_pause_and_half_of_one_waits_for_the_rest() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let judged = || listener(ListenerConfig::default()).with_judge(Box::new(WholeWithDegrees));
    let whole = transcribe_file(&mut judged(), &said("hey cabin, set the temperature to twenty one degrees")).unwrap();
    assert_eq!(words(&whole.text), words("set the temperature to 21 degrees"), "{whole:?}");
    let timings = &whole.commands[0].timings;
    assert!((240.0..350.0).contains(&timings.endpoint_ms), "ended at the short silence, not after the full one: {timings:?}");

    // Half a command, a breath of 450 ms, the rest: one command, not cut at the breath.
    let heard = heard_with_a_breath("set the temperature", 0.45, "to twenty one degrees", Box::new(WholeWithDegrees));
    assert_eq!(heard.commands.len(), 1, "{heard:?}");
    assert_eq!(words(&heard.text), words("set the temperature to 21 degrees"), "{heard:?}");

    // Judged whole early in a short breath, but more words come before 250 ms: they count.
    let heard = heard_with_a_breath("set the temperature to twenty", 0.2, "one degrees", Box::new(WholeWithTemperature));
    assert_eq!(heard.commands.len(), 1, "{heard:?}");
    assert!(words(&heard.text).ends_with("degrees"), "the words after the breath are in the command: {heard:?}");

    // A command never judged whole waits out the silence, heard once at the pause.
    let waited =
        transcribe_file(&mut listener(ListenerConfig::default()).with_judge(Box::new(NeverWhole)), &said("hey cabin, open the trunk"))
            .unwrap();
    assert_eq!(words(&waited.text), "openthetrunk", "{waited:?}");
    assert!(waited.commands[0].timings.endpoint_ms >= 550.0, "{:?}", waited.commands[0].timings);
}

/// Words, a breath of `breath_secs`, more words, in cabin noise at 20 dB, heard with no phrase
/// needed and `judge` ending turns.
fn heard_with_a_breath(before: &str, breath_secs: f32, after: &str, judge: Box<dyn CommandJudge>) -> FileTranscript {
    let voiced = |text: &str| {
        let samples = speak(text, voice()).samples;
        let loud = |s: &&f32| s.abs() > 0.001;
        let start = samples.iter().position(|s| loud(&s)).unwrap_or(0);
        let end = samples.len() - samples.iter().rev().position(|s| loud(&s)).unwrap_or(0);
        samples[start..end].to_vec()
    };
    let mut samples = voiced(before);
    samples.extend(Audio::silence(breath_secs).samples);
    samples.extend(voiced(after));
    let audio = mix_at_snr(&padded(&Audio::new(samples, SAMPLE_RATE), 1.0, 1.2), 20.0, 11);
    let no_phrase = ListenerConfig { wake: None, ..ListenerConfig::default() };
    transcribe_file(&mut listener(no_phrase).with_judge(judge), &audio).unwrap()
}

/// Finds any temperature command whole, even one still missing its number.
struct WholeWithTemperature;

impl CommandJudge for WholeWithTemperature {
    fn is_whole_command(&self, text: &str) -> bool {
        text.to_lowercase().contains("temperature")
    }
}

struct NeverWhole;

impl CommandJudge for NeverWhole {
    fn is_whole_command(&self, _: &str) -> bool {
        false
    }
}

#[test]
fn the_piper_voice_is_heard_word_for_word_at_any_speed_and_pitch() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // One recorded person, as the car speaks and faster and higher, slower and lower; with no
    // noise in the network so that every run says it the same way.
    for speaker in [Speaker::piper(1.0, 1.0, 0.0), Speaker::piper(0.85, 1.1, 0.0), Speaker::piper(1.2, 0.9, 0.0)] {
        let audio = said_by("Set the temperature to twenty one degrees, then close all the windows.", &speaker);
        let heard = transcribe_file(&mut listener(ListenerConfig { wake: None, ..ListenerConfig::default() }), &audio).unwrap();
        assert_eq!(words(&heard.text), "setthetemperatureto21degreesthencloseallthewindows", "{}: {heard:?}", speaker.label());
    }
}

#[test]
fn speech_without_the_phrase_is_not_a_command() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let result = transcribe_file(&mut listener(ListenerConfig::default()), &said("open the trunk when we get home")).unwrap();
    assert!(!result.woke);
    assert_eq!(result.text, "", "{result:?}");
}

#[test]
fn silence_and_noise_give_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let quiet_cabin = mix_at_snr(&Audio::silence(3.0), 0.0, 5);
    for audio in [Audio::silence(3.0), quiet_cabin] {
        let result = transcribe_file(&mut listener(ListenerConfig { wake: None, ..ListenerConfig::default() }), &audio).unwrap();
        assert_eq!(result.text, "", "{result:?}");
        assert!(result.commands.is_empty());
    }
}

#[test]
fn the_phrase_alone_then_the_command_after_a_pause() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut samples = said("hey cabin").samples;
    samples.extend(said("open the trunk").samples);
    let result = transcribe_file(&mut listener(ListenerConfig::default()), &Audio::new(samples, SAMPLE_RATE)).unwrap();
    assert!(result.woke, "{result:?}");
    assert_eq!(words(&result.text), "openthetrunk", "{result:?}");
}

#[test]
fn push_to_talk_needs_no_phrase_and_times_out() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig { command_timeout_secs: 4.0, ..ListenerConfig::default() });
    assert!(matches!(listener.push_to_talk(), Heard::Wake { push_to_talk: true, .. }));
    let mut heard = listener.push(&said("open the trunk").samples).unwrap();
    heard.extend(listener.finish().unwrap());
    let commands: Vec<_> = heard.iter().filter_map(|h| if let Heard::Command(c) = h { Some(words(&c.text)) } else { None }).collect();
    assert_eq!(commands, ["openthetrunk"], "{heard:?}");

    listener.push_to_talk();
    let heard = listener.push(&Audio::silence(5.0).samples).unwrap();
    assert!(heard.contains(&Heard::WakeTimedOut), "{heard:?}");
    assert!(!listener.is_awake());
}

#[test]
fn enrolment_teaches_the_phrase_as_a_speaker_says_it() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // A Scottish voice: whisper writes the default phrase as "Hey Carbon" for it.
    let scottish = HELD_OUT_VOICES[2];
    let command = said_by("hey cabin, open the trunk", &scottish);
    let before = transcribe_file(&mut listener(ListenerConfig::default()), &command).unwrap();
    assert!(!before.woke, "the unenrolled phrase should not match for this voice: {before:?}");

    let recordings: Vec<Audio> = [0.8, 1.0, 1.15].iter().map(|&speed| said_by("hey cabin", &scottish.at_speed(speed))).collect();
    let mut phrase = cabin_wake::WakePhrase::default();
    cabin_voice_service::enrol(&mut listener(ListenerConfig::default()), &mut phrase, &recordings).unwrap();
    let after = transcribe_file(&mut listener(ListenerConfig { wake: Some(phrase), ..ListenerConfig::default() }), &command).unwrap();
    assert!(after.woke, "{after:?}");
    assert_eq!(words(&after.text), "openthetrunk", "{after:?}");
}
