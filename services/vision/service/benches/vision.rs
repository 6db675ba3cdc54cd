//! Vision benchmark: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-vision-service --bench vision`
//! (needs `cabin models fetch centernet efficientnet-lite0 imagenet-labels minilm`, and pip
//! for the accuracy photos in benches/photos.toml and benches/heldout.toml).
//!
//! 1. Speed and memory: a whole question (frame → answer), for a word the detector answers
//!    and for one the classifier answers.
//! 2. Against PyTorch: the committed reference (services/vision/model/tests/data) on the same
//!    224×224 inputs: agreement and time per image. Recorded PyTorch times, labelled so.
//! 3. Accuracy: each photo placed on each seat region at two sizes in an empty composed cabin;
//!    every listed word asked of every frame, with the detector and with the classifier alone.
//!    The thresholds are chosen (best F1) on the tuning photos (benches/photos.toml and the
//!    committed ones); the figures are reported on the held-out photos of
//!    benches/heldout.toml, labelled by someone who never saw the models, and on empty cabins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use cabin_bench_support::{memory_kib, percentile, time_ms};
use cabin_camera::Frame;
use cabin_models::{Manifest, ModelsDir};
use cabin_vision_model::NormalisedBox;
use cabin_vision_service::{composite, load_finder, Finder, Observation, VisionConfig};
use image::RgbImage;

/// Words asked of every frame of the tuning set.
const TUNING_ASKED: [&str; 13] =
    ["cup", "cat", "dog", "laptop", "phone", "camera", "shoe", "hat", "bottle", "backpack", "umbrella", "sunglasses", "wallet"];
/// What each tuning photo shows, by file name; unlisted photos show none of the asked words.
const SHOWS: [(&str, &[&str]); 14] = [
    ("coffee.png", &["cup"]),
    ("chelsea.png", &["cat"]),
    ("beverages.jpg", &["cup"]),
    ("black_cat.jpg", &["cat"]),
    ("puppy.jpg", &["dog"]),
    ("puppies.jpg", &["dog"]),
    ("laptop.jpg", &["laptop"]),
    ("rotary_phone.jpg", &["phone"]),
    ("camera.jpg", &["camera"]),
    ("foolbox_imagenet_00_243.jpg", &["dog"]),
    ("foolbox_imagenet_16_251.jpg", &["dog"]),
    ("foolbox_imagenet_11_630.jpg", &["shoe"]),
    ("faust_github.jpg", &["cup", "cat"]),
    ("astronaut.png", &[]),
];
/// Committed public-domain photos that join the fetched ones (grace_hopper.png is left out:
/// her cap makes "hat" ambiguous).
const COMMITTED: [&str; 4] = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.png"];
const SCALES: [f32; 2] = [0.8, 0.5];

fn model_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/data").join(name)
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let config = VisionConfig::embedded();
    let models = ModelsDir::resolve();
    let started = Instant::now();
    let finder = load_finder(&models, &config, "defaults/vision.toml").unwrap_or_else(|e| panic!("{e}"));
    println!("## Vision ({threads} cores, candle)\n");
    println!("load: {:.0} ms, resident {:.0} MiB", started.elapsed().as_secs_f64() * 1000.0, memory_kib("VmRSS:") as f64 / 1024.0);
    let classifier_only = VisionConfig { detector: None, ..config.clone() };
    let classifier_only = load_finder(&models, &classifier_only, "defaults/vision.toml").unwrap_or_else(|e| panic!("{e}"));

    speed(&finder);
    detector_sizes(&config, &models);
    // `CABIN_VISION_BENCH=speed` stops here, for trying speed-ups.
    if std::env::var("CABIN_VISION_BENCH").as_deref() != Ok("speed") {
        against_pytorch(&finder);
        let thresholds = tune(&finder, &models);
        report(&[("detector, then classifier", &finder), ("classifier alone", &classifier_only)], &models, thresholds);
    }
    println!("\npeak resident memory: {:.0} MiB", memory_kib("VmHWM:") as f64 / 1024.0);
}

