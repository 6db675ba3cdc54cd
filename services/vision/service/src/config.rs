//! The vision service's configuration: camera, seat regions, the object vocabulary and the
//! owner's policy (`defaults/vision.toml` is embedded and documents every field).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cabin_vision_model::{Labels, NormalisedBox, CLASSES, COCO_CLASSES};
use serde::Deserialize;
use thiserror::Error;

pub const DEFAULT_CONFIG: &str = include_str!("../defaults/vision.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionConfig {
    pub threshold: f32,
    pub camera: CameraConfig,
    #[serde(default)]
    pub policy: Policy,
    #[serde(rename = "region")]
    pub regions: Vec<RegionConfig>,
    #[serde(default)]
    pub objects: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub detector: Option<DetectorConfig>,
    #[serde(default)]
    pub calibration: Calibration,
}

/// Which model answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Detector,
    Classifier,
}

/// How sure the car says it is, from a model's score: for each model, points `[score, share
/// right]` measured on the tuning photos (how often an answer with about that score named a
/// thing that was there, on the seat it was on), joined by straight lines, falling to 0 at a
/// score of 0 below the first and flat beyond the last. Without points, the score itself is
/// said.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    #[serde(default)]
    pub detector: Vec<[f32; 2]>,
    #[serde(default)]
    pub classifier: Vec<[f32; 2]>,
}

impl Calibration {
    /// How often an answer with `score` from `source` was right.
    pub fn sure(&self, source: Source, score: f32) -> f32 {
        let points = match source {
            Source::Detector => &self.detector,
            Source::Classifier => &self.classifier,
        };
        let (Some(first), Some(last)) = (points.first(), points.last()) else { return score };
        if score <= first[0] {
            return first[1] * (score / first[0]).max(0.0);
        }
        points
            .windows(2)
            .find(|pair| score <= pair[1][0])
            .map_or(last[1], |pair| pair[0][1] + (pair[1][1] - pair[0][1]) * (score - pair[0][0]) / (pair[1][0] - pair[0][0]))
    }

    /// Scores rising, shares from 0 to 1 and never falling: a higher score is never less sure.
    fn check(&self) -> Result<(), (String, String)> {
        for (name, points) in [("calibration.detector", &self.detector), ("calibration.classifier", &self.classifier)] {
            for (index, pair) in points.windows(2).enumerate() {
                if pair[1][0] <= pair[0][0] || pair[1][1] < pair[0][1] {
                    return Err((format!("{name}[{}]", index + 1), "scores must rise, and shares right never fall".into()));
                }
            }
            if let Some(index) = points.iter().position(|[score, share]| !(0.0..=1.0).contains(score) || !(0.0..=1.0).contains(share)) {
                return Err((format!("{name}[{index}]"), "score and share right are fractions from 0 to 1".into()));
            }
        }
        Ok(())
    }
}

/// The object detector: what it must score before the car says "yes", and the words it
/// answers for, as its COCO class names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    pub threshold: f32,
    /// Pixels on a side of the square a frame is letterboxed into (a multiple of 32; the
    /// network was trained at 512).
    #[serde(default = "default_detector_input")]
    pub input: usize,
    #[serde(default)]
    pub objects: BTreeMap<String, Vec<String>>,
    /// COCO classes the detector confuses (a cat boxed as a dog, a bear as a dog): a box of
    /// one of them answers only when the classifier, run on the box, agrees.
    #[serde(default)]
    pub confirm: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub source: PathBuf,
}

/// What the owner allows to leave the car.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub frames_leave_car: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    pub name: String,
    #[serde(rename = "box")]
    pub bounds: [f32; 4],
}

/// A named seat region, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub name: String,
    pub bounds: NormalisedBox,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {field}: {message}")]
    Invalid { file: String, field: String, message: String },
}

impl VisionConfig {
    pub fn embedded() -> VisionConfig {
        VisionConfig::parse(DEFAULT_CONFIG, "defaults/vision.toml").expect("the embedded vision.toml is checked by the crate's tests")
    }

