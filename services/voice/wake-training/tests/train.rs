//! Training a head for an OEM's phrase from synthetic speech alone, then hearing it from
//! voices it never trained on: needs `cabin models fetch wakeword-embedding piper-joe onnxruntime`.

use cabin_models::ModelsDir;
use cabin_voice_corpus::{mix_at_snr, padded, speak, HELD_OUT_VOICES};
use cabin_wake::acoustic::{AcousticSpotter, SpeechEmbedder, WakeHead, FRONT_END_MODEL};

#[test]
fn a_head_trained_for_a_new_phrase_hears_it_from_voices_it_never_heard_and_not_the_old_phrase() {
    let models = ModelsDir::resolve();
    let embedder = SpeechEmbedder::load(
        &models.locate(FRONT_END_MODEL).unwrap_or_else(|e| panic!("{e}")),
        &models.locate("onnxruntime").unwrap_or_else(|e| panic!("{e}")).join(cabin_onnx_runtime::LIBRARY_FILE),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = cabin_wake_training::train("hello aurora", &embedder, out.path(), "test").unwrap();
    let head = WakeHead::load(out.path()).unwrap();
    assert_eq!((head.info.phrase.as_str(), head.info.threshold), ("hello aurora", report.threshold));
    assert!(report.validation_recall >= 0.9, "{report:?}");

    let spotter = AcousticSpotter { embedder: std::sync::Arc::new(embedder), head };
    let score = |text: &str, speaker| {
        let audio = mix_at_snr(&padded(&speak(text, speaker), 2.0, 0.5), 20.0, 5);
        spotter.best(&audio.samples).unwrap().expect("longer than one window").score
    };
    // A US espeak-ng voice and the Piper voice, neither trained on.
    for speaker in [&HELD_OUT_VOICES[0], &HELD_OUT_VOICES[8]] {
        let phrase = score("hello aurora, open the trunk", speaker);
        assert!(phrase >= report.threshold, "{}: {phrase} < {}", speaker.label(), report.threshold);
        for other in ["hey cabin, open the trunk", "the traffic is bad on the ring road today"] {
            let other_score = score(other, speaker);
            assert!(other_score < report.threshold, "{} saying {other:?}: {other_score} >= {}", speaker.label(), report.threshold);
        }
    }
}