fn speed(finder: &Finder) {
    let regions = finder.regions().to_vec();
    let mut image = composite::empty_cabin();
    let coffee = image::open(model_data("coffee.png")).unwrap().to_rgb8();
    composite::place(&mut image, &regions[2], &coffee, 0.8);
    let frame = Frame { image, captured: SystemTime::now() };
    println!("\none whole question, frame → answer (composed 960×540 frame):");
    println!("| asked | answered by | p50 ms | p95 ms |");
    println!("|---|---|---|---|");
    for (word, by) in [("cup", "detector"), ("hat", "classifier: whole frame + 5 regions in one batch")] {
        let times = time_ms(30, || drop(finder.find(&frame, word, None).unwrap()));
        println!("| {word} | {by} | {:.1} | {:.1} |", percentile(&times, 0.5), percentile(&times, 0.95));
    }
    println!("resident after inference: {:.0} MiB", memory_kib("VmRSS:") as f64 / 1024.0);
}
/// The detector's input size against its speed and (on the tuning photos only) its F1: the
/// figures behind `detector.input` in the config.
fn detector_sizes(config: &VisionConfig, models: &ModelsDir) {
    let Some(detector) = &config.detector else { return };
    let tuning = tuning_photos(models);
    println!("\ndetector input size (tuning photos only; F1 over the detector's words at its best threshold):");
    println!("| input | question p50 ms | F1 | threshold |");
    println!("|---|---|---|---|");
    for input in [320, 384, 448, 512] {
        let sized = VisionConfig { detector: Some(cabin_vision_service::DetectorConfig { input, ..detector.clone() }), ..config.clone() };
        let finder = load_finder(models, &sized, "defaults/vision.toml").unwrap_or_else(|e| panic!("{e}"));
        let regions = finder.regions().to_vec();
        let mut image = composite::empty_cabin();
        composite::place(&mut image, &regions[2], &image::open(model_data("coffee.png")).unwrap().to_rgb8(), 0.8);
        let frame = Frame { image, captured: SystemTime::now() };
        let times = time_ms(20, || drop(finder.find(&frame, "cup", None).unwrap()));
        let (f1, threshold) = match &tuning {
            Some(photos) => {
                let detector_words: Vec<&str> = TUNING_ASKED
                    .into_iter()
                    .filter(|word| finder.understand(word, None).is_ok_and(|(object, _)| finder.answers_by_detector(&object)))
                    .collect();
                let asked = ask(&finder, photos, &detector_words);
                let detected: Vec<&Asked> = asked.iter().collect();
                let threshold = best_threshold(&detected);
                (format!("{:.3}", f1(&detected, threshold)), format!("{threshold:.2}"))
            }
            None => ("-".into(), "-".into()),
        };
        println!("| {input} | {:.1} | {f1} | {threshold} |", percentile(&times, 0.5));
    }
}

#[derive(serde::Deserialize)]
struct Reference {
    torch: String,
    images: BTreeMap<String, ReferenceImage>,
}

#[derive(serde::Deserialize)]
struct ReferenceImage {
    top5: Vec<usize>,
    probabilities: Vec<f32>,
    torch_ms_per_image: f64,
}

fn against_pytorch(finder: &Finder) {
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(model_data("reference.json")).unwrap()).unwrap();
    let whole = [cabin_vision_service::Region { name: "whole".into(), bounds: NormalisedBox::WHOLE }];
    let (hat, _) = finder.understand("hat", None).unwrap();
    println!("\nagainst PyTorch {} (2 threads, batch 1, same 224×224 inputs; PyTorch times as recorded by reference.py):", reference.torch);
    println!("| image | top-5 same | max |Δp| | candle ms | PyTorch ms |");
    println!("|---|---|---|---|---|");
    for (name, expected) in &reference.images {
        let image = image::open(model_data(name)).unwrap().to_rgb8();
        let frame = Frame { image, captured: SystemTime::now() };
        let observation = finder.observe(&frame, &whole, &[&hat]).unwrap();
        let probabilities = &observation.crops[0].1;
        let mut top: Vec<usize> = (0..probabilities.len()).collect();
        top.sort_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
        let worst = probabilities.iter().zip(&expected.probabilities).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
        let times = time_ms(20, || drop(finder.observe(&frame, &whole, &[&hat]).unwrap()));
        println!(
            "| {name} | {} | {worst:.1e} | {:.1} | {:.1} |",
            if top[..5] == expected.top5[..] { "yes" } else { "no" },
            percentile(&times, 0.5),
            expected.torch_ms_per_image
        );
    }
}

/// One photo of an accuracy set: what it shows, what it may show (neither counted as shown
/// nor as absent), and the part of it to place on a seat.
struct Photo {
    image: RgbImage,
    shows: Vec<String>,
    ambiguous: Vec<String>,
}