    pub fn load(path: &Path) -> Result<VisionConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read { path: path.to_owned(), message: e.to_string() })?;
        VisionConfig::parse(&text, &path.display().to_string())
    }

    /// `text` laid over the shipped file (it names only what it changes; `[[region]]`s replace
    /// the shipped seats whole), checked for everything that does not need the models:
    /// thresholds and regions. A mistake names its line and column, or its field.
    pub fn parse(text: &str, file: &str) -> Result<VisionConfig, ConfigError> {
        let config: VisionConfig = cabin_layered_config::layered(DEFAULT_CONFIG, text)
            .map_err(|e| ConfigError::Parse { file: file.into(), message: e.to_string() })?;
        let invalid = |field: String, message: String| ConfigError::Invalid { file: file.into(), field, message };
        if !(config.threshold > 0.0 && config.threshold <= 1.0) {
            return Err(invalid("threshold".into(), format!("{} is outside (0, 1]", config.threshold)));
        }
        if let Some(detector) = &config.detector {
            if !(detector.threshold > 0.0 && detector.threshold <= 1.0) {
                return Err(invalid("detector.threshold".into(), format!("{} is outside (0, 1]", detector.threshold)));
            }
            if !detector.input.is_multiple_of(32) || !(64..=1024).contains(&detector.input) {
                return Err(invalid("detector.input".into(), format!("{} is not a multiple of 32 from 64 to 1024", detector.input)));
            }
            for (word, names) in &detector.objects {
                if let Some(unknown) = names.iter().find(|name| !COCO_CLASSES.contains(&name.as_str())) {
                    return Err(invalid(format!("detector.objects.{word}"), format!("`{unknown}` is no COCO class name")));
                }
            }
            if let Some(unknown) = detector.confirm.iter().find(|name| !COCO_CLASSES.contains(&name.as_str())) {
                return Err(invalid("detector.confirm".into(), format!("`{unknown}` is no COCO class name")));
            }
        }
        config.calibration.check().map_err(|(field, message)| invalid(field, message))?;
        if config.regions.is_empty() {
            return Err(invalid("region".into(), "no seat regions: name at least one".into()));
        }
        for (index, region) in config.regions.iter().enumerate() {
            let field = format!("region[{index}] ({})", region.name);
            if region.name.is_empty() || !region.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(field, "name must be letters, digits and _".into()));
            }
            if config.regions[..index].iter().any(|r| r.name == region.name) {
                return Err(invalid(field, "named twice".into()));
            }
            if !region.bounds().is_valid() {
                return Err(invalid(
                    field,
                    format!("box {:?} is not inside the frame: [x, y, width, height], fractions 0 to 1", region.bounds),
                ));
            }
        }
        Ok(config)
    }

    pub fn regions(&self) -> Vec<Region> {
        self.regions.iter().map(|r| Region { name: r.name.clone(), bounds: r.bounds() }).collect()
    }

    /// The object table as class numbers, every entry checked against the labels.
    pub fn object_classes(&self, labels: &Labels, file: &str) -> Result<BTreeMap<String, Vec<usize>>, ConfigError> {
        let mut table = BTreeMap::new();
        for (word, entries) in &self.objects {
            let mut classes = Vec::new();
            for entry in entries {
                let found = class_range(entry).or_else(|| labels.find(entry).map(|c| vec![c])).ok_or_else(|| ConfigError::Invalid {
                    file: file.into(),
                    field: format!("objects.{word}"),
                    message: format!("`{entry}` is no ImageNet class name or class range (0-{})", CLASSES - 1),
                })?;
                classes.extend(found);
            }
            classes.sort_unstable();
            classes.dedup();
            table.insert(word.to_lowercase(), classes);
        }
        Ok(table)
    }
}

fn default_detector_input() -> usize {
    cabin_vision_model::DETECTOR_INPUT
}

impl DetectorConfig {
    /// The detector's words as COCO class numbers (checked when the config was parsed).
    pub fn object_classes(&self) -> BTreeMap<String, Vec<usize>> {
        self.objects
            .iter()
            .map(|(word, names)| {
                let classes = names.iter().filter_map(|name| COCO_CLASSES.iter().position(|c| c == name)).collect();
                (word.to_lowercase(), classes)
            })
            .collect()
    }

    /// The classes in `confirm` as COCO class numbers (checked when the config was parsed).
    pub fn confirmed_classes(&self) -> Vec<usize> {
        self.confirm.iter().filter_map(|name| COCO_CLASSES.iter().position(|c| c == name)).collect()
    }
}

impl RegionConfig {
    fn bounds(&self) -> NormalisedBox {
        let [x, y, width, height] = self.bounds;
        NormalisedBox { x, y, width, height }
    }
}

