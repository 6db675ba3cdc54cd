//! Vision benchmark: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-vision --bench vision`
//! (needs `cabin models fetch efficientnet-lite0 imagenet-labels minilm`, and pip for the
//! accuracy photos in benches/photos.toml).
//!
//! 1. Speed and memory: one frame, the whole frame plus five seat regions in one batch.
//! 2. Against PyTorch: the committed reference (services/vision/model/tests/data) on the same
//!    224×224 inputs: agreement and time per image.
//! 3. Accuracy: each photo placed on each seat region at two sizes in an empty composed cabin;
//!    every listed word asked of every frame. Photos are split into a tuning half (the
//!    threshold is chosen there, for the best F1) and a held-out half (reported).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use cabin_camera::Frame;
use cabin_models::{Manifest, ModelsDir};
use cabin_vision::{composite, load_finder, Finder, Observation, VisionConfig, WHOLE_FRAME};
use cabin_vision_model::NormalisedBox;
use image::RgbImage;

/// Words asked of every frame of the accuracy set.
const ASKED: [&str; 13] =
    ["cup", "cat", "dog", "laptop", "phone", "camera", "shoe", "hat", "bottle", "backpack", "umbrella", "sunglasses", "wallet"];
/// What each photo shows, by file name; unlisted photos show none of the asked words.
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

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn memory_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status.lines().find_map(|l| l.strip_prefix(field).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())).unwrap_or(0)
}

fn model_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/data").join(name)
}

fn time_ms(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let config = VisionConfig::embedded();
    let models = ModelsDir::resolve();
    let started = Instant::now();
    let finder = load_finder(&models, &config, "defaults/vision.toml").unwrap_or_else(|e| panic!("{e}"));
    println!("## Vision ({threads} cores, candle)\n");
    println!("load: {:.0} ms, resident {:.0} MiB", started.elapsed().as_secs_f64() * 1000.0, memory_kb("VmRSS:") as f64 / 1024.0);

    speed(&finder);
    // `CABIN_VISION_BENCH=speed` stops here, for trying speed-ups.
    if std::env::var("CABIN_VISION_BENCH").as_deref() != Ok("speed") {
        against_pytorch(&finder);
        accuracy(&finder, &models);
    }
    println!("\npeak resident memory: {:.0} MiB", memory_kb("VmHWM:") as f64 / 1024.0);
}

fn speed(finder: &Finder) {
    let regions = finder.regions().to_vec();
    let mut frame = composite::empty_cabin();
    let coffee = image::open(model_data("coffee.png")).unwrap().to_rgb8();
    composite::place(&mut frame, &regions[2], &coffee, 0.8);
    let frame = Frame { image: frame, captured: SystemTime::now() };
    let mut all = time_ms(30, || drop(finder.observe(&frame, &regions).unwrap()));
    let mut one = time_ms(30, || drop(finder.observe(&frame, &regions[..1]).unwrap()));
    println!(
        "\nwhole frame + {} regions (batch of {}): p50 {:.1} ms, p95 {:.1} ms; one region alone: p50 {:.1} ms",
        regions.len(),
        regions.len() + 1,
        percentile(&mut all, 0.5),
        percentile(&mut all, 0.95),
        percentile(&mut one, 0.5)
    );
    println!("resident after inference: {:.0} MiB", memory_kb("VmRSS:") as f64 / 1024.0);
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
    let whole = [cabin_vision::Region { name: "whole".into(), bounds: NormalisedBox::WHOLE }];
    println!("\nagainst PyTorch {} (2 threads, batch 1, same 224×224 inputs):", reference.torch);
    println!("| image | top-5 same | max |Δp| | candle ms | PyTorch ms |");
    println!("|---|---|---|---|---|");
    for (name, expected) in &reference.images {
        let image = image::open(model_data(name)).unwrap().to_rgb8();
        let frame = Frame { image, captured: SystemTime::now() };
        let observation = finder.observe(&frame, &whole).unwrap();
        let probabilities = &observation.crops[0].1;
        let mut top: Vec<usize> = (0..probabilities.len()).collect();
        top.sort_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
        let worst = probabilities.iter().zip(&expected.probabilities).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
        let mut times = time_ms(20, || drop(finder.observe(&frame, &whole).unwrap()));
        println!(
            "| {name} | {} | {worst:.1e} | {:.1} | {:.1} |",
            if top[..5] == expected.top5[..] { "yes" } else { "no" },
            percentile(&mut times, 0.5),
            expected.torch_ms_per_image
        );
    }
}

struct Asked {
    tuning: bool,
    word: &'static str,
    shown: bool,
    confidence: f32,
    region_right: bool,
}