struct Asked {
    word: String,
    /// Answered from the detector's boxes, not the classifier's crops.
    detected: bool,
    shown: bool,
    confidence: f32,
    region_right: bool,
    empty_cabin: bool,
}

/// Every word of `asked` the finder knows, asked of each photo on each seat at each size,
/// and of an empty cabin.
fn ask(finder: &Finder, photos: &[Photo], asked: &[&str]) -> Vec<Asked> {
    let regions = finder.regions().to_vec();
    let known: Vec<_> = asked.iter().filter_map(|word| finder.understand(word, None).ok().map(|(object, _)| (*word, object))).collect();
    let objects: Vec<_> = known.iter().map(|(_, object)| object).collect();
    let mut results = Vec::new();
    let mut judge = |image: RgbImage, shows: &[String], ambiguous: &[String], region: Option<&str>| {
        let observation: Observation = finder.observe(&Frame { image, captured: SystemTime::now() }, &regions, &objects).unwrap();
        for (word, object) in known.iter().filter(|(word, _)| !ambiguous.iter().any(|a| a == word)) {
            let detected = finder.answers_by_detector(object);
            let finding = finder.judge(&observation, object.clone());
            let region_right = region.is_some_and(|r| finding.region == r);
            let shown = shows.iter().any(|s| s == word);
            let empty_cabin = region.is_none();
            results.push(Asked { word: word.to_string(), detected, shown, confidence: finding.confidence, region_right, empty_cabin });
        }
    };
    for photo in photos {
        for region in &regions {
            for scale in SCALES {
                let mut image = composite::empty_cabin();
                composite::place(&mut image, region, &photo.image, scale);
                judge(image, &photo.shows, &photo.ambiguous, Some(&region.name));
            }
        }
    }
    judge(composite::empty_cabin(), &[], &[], None);
    results
}

fn f1(set: &[&Asked], threshold: f32) -> f64 {
    let tp = set.iter().filter(|a| a.shown && a.confidence >= threshold).count() as f64;
    let fp = set.iter().filter(|a| !a.shown && a.confidence >= threshold).count() as f64;
    let fn_ = set.iter().filter(|a| a.shown && a.confidence < threshold).count() as f64;
    2.0 * tp / (2.0 * tp + fp + fn_).max(1.0)
}

fn best_threshold(set: &[&Asked]) -> f32 {
    (2..98).map(|t| t as f32 / 100.0).max_by(|a, b| f1(set, *a).total_cmp(&f1(set, *b))).unwrap()
}

/// The tuning photos (benches/photos.toml and the committed ones), or `None` when they cannot
/// be fetched (said on the way).
fn tuning_photos(models: &ModelsDir) -> Option<Vec<Photo>> {
    let manifest: Manifest = toml::from_str(include_str!("photos.toml")).expect("benches/photos.toml parses");
    let spec = &manifest.models[0];
    let fetched = match cabin_models::install(&ModelsDir::new(models.root().join("test-data")), spec, false) {
        Ok(fetched) => fetched,
        Err(e) => {
            println!("\naccuracy: not measured, cannot fetch the tuning photos: {e}");
            return None;
        }
    };
    let mut photos: Vec<(String, RgbImage)> =
        spec.files.iter().map(|f| (f.to.clone(), image::open(fetched.dir.join(&f.to)).unwrap().to_rgb8())).collect();
    photos.extend(COMMITTED.iter().map(|name| (name.to_string(), image::open(model_data(name)).unwrap().to_rgb8())));
    let shows =
        |name: &str| SHOWS.iter().find(|(n, _)| *n == name).map(|(_, s)| s.iter().map(|w| w.to_string()).collect()).unwrap_or_default();
    Some(
        photos
            .into_iter()
            .map(|(name, image)| Photo { shows: shows(&name), image: composite::centre_square(&image), ambiguous: Vec::new() })
            .collect(),
    )
}

/// The thresholds (detector, classifier) with the best F1 on the tuning photos.
fn tune(finder: &Finder, models: &ModelsDir) -> Option<(f32, f32)> {
    let photos = tuning_photos(models)?;
    let started = Instant::now();
    let asked = ask(finder, &photos, &TUNING_ASKED);
    let by = |detected: bool| asked.iter().filter(|a| a.detected == detected).collect::<Vec<_>>();
    let (detector, classifier) = (best_threshold(&by(true)), best_threshold(&by(false)));
    println!(
        "\ntuning: {} photos × {} regions × {} sizes, {} questions ({:.0} s); best F1 at detector score {detector:.2} (config: {:.2}), classifier evidence {classifier:.2} (config: {:.2})",
        photos.len(),
        finder.regions().len(),
        SCALES.len(),
        asked.len(),
        started.elapsed().as_secs_f64(),
        finder.detector_threshold().unwrap_or(f32::NAN),
        finder.threshold(),
    );
    Some((detector, classifier))
}

