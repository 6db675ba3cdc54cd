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
use cabin_vision_service::{composite, load_finder, Evidence, Finder, Observation, Source, VisionConfig};
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

    // `CABIN_VISION_BENCH=speed` stops after speed; `=sizes` adds the detector's input sizes;
    // `=accuracy` is tuning and the held-out figures alone.
    let part = std::env::var("CABIN_VISION_BENCH").unwrap_or_default();
    if part != "accuracy" {
        speed(&finder);
    }
    if part == "sizes" {
        detector_sizes(&config, &models);
    }
    if part != "speed" {
        if part != "accuracy" {
            against_pytorch(&classifier_only);
        }
        let thresholds = tune(&finder, &models);
        let mut finders = vec![("detector, then classifier", &finder)];
        if part != "accuracy" {
            finders.push(("classifier alone", &classifier_only));
        }
        report(&finders, &models, thresholds);
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
    for (word, by) in
        [("cup", "detector"), ("hat", "detector, then the classifier on its 3 best boxes, 5 seats and the whole frame in one batch")]
    {
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
                // The detector alone: no classifier threshold is ever reached.
                let (threshold, _) = best_thresholds(&detected, &[2.0]);
                (format!("{:.3}", f1(&detected, (threshold, 2.0))), format!("{threshold:.2}"))
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
        let probabilities = &observation.crops[0].probabilities;
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
    shown: bool,
    /// Each model's best score for the word and whether it named the right seat; `None` for
    /// a model that does not know the word.
    detector: Option<(f32, bool)>,
    classifier: Option<(f32, bool)>,
    empty_cabin: bool,
}

impl Asked {
    /// The answer at these thresholds (detector, classifier): found, by which model, its score,
    /// and whether the seat was right. The detector answers first; what it does not find, the
    /// classifier may, as the finder does.
    fn answer(&self, (detector, classifier): (f32, f32)) -> (bool, Source, f32, bool) {
        match (self.detector, self.classifier) {
            (Some((score, seat)), _) if score >= detector => (true, Source::Detector, score, seat),
            (_, Some((score, seat))) if score >= classifier => (true, Source::Classifier, score, seat),
            (Some((score, seat)), _) => (false, Source::Detector, score, seat),
            (None, Some((score, seat))) => (false, Source::Classifier, score, seat),
            (None, None) => (false, Source::Classifier, 0.0, false),
        }
    }

    fn found(&self, thresholds: (f32, f32)) -> bool {
        self.answer(thresholds).0
    }
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
            let seat = |evidence: Evidence| (evidence.score, region.is_some_and(|r| evidence.region == r));
            let detector = finder.detector_evidence(&observation, object).map(seat);
            let classifier = finder.classifier_evidence(&observation, object).map(seat);
            let shown = shows.iter().any(|s| s == word);
            results.push(Asked { word: word.to_string(), shown, detector, classifier, empty_cabin: region.is_none() });
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

fn f1(set: &[&Asked], thresholds: (f32, f32)) -> f64 {
    let tp = set.iter().filter(|a| a.shown && a.found(thresholds)).count() as f64;
    let fp = set.iter().filter(|a| !a.shown && a.found(thresholds)).count() as f64;
    let fn_ = set.iter().filter(|a| a.shown && !a.found(thresholds)).count() as f64;
    2.0 * tp / (2.0 * tp + fp + fn_).max(1.0)
}

/// The (detector, classifier) thresholds with the best F1, the classifier's from `classifier`.
fn best_thresholds(set: &[&Asked], classifier: &[f32]) -> (f32, f32) {
    let grid = (2..98).map(|t| t as f32 / 100.0);
    grid.flat_map(|d| classifier.iter().map(move |&c| (d, c))).max_by(|a, b| f1(set, *a).total_cmp(&f1(set, *b))).unwrap()
}

/// How sure the car should say it is: on the tuning questions each model answered "yes" to,
/// how often it was right (the thing there, on that seat), as a rising curve of `[score,
/// share right]` points for the config's `[calibration]` (pooled where a higher score was
/// right less often, then read at five evenly filled steps).
fn calibration(asked: &[Asked], thresholds: (f32, f32), source: Source) -> Vec<[f32; 2]> {
    let mut answers: Vec<(f32, f32)> = asked
        .iter()
        .map(|a| (a.answer(thresholds), a.shown))
        .filter(|((found, by, _, _), _)| *found && *by == source)
        .map(|((_, _, score, seat), shown)| (score, if shown && seat { 1.0 } else { 0.0 }))
        .collect();
    answers.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Pool adjacent violators: blocks of (sum of scores, sum right, count), right rate rising.
    let mut blocks: Vec<(f32, f32, f32)> = Vec::new();
    for (score, right) in answers {
        blocks.push((score, right, 1.0));
        while blocks.len() > 1
            && blocks[blocks.len() - 2].1 / blocks[blocks.len() - 2].2 >= blocks[blocks.len() - 1].1 / blocks[blocks.len() - 1].2
        {
            let last = blocks.pop().unwrap();
            let before = blocks.last_mut().unwrap();
            *before = (before.0 + last.0, before.1 + last.1, before.2 + last.2);
        }
    }
    let mut points: Vec<[f32; 2]> = blocks.iter().map(|(scores, right, n)| [scores / n, right / n]).collect();
    let step = points.len().div_ceil(5).max(1);
    let last = points.last().copied();
    points = points.into_iter().step_by(step).collect();
    if let (Some(last), Some(kept)) = (last, points.last()) {
        if *kept != last {
            points.push(last);
        }
    }
    points.dedup_by(|b, a| b[0] <= a[0]);
    points.iter().map(|[s, p]| [(s * 100.0).round() / 100.0, (p * 100.0).round() / 100.0]).collect()
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

/// The thresholds with the best F1 on the tuning photos: the joint best, printed, and the
/// classifier's at the config's detector threshold, returned; and the calibration measured
/// there at the shipped thresholds.
fn tune(finder: &Finder, models: &ModelsDir) -> Option<(f32, f32)> {
    let photos = tuning_photos(models)?;
    let started = Instant::now();
    let asked = ask(finder, &photos, &TUNING_ASKED);
    let all: Vec<&Asked> = asked.iter().collect();
    let grid: Vec<f32> = (2..98).map(|t| t as f32 / 100.0).collect();
    let (detector, classifier) = best_thresholds(&all, &grid);
    // The detector's threshold was chosen on its own words; the classifier's, which also
    // answers what the detector did not find, at that threshold.
    let at_the_detectors = finder.detector_threshold().unwrap_or(1.0);
    let classifier_at =
        grid.iter().copied().max_by(|a, b| f1(&all, (at_the_detectors, *a)).total_cmp(&f1(&all, (at_the_detectors, *b)))).unwrap();
    let shipped = (finder.detector_threshold().unwrap_or(1.0), finder.threshold());
    println!(
        "\ntuning: {} photos × {} regions × {} sizes, {} questions ({:.0} s); best F1 {:.3} at detector score {detector:.2} (config: {:.2}), classifier evidence {classifier:.2} (config: {:.2}); at the config's detector score, classifier evidence {classifier_at:.2}; F1 at the config's thresholds {:.3}",
        photos.len(),
        finder.regions().len(),
        SCALES.len(),
        asked.len(),
        started.elapsed().as_secs_f64(),
        f1(&all, (detector, classifier)),
        finder.detector_threshold().unwrap_or(f32::NAN),
        finder.threshold(),
        f1(&all, shipped),
    );
    per_word(&asked, shipped);
    println!("calibration at the shipped thresholds, for the config:\n[calibration]");
    for (name, source) in [("detector", Source::Detector), ("classifier", Source::Classifier)] {
        let points: Vec<String> = calibration(&asked, shipped, source).iter().map(|[s, p]| format!("[{s:.2}, {p:.2}]")).collect();
        println!("{name} = [{}]", points.join(", "));
    }
    Some((at_the_detectors, classifier_at))
}

/// Per word on the tuning photos at `thresholds`: precision and recall (what a change to the
/// finder is judged on, before the held-out figures are looked at).
fn per_word(asked: &[Asked], thresholds: (f32, f32)) {
    let mut words: Vec<&str> = asked.iter().map(|a| a.word.as_str()).collect();
    words.sort_unstable();
    words.dedup();
    let mut line = Vec::new();
    for word in words {
        let of_word = asked.iter().filter(|a| a.word == word);
        let (tp, fp, shown) = of_word.fold((0, 0, 0), |(tp, fp, shown), a| {
            let found = a.found(thresholds);
            (tp + usize::from(found && a.shown), fp + usize::from(found && !a.shown), shown + usize::from(a.shown))
        });
        let ratio = |n: usize, d: usize| if d == 0 { "-".to_string() } else { format!("{:.2}", n as f64 / d as f64) };
        line.push(format!("{word} {}/{}", ratio(tp, tp + fp), ratio(tp, shown)));
    }
    println!("tuning precision/recall at the config's thresholds: {}", line.join(", "));
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
        if let Some(tuned) = tuned.filter(|tuned| *tuned != shipped) {
            settings.push(("tuned", tuned));
        }
        for (setting, thresholds) in settings {
            println!(
                "\n{label}, {setting} thresholds (detector {:.2}, classifier {:.2}); {:.0} s:",
                thresholds.0,
                thresholds.1,
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
                let found: Vec<(bool, bool)> = of_word
                    .iter()
                    .map(|a| (a.shown, a.answer(thresholds)))
                    .filter(|(_, (found, ..))| *found)
                    .map(|(shown, (.., seat))| (shown, seat))
                    .collect();
                let tp = found.iter().filter(|(shown, _)| *shown).count();
                let shown = of_word.iter().filter(|a| a.shown).count();
                let ratio = |n: usize, d: usize| if d == 0 { "-".to_string() } else { format!("{:.2}", n as f64 / d as f64) };
                let seat = ratio(found.iter().filter(|(shown, seat)| *shown && *seat).count(), tp);
                let by = match (first.detector.is_some(), first.classifier.is_some()) {
                    (true, true) => "detector, then classifier",
                    (true, false) => "detector",
                    _ => "classifier",
                };
                println!("| {word} | {by} | {shown} | {} | {} | {seat} |", ratio(tp, found.len()), ratio(tp, shown));
            }
            let empty_cabin: Vec<&str> = asked.iter().filter(|a| a.empty_cabin && a.found(thresholds)).map(|a| a.word.as_str()).collect();
            println!("found in the empty cabin: {}", if empty_cabin.is_empty() { "nothing".to_string() } else { empty_cabin.join(", ") });
            if setting == "shipped" {
                said_against_right(finder, &asked, thresholds);
            }
        }
    }
}

/// Of the "yes" answers, how sure the car said it was against how often it was right, in
/// bands: the check that `[calibration]`, measured on the tuning photos, holds on these.
fn said_against_right(finder: &Finder, asked: &[Asked], thresholds: (f32, f32)) {
    let calibration = finder.calibration();
    let mut bands = [(0usize, 0usize, 0.0f32); 4];
    for a in asked {
        let (found, source, score, seat) = a.answer(thresholds);
        if found {
            let said = calibration.sure(source, score);
            let band = &mut bands[((said * 4.0) as usize).min(3)];
            *band = (band.0 + 1, band.1 + usize::from(a.shown && seat), band.2 + said);
        }
    }
    println!("| said sure | answers | said on average | right |");
    println!("|---|---|---|---|");
    for (index, (n, right, said)) in bands.iter().enumerate().filter(|(_, (n, ..))| *n > 0) {
        println!(
            "| {}-{} % | {n} | {:.0} % | {:.0} % |",
            index * 25,
            (index + 1) * 25,
            said / *n as f32 * 100.0,
            *right as f32 / *n as f32 * 100.0
        );
    }
}
