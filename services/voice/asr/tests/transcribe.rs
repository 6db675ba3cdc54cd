//! The converted tiny.en transcribes real synthetic speech (espeak-ng), and stays silent on silence.
//! Needs `cabin models fetch whisper-tiny.en` and espeak-ng (both installed by `.ci/run`).

use cabin_asr::{AfterPhrase, AsrConfig, PhraseTest, Transcriber, DEFAULT_MODEL};
use cabin_audio::Audio;
use cabin_models::ModelsDir;

/// Words the assistant would pass as the prompt.
fn car_words() -> Vec<String> {
    ["temperature", "seat heating", "sunroof", "trunk", "windows", "navigate"].map(String::from).to_vec()
}

fn transcriber(config: AsrConfig) -> Transcriber {
    let dir = ModelsDir::resolve().locate(DEFAULT_MODEL).unwrap_or_else(|e| panic!("{e}"));
    Transcriber::load(&dir, config).unwrap()
}

fn speak(text: &str) -> Audio {
    cabin_voice_corpus::speak(text, &cabin_voice_corpus::Speaker::new("en-us", 150, 50))
}

/// The letters and digits said, so "sun-roof" and "sunroof" compare equal.
fn words(text: &str) -> String {
    text.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
}

#[test]
fn a_converted_model_transcribes_a_spoken_command() {
    let asr = transcriber(AsrConfig { vocabulary: car_words(), ..AsrConfig::default() });
    let transcript = asr.transcribe(&speak("open the sunroof and turn on the seat heating")).unwrap();
    assert_eq!(words(&transcript.text), words("open the sunroof and turn on the seat heating"), "{transcript:?}");
    assert_eq!(transcript.language, "en");
    assert!(transcript.confidence > 0.5, "{transcript:?}");
}

#[test]
fn the_full_thirty_second_window_agrees_with_the_trimmed_one() {
    let full = transcriber(AsrConfig { trim_window: false, vocabulary: car_words(), ..AsrConfig::default() });
    let transcript = full.transcribe(&speak("navigate to the nearest charging station")).unwrap();
    assert_eq!(words(&transcript.text), words("navigate to the nearest charging station"), "{transcript:?}");
}

#[test]
fn silence_and_hiss_give_no_text() {
    let asr = transcriber(AsrConfig::default());
    let transcript = asr.transcribe(&Audio::silence(2.0)).unwrap();
    assert_eq!(transcript.text, "", "{transcript:?}");
    assert_eq!(transcript.confidence, 0.0);
    // A quiet cabin's hiss (about -40 dBFS), deterministic.
    let mut seed = 1u32;
    let hiss = (0..32_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 0.03 - 0.015
        })
        .collect();
    let transcript = asr.transcribe(&Audio::new(hiss, 16_000)).unwrap();
    assert_eq!(transcript.text, "", "{transcript:?}");
}

#[test]
fn a_corrupt_model_is_a_load_error_naming_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ggml-model.bin");
    std::fs::write(&model, b"lmgg not really a model").unwrap();
    let error = Transcriber::load(&model, AsrConfig::default()).unwrap_err();
    assert!(error.to_string().contains("cabin models fetch --force whisper-tiny.en"), "{error}");
}

#[test]
fn an_english_model_refuses_chinese_up_front() {
    let dir = ModelsDir::resolve().locate(DEFAULT_MODEL).unwrap();
    let error = Transcriber::load(&dir, AsrConfig { language: "zh".into(), ..AsrConfig::default() }).unwrap_err();
    assert!(error.to_string().contains("multilingual"), "{error}");
}

#[test]
fn the_multilingual_model_writes_chinese() {
    // espeak-ng's Cantonese voice saying "open the car window"; its Mandarin is too poor for
    // whisper base to follow. The words may be wrong; the script must be Chinese.
    let dir = ModelsDir::resolve().locate("whisper-base").unwrap_or_else(|e| panic!("{e}"));
    let asr = Transcriber::load(&dir, AsrConfig { language: "zh".into(), ..AsrConfig::default() }).unwrap();
    let transcript = asr.transcribe(&cabin_voice_corpus::speak("打开车窗", &cabin_voice_corpus::Speaker::new("yue", 175, 50))).unwrap();
    assert_eq!(transcript.language, "zh");
    let chinese = transcript.text.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count();
    assert!(chinese >= 2, "{transcript:?}");
}

#[test]
fn a_phrase_said_first_fits_and_what_follows_is_the_command() {
    let asr = transcriber(AsrConfig { vocabulary: car_words(), ..AsrConfig::default() });
    let spellings = ["Hey Cabin", "Hey, cabin"].map(String::from);
    let test = PhraseTest { spellings: &spellings, min_regret: -6.0, rivals: &[], margin: 0.0 };
    let said = asr.transcribe_after_phrase(&speak("hey cabin, open the trunk"), &test).unwrap();
    let AfterPhrase::Said { fit, rest, .. } = said else { panic!("the phrase was said: {said:?}") };
    assert!(fit.regret > -2.0, "{fit:?}");
    // Whisper goes on from the phrase: the command, without the phrase or its comma.
    assert_eq!(rest.text.to_lowercase().trim_end_matches('.'), "open the trunk", "{rest:?}");
    let alone = asr.transcribe_after_phrase(&speak("hey cabin"), &test).unwrap();
    assert!(matches!(&alone, AfterPhrase::Said { rest, .. } if rest.text.is_empty()), "the phrase alone: {alone:?}");
    for other in ["what time does the game start", "a cabin in the woods sounds nice"] {
        let heard = asr.transcribe_after_phrase(&speak(other), &test).unwrap();
        assert!(matches!(&heard, AfterPhrase::NotSaid { fit, .. } if fit.regret < -8.0), "{other}: {heard:?}");
    }
    let silence = asr.transcribe_after_phrase(&Audio::silence(1.5), &test).unwrap();
    assert_eq!(silence, AfterPhrase::Nothing, "nothing to hear, nothing fits");
}

#[test]
fn a_name_that_fits_better_than_the_phrase_is_someone_elses() {
    let asr = transcriber(AsrConfig { vocabulary: car_words(), ..AsrConfig::default() });
    let spellings = ["Hey Cabin", "Hey, cabin"].map(String::from);
    let rivals = ["Hey Kevin", "Hey, Kevin"].map(String::from);
    let without_rivals = PhraseTest { spellings: &spellings, min_regret: -8.0, rivals: &[], margin: -3.0 };
    let with_rivals = PhraseTest { rivals: &rivals, ..without_rivals };
    let kevin = speak("hey kevin, how was your day");
    // Pushed far enough, whisper writes the phrase for "hey Kevin" too ...
    let pushed = asr.transcribe_after_phrase(&kevin, &without_rivals).unwrap();
    assert!(matches!(&pushed, AfterPhrase::Said { .. }), "{pushed:?}");
    // ... but "Hey Kevin" is what it would much rather write.
    let rivalled = asr.transcribe_after_phrase(&kevin, &with_rivals).unwrap();
    assert!(
        matches!(&rivalled, AfterPhrase::Rivalled { fit, rival } if rival.spelling.contains("Kevin") && rival.regret - fit.regret > 3.0),
        "{rivalled:?}"
    );
    // The phrase itself still fits far better than its rival.
    let said = asr.transcribe_after_phrase(&speak("hey cabin, open the trunk"), &with_rivals).unwrap();
    assert!(matches!(&said, AfterPhrase::Said { rival: Some(rival), .. } if rival.regret < -3.0), "{said:?}");
}
