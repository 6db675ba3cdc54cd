//! The acoustic first stage in front of whisper, with the head shipped for "hey cabin", on
//! voices it never trained on (`HELD_OUT_VOICES`), and the one for 你好小舱 on Mandarin voices it
//! never trained on (`MANDARIN_HELD_OUT_VOICES`): needs `cabin models fetch whisper-tiny.en
//! whisper-base silero-vad wakeword-embedding piper-joe kokoro onnxruntime`.

use std::sync::{Arc, Mutex, OnceLock};

use cabin_asr::AsrConfig;
use cabin_audio::Audio;
use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, Speaker, HELD_OUT_VOICES, MANDARIN_HELD_OUT_VOICES};
use cabin_voice_service::{load_listener, transcribe_file, Heard, Listener, ListenerConfig, VoiceModels};
use cabin_wake::acoustic::{AcousticSpotter, SpeechEmbedder, WakeHead};
use cabin_wake::WakePhrase;

fn models() -> &'static VoiceModels {
    static MODELS: OnceLock<VoiceModels> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = ModelsDir::resolve();
        let models = VoiceModels::locate(&dir, cabin_asr::DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}"));
        models.with_acoustic_wake(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn listener(config: ListenerConfig) -> Listener {
    let asr = AsrConfig { threads: 1, vocabulary: vec!["temperature".into(), "trunk".into()], ..AsrConfig::default() };
    load_listener(models(), asr, config).unwrap().0
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn said_by(text: &str, speaker: &Speaker, snr_db: f32) -> Audio {
    mix_at_snr(&padded(&speak(text, speaker), 1.0, 1.2), snr_db, 23)
}

fn words(text: &str) -> String {
    text.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Everything the listener heard in `audio`.
fn heard(listener: &mut Listener, audio: &Audio) -> Vec<Heard> {
    listener.reset();
    let mut heard = listener.push(&audio.samples).unwrap();
    heard.extend(listener.finish().unwrap());
    heard
}

#[test]
fn the_phrase_and_a_command_wake_the_car_in_cabin_noise_from_voices_the_head_never_heard() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig::default());
    assert!(listener.has_acoustic_stage(), "the shipped head is for the default phrase");
    // A US espeak-ng voice and a Caribbean one, every time.
    for speaker in [HELD_OUT_VOICES[0], HELD_OUT_VOICES[3]] {
        let result = transcribe_file(&mut listener, &said_by("hey cabin, open the trunk", &speaker, 10.0)).unwrap();
        assert!(result.woke, "{}: {result:?}", speaker.label());
        assert_eq!(words(&result.text), "openthetrunk", "{}: {result:?}", speaker.label());
    }
    // A Kokoro speaker (a neural voice): the head learnt from other espeak-ng and Kokoro
    // voices; trained on espeak-ng alone it missed 41 of this speaker's 48 benchmark phrases.
    let commands = ["open the trunk", "lock the doors", "turn the fan up", "close all the windows"];
    let mut missed = Vec::new();
    for speaker in [HELD_OUT_VOICES[11]] {
        for command in commands {
            let result = transcribe_file(&mut listener, &said_by(&format!("hey cabin, {command}"), &speaker, 10.0)).unwrap();
            if !result.woke || words(&result.text) != words(command) {
                missed.push(format!("{}: {result:?}", speaker.label()));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[test]
fn talk_without_the_phrase_is_turned_away_before_whisper_runs() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig::default());
    let sayings =
        ["did you remember to bring the sandwiches", "the motorway is closed after the next exit", "open the trunk when we get home"];
    for speaker in [HELD_OUT_VOICES[1], HELD_OUT_VOICES[8]] {
        for saying in sayings {
            let heard = heard(&mut listener, &said_by(saying, &speaker, 20.0));
            assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{}: {heard:?}", speaker.label());
            // Nothing transcribed: the head kept whisper from running at all.
            assert!(
                heard.iter().any(|h| matches!(h, Heard::NotForUs { text } if text.is_empty())),
                "{} saying {saying:?}: {heard:?}",
                speaker.label()
            );
        }
    }
}

/// The car listening for 你好小舱 with whisper `base` in Mandarin and the head trained for it,
/// as `--language zh --wake-head services/voice/wake/heads/ni-hao-xiao-cang` runs it.
fn mandarin_listener() -> Listener {
    let dir = ModelsDir::resolve();
    let base = VoiceModels::locate(&dir, "whisper-base").unwrap_or_else(|e| panic!("{e}"));
    let head = concat!(env!("CARGO_MANIFEST_DIR"), "/../wake/heads/ni-hao-xiao-cang").into();
    let models = VoiceModels { wake_front_end: models().wake_front_end.clone(), wake_head: Some(head), ..base };
    let asr = AsrConfig { threads: 1, language: "zh".into(), ..AsrConfig::default() };
    load_listener(&models, asr, ListenerConfig { wake: Some(WakePhrase::for_language("zh")), ..ListenerConfig::default() }).unwrap().0
}

#[test]
fn the_mandarin_phrase_wakes_the_car_by_its_sound_and_chatter_never_reaches_whisper() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = mandarin_listener();
    assert!(listener.has_acoustic_stage(), "a head is trained for 你好小舱");
    let (mut missed, mut misheard) = (Vec::new(), Vec::new());
    for speaker in MANDARIN_HELD_OUT_VOICES {
        // Kokoro's Mandarin is a floor (README): "把空调关掉" comes out as "把空叫滚角", but it
        // comes out.
        for (command, words) in [("把空调关掉", ""), ("把温度调到二十二度", "温度"), ("导航去深圳", "深圳")] {
            let result = transcribe_file(&mut listener, &said_by(&format!("你好小舱，{command}"), speaker, 10.0)).unwrap();
            if !result.woke {
                missed.push(format!("{}: {command}: {result:?}", speaker.label()));
            } else if result.text.is_empty() || !result.text.contains(words) {
                misheard.push(format!("{}: {command}: {result:?}", speaker.label()));
            }
        }
        for saying in ["今天路上车真多", "你好小张，好久不见", "把后备箱的东西拿下来"] {
            let heard = heard(&mut listener, &said_by(saying, speaker, 20.0));
            assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{}: {heard:?}", speaker.label());
        }
    }
    // At 10 dB the head hears five of these six phrases; the benchmark counts more of them, and
    // it hears only 24 of 44 there (so it is not on by default). What it hears, whisper writes on
    // from.
    assert!(missed.len() <= 1, "{missed:#?}");
    assert!(misheard.is_empty(), "the command after the phrase: {misheard:#?}");
}

/// `--language auto --whisper whisper-base`: "hey cabin" heard by its head, 你好小舱 on
/// whisper's text once the head has turned the utterance away.
#[test]
fn with_auto_either_phrase_wakes_the_car_and_the_command_keeps_the_language_it_was_said_in() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let base = VoiceModels::locate(&ModelsDir::resolve(), "whisper-base").unwrap_or_else(|e| panic!("{e}"));
    let models = VoiceModels { wake_front_end: models().wake_front_end.clone(), ..base };
    let asr = AsrConfig { threads: 1, language: "auto".into(), ..AsrConfig::default() };
    let config = ListenerConfig {
        wake: Some(WakePhrase::for_language("en")),
        also_wake: vec![WakePhrase::for_language("zh")],
        ..ListenerConfig::default()
    };
    let mut listener = load_listener(&models, asr, config).unwrap().0;
    assert!(listener.has_acoustic_stage(), "\"hey cabin\" keeps its head beside a phrase without one");

    for speaker in MANDARIN_HELD_OUT_VOICES {
        // Kokoro's Mandarin is a floor (README): the number is what comes through every time.
        let result = transcribe_file(&mut listener, &said_by("你好小舱，温度调到二十二度", speaker, 20.0)).unwrap();
        assert!(result.woke && (result.text.contains("22") || result.text.contains("二十二")), "{}: {result:?}", speaker.label());
        assert_eq!(result.language, "zh", "{}: {result:?}", speaker.label());
        let heard = heard(&mut listener, &said_by("今天路上车真多", speaker, 20.0));
        assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{}: {heard:?}", speaker.label());
    }
    // The phrase alone, then the command after a breath.
    let speaker = &MANDARIN_HELD_OUT_VOICES[0];
    let mut samples = padded(&speak("你好小舱", speaker), 1.0, 1.5).samples;
    samples.extend(padded(&speak("温度调到二十二度", speaker), 0.0, 1.2).samples);
    let result = transcribe_file(&mut listener, &mix_at_snr(&Audio::new(samples, 16_000), 20.0, 23)).unwrap();
    assert!(result.woke && (result.text.contains("22") || result.text.contains("二十二")), "{result:?}");
    assert_eq!(result.language, "zh", "{result:?}");

    for speaker in [HELD_OUT_VOICES[3], HELD_OUT_VOICES[11]] {
        let result = transcribe_file(&mut listener, &said_by("hey cabin, open the trunk", &speaker, 20.0)).unwrap();
        assert!(result.woke, "{}: {result:?}", speaker.label());
        assert_eq!((words(&result.text).as_str(), result.language.as_str()), ("openthetrunk", "en"), "{}: {result:?}", speaker.label());
        let heard = heard(&mut listener, &said_by("the motorway is closed after the next exit", &speaker, 20.0));
        assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{}: {heard:?}", speaker.label());
    }
}

#[test]
fn a_head_for_another_phrase_leaves_the_spotting_to_whisper() {
    let front_end = models().wake_front_end.as_ref().unwrap();
    let mut head = WakeHead::shipped().unwrap();
    head.info.phrase = "hello aurora".into();
    let embedder = Arc::new(SpeechEmbedder::load(&front_end.dir, &front_end.runtime_library).unwrap());
    let text_only = VoiceModels { wake_front_end: None, ..models().clone() };
    let asr = AsrConfig { threads: 1, ..AsrConfig::default() };
    let listener = load_listener(&text_only, asr, ListenerConfig::default()).unwrap().0;
    assert!(!listener.has_acoustic_stage(), "no front end, no acoustic stage");
    let listener = listener.with_acoustic(Arc::new(AcousticSpotter { embedder, head }));
    assert!(!listener.has_acoustic_stage(), "a head for \"hello aurora\" cannot wake a car listening for \"hey cabin\"");
}

/// The head's best score on `audio` (heard with the lead of silence it was trained with).
fn head_score(audio: &Audio) -> f32 {
    let front_end = models().wake_front_end.as_ref().expect("acoustic models");
    let embedder = Arc::new(SpeechEmbedder::load(&front_end.dir, &front_end.runtime_library).unwrap());
    let spotter = AcousticSpotter { embedder, head: WakeHead::shipped().unwrap() };
    spotter.best(&padded(audio, 1.0, 0.0).samples).unwrap().map_or(0.0, |s| s.score)
}

#[test]
fn whisper_judges_the_sound_of_the_phrase_not_its_spelling() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig::default());
    // Voices whose phrase tiny.en spells "They come in" or "Take heaven" unprompted (in the
    // benchmark, 35 and 20 of their 48 phrases were lost to the spelling). The command is what
    // whisper writes on from the phrase it would nearly have written.
    for speaker in [HELD_OUT_VOICES[4], HELD_OUT_VOICES[6]] {
        let result = transcribe_file(&mut listener, &said_by("hey cabin, open the trunk", &speaker, 10.0)).unwrap();
        assert!(result.woke, "{}: {result:?}", speaker.label());
        assert_eq!(words(&result.text), "openthetrunk", "{}: {result:?}", speaker.label());
    }
    // Said so that the head fires, and whisper writes "A cabin in the woods…", which begins
    // with the name: whisper would not have written "Hey cabin" there.
    let threshold = WakeHead::shipped().unwrap().info.threshold;
    for speaker in [HELD_OUT_VOICES[3], HELD_OUT_VOICES[11]] {
        let audio = said_by("a cabin in the woods sounds nice", &speaker, 10.0);
        assert!(head_score(&audio) >= threshold, "{}: the head must fire for this to test whisper's judgement", speaker.label());
        let heard = heard(&mut listener, &audio);
        assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{}: {heard:?}", speaker.label());
    }
}