#[derive(serde::Deserialize)]
struct HeldOut {
    model: Vec<cabin_models::ModelSpec>,
    photo: Vec<HeldOutPhoto>,
}

#[derive(serde::Deserialize)]
struct HeldOutPhoto {
    file: String,
    shows: Vec<String>,
    #[serde(default)]
    ambiguous: Vec<String>,
    crop: [f32; 4],
}

/// Per-word precision, recall and right seat on the held-out photos, for each finder.
fn report(finders: &[(&str, &Finder)], models: &ModelsDir, tuned: Option<(f32, f32)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/heldout.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let held_out: HeldOut = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fetched = match cabin_models::install(&ModelsDir::new(models.root().join("test-data")), &held_out.model[0], false) {
        Ok(fetched) => fetched,
        Err(e) => {
            println!("\nheld-out accuracy: not measured, cannot fetch the photos: {e}");
            return;
        }
    };
    let photos: Vec<Photo> = held_out
        .photo
        .iter()
        .map(|p| {
            let image = image::open(fetched.dir.join(&p.file)).unwrap().to_rgb8();
            let [x, y, width, height] = p.crop;
            let bounds = NormalisedBox { x, y, width: width.min(1.0 - x), height: height.min(1.0 - y) };
            let image = cabin_vision_model::crop(&image, &bounds).unwrap_or(image);
            Photo { image, shows: p.shows.clone(), ambiguous: p.ambiguous.clone() }
        })
        .collect();
    let mut words: Vec<String> = photos.iter().flat_map(|p| p.shows.clone()).collect();
    words.sort();
    words.dedup();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    println!(
        "\nheld out: {} photos ({} showing none of the words) × {} sizes on each seat, and an empty cabin",
        photos.len(),
        photos.iter().filter(|p| p.shows.is_empty()).count(),
        SCALES.len()
    );
    for (label, finder) in finders {
        let started = Instant::now();
        let asked = ask(finder, &photos, &words);
        let shipped = (finder.detector_threshold().unwrap_or(1.0), finder.threshold());
        let mut settings = vec![("shipped", shipped)];
        if let Some(tuned) = tuned {
            settings.push(("tuned", tuned));
        }
        for (setting, (detector, classifier)) in settings {
            let at = |a: &Asked| if a.detected { detector } else { classifier };
            println!(
                "\n{label}, {setting} thresholds (detector {detector:.2}, classifier {classifier:.2}); {:.0} s:",
                started.elapsed().as_secs_f64()
            );
            println!("| object | by | shown | precision | recall | right seat |");
            println!("|---|---|---|---|---|---|");
            for word in &words {
                let of_word: Vec<&Asked> = asked.iter().filter(|a| a.word == *word).collect();
                let Some(first) = of_word.first() else {
                    println!("| {word} | unknown word | - | - | - | - |");
                    continue;
                };
                let tp: Vec<&&Asked> = of_word.iter().filter(|a| a.shown && a.confidence >= at(a)).collect();
                let fp = of_word.iter().filter(|a| !a.shown && a.confidence >= at(a)).count();
                let shown = of_word.iter().filter(|a| a.shown).count();
                let ratio = |n: usize, d: usize| if d == 0 { "-".to_string() } else { format!("{:.2}", n as f64 / d as f64) };
                let seat = ratio(tp.iter().filter(|a| a.region_right).count(), tp.len());
                let by = if first.detected { "detector" } else { "classifier" };
                println!("| {word} | {by} | {shown} | {} | {} | {seat} |", ratio(tp.len(), tp.len() + fp), ratio(tp.len(), shown));
            }
            let empty_cabin: Vec<&str> = asked.iter().filter(|a| a.empty_cabin && a.confidence >= at(a)).map(|a| a.word.as_str()).collect();
            println!("found in the empty cabin: {}", if empty_cabin.is_empty() { "nothing".to_string() } else { empty_cabin.join(", ") });
        }
    }
}
