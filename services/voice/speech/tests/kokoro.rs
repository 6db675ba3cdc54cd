//! Kokoro, the corpus's second neural voice family, on the installed model (`cabin models
//! fetch kokoro onnxruntime`).

use cabin_speech::{Kokoro, SpeechError, KOKORO_RATE};

fn installed() -> Kokoro {
    let models = cabin_models::ModelsDir::resolve();
    let model = models.locate("kokoro").unwrap_or_else(|e| panic!("{e}"));
    let runtime = models.locate("onnxruntime").unwrap_or_else(|e| panic!("{e}"));
    Kokoro::load(&model, &runtime.join("libonnxruntime.so")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn speakers_say_a_sentence_at_their_pace_and_blend_into_new_voices() {
    let kokoro = installed();
    let speakers: Vec<&str> = kokoro.speakers().collect();
    for expected in ["af_heart", "am_michael", "bf_emma", "bm_george"] {
        assert!(speakers.contains(&expected), "{expected} not in {speakers:?}");
    }
    let text = "Set the temperature to twenty one degrees. Anything else?";
    let heart = kokoro.synthesize(text, &[("af_heart", 1.0)], 1.0).unwrap();
    assert_eq!(heart.rate, KOKORO_RATE);
    assert!((2.0..7.0).contains(&heart.duration_secs()), "{} s", heart.duration_secs());
    assert!(heart.level_dbfs() > -30.0, "{} dBFS", heart.level_dbfs());
    let slow = kokoro.synthesize(text, &[("af_heart", 1.0)], 0.7).unwrap();
    assert!(slow.duration_secs() > heart.duration_secs() * 1.2, "{} s vs {} s", slow.duration_secs(), heart.duration_secs());
    // Halfway between two speakers is a third voice: the same words, other samples.
    let george = kokoro.synthesize(text, &[("bm_george", 1.0)], 1.0).unwrap();
    let between = kokoro.synthesize(text, &[("af_heart", 0.5), ("bm_george", 0.5)], 1.0).unwrap();
    assert!(between.samples != heart.samples && between.samples != george.samples);
    assert!(matches!(kokoro.synthesize(" , ", &[("af_heart", 1.0)], 1.0), Err(SpeechError::Empty)));
    let unknown = kokoro.synthesize(text, &[("xx_nobody", 1.0)], 1.0).unwrap_err().to_string();
    assert!(unknown.contains("xx_nobody") && unknown.contains("af_heart"), "{unknown}");
}
