//! The candle EfficientNet-Lite0 against the original PyTorch model on the same inputs
//! (fixtures made once by tests/data/reference.py), and the labels it answers in.
//! Needs `cabin models fetch efficientnet-lite0 imagenet-labels`.

use std::path::{Path, PathBuf};

use cabin_models::ModelsDir;
use cabin_vision_model::{batch, input_for, EfficientNetLite0, Labels, NormalisedBox, CLASSIFIER_FILE, CLASSIFIER_MODEL, LABELS_MODEL};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn model() -> EfficientNetLite0 {
    let dir = ModelsDir::resolve().locate(CLASSIFIER_MODEL).unwrap_or_else(|e| panic!("{e}"));
    EfficientNetLite0::load(&dir.join(CLASSIFIER_FILE)).unwrap()
}

fn labels() -> Labels {
    Labels::load(&ModelsDir::resolve().locate(LABELS_MODEL).unwrap_or_else(|e| panic!("{e}"))).unwrap()
}

#[derive(serde::Deserialize)]
struct Reference {
    images: std::collections::BTreeMap<String, ReferenceImage>,
}

#[derive(serde::Deserialize)]
struct ReferenceImage {
    top5: Vec<usize>,
    probabilities: Vec<f32>,
}

fn top5(probabilities: &[f32]) -> Vec<usize> {
    let mut classes: Vec<usize> = (0..probabilities.len()).collect();
    classes.sort_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
    classes.truncate(5);
    classes
}

#[test]
fn probabilities_match_pytorch_on_every_class() {
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap();
    let names: Vec<&String> = reference.images.keys().collect();
    let inputs = names.iter().map(|name| input_for(&image::open(data(name)).unwrap().to_rgb8(), &NormalisedBox::WHOLE).unwrap()).collect();
    // One batch: batching must not change any image's answer.
    let probabilities = model().probabilities(&batch(inputs).unwrap()).unwrap();
    for (name, actual) in names.iter().zip(&probabilities) {
        let expected = &reference.images[*name];
        assert_eq!(top5(actual), expected.top5, "{name}: top five classes");
        let worst = actual.iter().zip(&expected.probabilities).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-3, "{name}: largest difference from PyTorch {worst}");
    }
}

#[test]
fn the_answers_are_named_in_words() {
    let labels = labels();
    let input = input_for(&image::open(data("coffee.png")).unwrap().to_rgb8(), &NormalisedBox::WHOLE).unwrap();
    let probabilities = &model().probabilities(&batch(vec![input]).unwrap()).unwrap()[0];
    assert_eq!(labels.name(top5(probabilities)[0]), "espresso");
    assert_eq!(labels.find("cellular telephone").map(|c| labels.name(c)), Some("mobile phone"));
    assert_eq!(labels.find("Cowboy Hat"), Some(515));
}

#[test]
fn a_missing_or_corrupt_checkpoint_is_named_in_the_error() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join(CLASSIFIER_FILE);
    assert!(EfficientNetLite0::load(&missing).unwrap_err().to_string().contains(CLASSIFIER_FILE));
    std::fs::write(&missing, b"not safetensors").unwrap();
    assert!(EfficientNetLite0::load(&missing).unwrap_err().to_string().contains(CLASSIFIER_FILE));
}