/// "151-268" or "515": class numbers.
fn class_range(entry: &str) -> Option<Vec<usize>> {
    let (first, last) = entry.split_once('-').unwrap_or((entry, entry));
    let (first, last): (usize, usize) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last && last < CLASSES).then(|| (first..=last).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_config_parses() {
        let config = VisionConfig::embedded();
        assert_eq!(config.regions().len(), 5);
        assert!(!config.policy.frames_leave_car, "frames stay in the car by default");
    }

    #[test]
    fn a_file_changes_only_what_it_names() {
        let config = VisionConfig::parse("[detector]\nthreshold = 0.3\n\n[objects]\nscarf = [\"stole\"]\n", "car.toml").unwrap();
        let shipped = VisionConfig::embedded();
        assert_eq!(config.detector.as_ref().map(|d| d.threshold), Some(0.3));
        assert_eq!(config.detector.as_ref().map(|d| d.input), shipped.detector.as_ref().map(|d| d.input));
        assert_eq!(config.regions().len(), 5, "the shipped seats");
        assert!(config.objects.contains_key("scarf") && config.objects.contains_key("hat"), "words are added to the shipped ones");
        let one_seat = VisionConfig::parse("[[region]]\nname = \"bench\"\nbox = [0.0, 0.0, 1.0, 1.0]\n", "car.toml").unwrap();
        assert_eq!(one_seat.regions().len(), 1, "an OEM's seats replace the shipped ones");
    }

    #[test]
    fn bad_values_name_the_field() {
        let outside = DEFAULT_CONFIG.replace("box = [0.0, 0.0, 0.34, 0.45]", "box = [0.8, 0.0, 0.34, 0.45]");
        let error = VisionConfig::parse(&outside, "car.toml").unwrap_err().to_string();
        assert!(error.starts_with("car.toml: region[0] (rear_right): box"), "{error}");
        let threshold = DEFAULT_CONFIG.replace("threshold = 0.16", "threshold = 7");
        assert!(VisionConfig::parse(&threshold, "car.toml").unwrap_err().to_string().contains("threshold"));
        let odd = DEFAULT_CONFIG.replace("input = 448", "input = 450");
        let error = VisionConfig::parse(&odd, "car.toml").unwrap_err().to_string();
        assert!(error.starts_with("car.toml: detector.input: 450"), "{error}");
        let unknown = DEFAULT_CONFIG.replace(r#"bag = ["backpack", "handbag", "suitcase"]"#, r#"bag = ["backpack", "tote"]"#);
        let error = VisionConfig::parse(&unknown, "car.toml").unwrap_err().to_string();
        assert!(error.starts_with("car.toml: detector.objects.bag: `tote`"), "{error}");
        let unconfirmable = DEFAULT_CONFIG.replace(r#"confirm = ["dog", "cat"]"#, r#"confirm = ["dog", "puppy"]"#);
        let error = VisionConfig::parse(&unconfirmable, "car.toml").unwrap_err().to_string();
        assert!(error.starts_with("car.toml: detector.confirm: `puppy` is no COCO class name"), "{error}");
        let typo = DEFAULT_CONFIG.replace("[policy]", "[policy]\nframes_leave_cra = true");
        let error = VisionConfig::parse(&typo, "car.toml").unwrap_err().to_string();
        assert!(error.starts_with("car.toml: policy.frames_leave_cra: unknown field"), "{error}");
        let syntax = VisionConfig::parse("[detector\nthreshold = 0.3\n", "car.toml").unwrap_err().to_string();
        assert!(syntax.starts_with("car.toml: line 1, column "), "{syntax}");
        assert!(!syntax.contains('\n'), "one line: {syntax}");
    }

    #[test]
    fn how_sure_is_read_off_the_measured_points() {
        let calibration = Calibration { detector: vec![[0.2, 0.5], [0.4, 0.9]], classifier: Vec::new() };
        assert_eq!(calibration.sure(Source::Detector, 0.1), 0.25, "towards 0 below the first point");
        assert!((calibration.sure(Source::Detector, 0.3) - 0.7).abs() < 1e-6, "a straight line between points");
        assert_eq!(calibration.sure(Source::Detector, 0.8), 0.9, "flat beyond the last");
        assert_eq!(calibration.sure(Source::Classifier, 0.12), 0.12, "no points: the score itself");
        let falling = "threshold = 0.1\n[camera]\nsource = \"/dev/video0\"\n[[region]]\nname = \"seat\"\nbox = [0.0, 0.0, 1.0, 1.0]\n\
                       [calibration]\ndetector = [[0.2, 0.9], [0.4, 0.5]]\n";
        let error = VisionConfig::parse(falling, "car.toml").unwrap_err().to_string();
        assert_eq!(error, "car.toml: calibration.detector[1]: scores must rise, and shares right never fall");
    }

    #[test]
    fn class_ranges_are_read() {
        assert_eq!(class_range("281-285"), Some(vec![281, 282, 283, 284, 285]));
        assert_eq!(class_range("515"), Some(vec![515]));
        assert_eq!(class_range("cowboy hat"), None);
        assert_eq!(class_range("990-1200"), None);
    }
}
