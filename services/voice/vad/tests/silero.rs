//! The candle silero against a numpy run of silero's own model definition on the same weights
//! (fixtures made once by tests/data/reference.py), and end-pointing on real speech.
//! Needs `cabin models fetch silero-vad`.

use std::path::Path;

use cabin_audio::read_wav;
use cabin_models::ModelsDir;
use cabin_vad::{EndpointConfig, Endpointer, Event, Silero, CHUNK_SAMPLES, MODEL};

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn silero() -> Silero {
    let dir = ModelsDir::resolve().locate(MODEL).unwrap_or_else(|e| panic!("{e}"));
    Silero::load(&dir).unwrap()
}

#[test]
fn probabilities_match_the_reference() {
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap();
    let expected: Vec<f64> = reference["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
    let audio = read_wav(&data("hey-cabin-open-the-trunk.wav")).unwrap();
    let mut vad = silero();
    let actual: Vec<f32> = audio.samples.chunks_exact(CHUNK_SAMPLES).map(|chunk| vad.probability(chunk).unwrap()).collect();
    assert_eq!(actual.len(), expected.len());
    let worst = actual.iter().zip(&expected).map(|(a, e)| (*a as f64 - e).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-3, "largest difference from the reference: {worst}");
}

#[test]
fn a_spoken_command_between_silences_is_one_utterance() {
    let audio = read_wav(&data("hey-cabin-open-the-trunk.wav")).unwrap();
    let mut vad = silero();
    let mut endpointer = Endpointer::new(EndpointConfig::default());
    let mut events = Vec::new();
    for chunk in audio.samples.chunks_exact(CHUNK_SAMPLES) {
        let probability = vad.probability(chunk).unwrap();
        events.extend(endpointer.push(chunk, probability));
    }
    let utterances: Vec<_> = events.iter().filter_map(|e| if let Event::Utterance(u) = e { Some(u) } else { None }).collect();
    assert_eq!(utterances.len(), 1, "{events:?}");
    // The speech runs from 1.0 s to about 3.4 s in the file.
    assert!((0.7..1.05).contains(&utterances[0].start_secs), "{}", utterances[0].start_secs);
    assert!((3.0..3.7).contains(&utterances[0].speech_end_secs), "{}", utterances[0].speech_end_secs);
}

#[test]
fn weights_that_are_not_silero_are_refused_with_the_fetch_command() {
    let dir = std::env::temp_dir().join(format!("cabin-vad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(cabin_vad::MODEL_FILE), b"not safetensors").unwrap();
    let error = Silero::load(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(error.to_string().contains("cabin models fetch --force silero-vad"), "{error}");
}