#[test]
fn a_phrase_said_as_soon_as_the_microphone_opens_wakes_the_car() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig::default());
    // 0.6 s of cabin noise before the phrase, where the head listens to 1.8 s: the rest of its
    // lead is the noise it did hear, not digital silence (with silence this voice woke the
    // car for 3 of 16 benchmark commands).
    let speaker = HELD_OUT_VOICES[4];
    let mut missed = Vec::new();
    for (seed, command) in
        ["open the trunk", "close all the windows", "what is the battery level", "set the volume to ten"].iter().enumerate()
    {
        let audio = mix_at_snr(&padded(&speak(&format!("hey cabin, {command}"), &speaker), 0.6, 1.0), 10.0, 40 + seed as u32);
        let result = transcribe_file(&mut listener, &audio).unwrap();
        if !result.woke {
            missed.push(format!("{command}: {result:?}"));
        }
    }
    assert!(missed.is_empty(), "{}: {missed:#?}", speaker.label());
}

#[test]
fn a_name_that_sounds_like_the_phrase_calls_someone_else_not_the_car() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut listener = listener(ListenerConfig::default());
    // Each woke the car before whisper weighed the phrase against its rivals: the head fired,
    // and whisper could be pushed to write "Hey cabin", though "Hey Calvin" or "Hey Kevin" fit
    // far better. The same voices' phrase still wakes it.
    for (speaker, said) in [(HELD_OUT_VOICES[2], "hey calvin, lock the doors"), (HELD_OUT_VOICES[7], "hey kevin, how was your day")] {
        let heard = heard(&mut listener, &said_by(said, &speaker, 10.0));
        assert!(!heard.iter().any(|h| matches!(h, Heard::Wake { .. } | Heard::Command(_))), "{} said {said:?}: {heard:?}", speaker.label());
        let result = transcribe_file(&mut listener, &said_by("hey cabin, lock the doors", &speaker, 10.0)).unwrap();
        assert!(result.woke && words(&result.text) == "lockthedoors", "{}: {result:?}", speaker.label());
    }
}