fn accuracy(finder: &Finder, models: &ModelsDir) {
    let manifest: Manifest = toml::from_str(include_str!("photos.toml")).expect("benches/photos.toml parses");
    let spec = &manifest.models[0];
    let test_data = ModelsDir::new(models.root().join("test-data"));
    let fetched = match cabin_models::install(&test_data, spec, false) {
        Ok(fetched) => fetched,
        Err(e) => {
            println!("\naccuracy: skipped, cannot fetch the photos: {e}");
            return;
        }
    };
    let mut photos: Vec<(String, RgbImage)> =
        spec.files.iter().map(|f| (f.to.clone(), image::open(fetched.dir.join(&f.to)).unwrap().to_rgb8())).collect();
    photos.extend(COMMITTED.iter().map(|name| (name.to_string(), image::open(model_data(name)).unwrap().to_rgb8())));
    photos.sort_by(|a, b| a.0.cmp(&b.0));

    // Split within each kind of photo (by what it shows): alternate photos go to tuning.
    let shows = |name: &str| SHOWS.iter().find(|(n, _)| *n == name).map(|(_, s)| s.to_vec()).unwrap_or_default();
    let mut seen_of_kind: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    let regions = finder.regions().to_vec();
    let mut asked = Vec::new();
    let mut frames = 0;
    let started = Instant::now();
    for (name, photo) in &photos {
        let kind = shows(name);
        let index = seen_of_kind.entry(kind.clone()).or_default();
        let tuning = *index % 2 == 1;
        *index += 1;
        let square = composite::centre_square(photo);
        for region in &regions {
            for scale in SCALES {
                let mut image = composite::empty_cabin();
                composite::place(&mut image, region, &square, scale);
                let observation: Observation = finder.observe(&Frame { image, captured: SystemTime::now() }, &regions).unwrap();
                frames += 1;
                for word in ASKED {
                    let (object, _) = finder.understand(word, None).unwrap();
                    let finding = finder.judge(&observation, object);
                    let region_right = finding.region == region.name && finding.region != WHOLE_FRAME;
                    asked.push(Asked { tuning, word, shown: kind.contains(&word), confidence: finding.confidence, region_right });
                }
            }
        }
    }
    let tuning_photos = asked.iter().filter(|a| a.tuning).count() / ASKED.len() / regions.len() / SCALES.len();
    println!(
        "\naccuracy: {} photos ({} tuning, {} held out) × {} regions × {} sizes = {frames} composed frames, {} questions ({:.0} s)",
        photos.len(),
        tuning_photos,
        photos.len() - tuning_photos,
        regions.len(),
        SCALES.len(),
        asked.len(),
        started.elapsed().as_secs_f64()
    );

    let f1 = |set: &[&Asked], threshold: f32| {
        let tp = set.iter().filter(|a| a.shown && a.confidence >= threshold).count() as f64;
        let fp = set.iter().filter(|a| !a.shown && a.confidence >= threshold).count() as f64;
        let fn_ = set.iter().filter(|a| a.shown && a.confidence < threshold).count() as f64;
        2.0 * tp / (2.0 * tp + fp + fn_).max(1.0)
    };
    let tuning: Vec<&Asked> = asked.iter().filter(|a| a.tuning).collect();
    let threshold = (2..98).map(|t| t as f32 / 100.0).max_by(|a, b| f1(&tuning, *a).total_cmp(&f1(&tuning, *b))).unwrap();
    println!(
        "threshold chosen on the tuning photos: {threshold:.2} (F1 {:.3} there; the config ships {:.2})",
        f1(&tuning, threshold),
        finder.threshold()
    );

    let held_out: Vec<&Asked> = asked.iter().filter(|a| !a.tuning).collect();
    for (label, at) in [("chosen", threshold), ("shipped", finder.threshold())] {
        println!("\nheld-out photos at the {label} threshold {at:.2}:");
        println!("| object | shown | precision | recall | right seat |");
        println!("|---|---|---|---|---|");
        for word in ASKED {
            let of_word: Vec<&&Asked> = held_out.iter().filter(|a| a.word == word).collect();
            let tp: Vec<&&&Asked> = of_word.iter().filter(|a| a.shown && a.confidence >= at).collect();
            let fp = of_word.iter().filter(|a| !a.shown && a.confidence >= at).count();
            let shown = of_word.iter().filter(|a| a.shown).count();
            let precision = if tp.len() + fp == 0 { "-".to_string() } else { format!("{:.2}", tp.len() as f64 / (tp.len() + fp) as f64) };
            let recall = if shown == 0 { "-".to_string() } else { format!("{:.2}", tp.len() as f64 / shown as f64) };
            let seat = if tp.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", tp.iter().filter(|a| a.region_right).count() as f64 / tp.len() as f64)
            };
            println!("| {word} | {shown} | {precision} | {recall} | {seat} |");
        }
    }
}
