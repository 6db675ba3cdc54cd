//! The Piper voice on the installed model (`cabin models fetch piper-joe onnxruntime`).

use std::path::PathBuf;

use cabin_speech::{Piper, PiperSettings, SpeechError, Voice};

fn installed() -> (PathBuf, PathBuf) {
    let models = cabin_models::ModelsDir::resolve();
    let voice = models.locate("piper-joe").unwrap_or_else(|e| panic!("{e}"));
    let runtime = models.locate("onnxruntime").unwrap_or_else(|e| panic!("{e}"));
    (voice, runtime.join("libonnxruntime.so"))
}

#[test]
fn a_reply_is_spoken_at_the_voices_rate_and_length() {
    let (voice, runtime) = installed();
    let piper = Piper::load(&voice, &runtime, &PiperSettings::default()).unwrap();
    let short = piper.synthesize("Done.").unwrap();
    let audio = piper.synthesize("The temperature is set to twenty one degrees. Anything else?").unwrap();
    assert_eq!(audio.rate, 22050);
    assert!((2.0..6.0).contains(&audio.duration_secs()), "{} s", audio.duration_secs());
    assert!(short.duration_secs() < audio.duration_secs() / 3.0, "{} s", short.duration_secs());
    assert!(audio.level_dbfs() > -30.0, "{} dBFS", audio.level_dbfs());
    let slower = Piper::load(&voice, &runtime, &PiperSettings { length_scale: Some(1.5), ..PiperSettings::default() }).unwrap();
    let slow = slower.synthesize("The temperature is set to twenty one degrees. Anything else?").unwrap();
    assert!(slow.duration_secs() > audio.duration_secs() * 1.2, "{} s vs {} s", slow.duration_secs(), audio.duration_secs());
    assert!(matches!(piper.synthesize(" , "), Err(SpeechError::Empty)));
}

#[test]
fn a_voice_folder_without_its_config_names_the_file() {
    let (_, runtime) = installed();
    let empty = tempfile::tempdir().unwrap();
    let error = Piper::load(empty.path(), &runtime, &PiperSettings::default()).unwrap_err();
    assert!(error.to_string().contains("voice.onnx.json"), "{error}");
}
