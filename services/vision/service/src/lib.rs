//! The vision service: "is my hat in the car, and where?" answered on device from the cabin
//! camera, as `org.cabin.Vision1`.
//!
//! The camera (`cabin-camera`) gives a frame; the vocabulary maps the asked word to the
//! detector's and the classifier's classes (`cabin-vision-model`); the finder runs the
//! detector once on the frame for the words it knows, and the classifier on the OEM's seat
//! regions and the whole frame for the rest. No frame leaves the car unless the owner's
//! policy says so.

pub mod composite;
mod config;
mod faces;
mod finder;
mod service;
mod vocabulary;

use std::path::Path;

use cabin_models::{LocateError, ModelsDir};
use cabin_sentence_encoder::{EncoderError, SentenceEncoder, EMBEDDING_MODEL};
use cabin_vision_model::{
    Detector, DetectorError, EfficientNetLite0, Labels, LabelsError, ModelError, CLASSIFIER_FILE, CLASSIFIER_MODEL, COCO_CLASSES,
    DETECTOR_FILE, DETECTOR_MODEL, LABELS_MODEL,
};

pub use config::{Calibration, ConfigError, DetectorConfig, Policy, Region, Source, VisionConfig, DEFAULT_CONFIG};
pub use finder::{Crop, DetectorSetup, Evidence, FindError, Finder, Finding, Observation, WHOLE_FRAME};
pub use service::{serve, Vision, VisionError, BUS_NAME, OBJECT_PATH};
pub use vocabulary::{ObjectClasses, Vocabulary, MIN_SIMILARITY};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Missing(#[from] LocateError),
    #[error("{0}")]
    Classifier(#[from] ModelError),
    #[error("{0}")]
    Detector(#[from] DetectorError),
    #[error("{0}")]
    Labels(#[from] LabelsError),
    #[error("{0}")]
    Encoder(#[from] EncoderError),
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// Loads the classifier, its labels, and (when installed) the object detector and the
/// sentence encoder for unlisted words, and builds a finder for `config`. `config_name` names
/// the config in errors.
pub fn load_finder(models: &ModelsDir, config: &VisionConfig, config_name: &str) -> Result<Finder, LoadError> {
    let classifier = EfficientNetLite0::load(&models.locate(CLASSIFIER_MODEL)?.join(CLASSIFIER_FILE))?;
    let labels = Labels::load(&models.locate(LABELS_MODEL)?)?;
    let table = config.object_classes(&labels, config_name)?;
    let encoder = match models.locate(EMBEDDING_MODEL) {
        Ok(dir) => Some(SentenceEncoder::shared(&dir)?),
        Err(e) => {
            tracing::warn!(error = %e, "no sentence encoder: only listed objects and exact class names are known");
            None
        }
    };
    let mut vocabulary = Vocabulary::new(table.clone(), labels, encoder);
    let mut detector = None;
    if let Some(detector_config) = &config.detector {
        match models.locate(DETECTOR_MODEL) {
            Ok(dir) => {
                let loaded = Detector::load(&dir.join(DETECTOR_FILE))?.with_input_size(detector_config.input)?;
                let mut describable: Vec<usize> = detector_config.object_classes().into_values().flatten().collect();
                describable.sort_unstable();
                describable.dedup();
                let mut confirmed = Vec::new();
                for class in detector_config.confirmed_classes() {
                    let name = COCO_CLASSES[class];
                    let classes = table.get(name).cloned().unwrap_or_default();
                    if classes.is_empty() {
                        return Err(ConfigError::Invalid {
                            file: config_name.into(),
                            field: "detector.confirm".into(),
                            message: format!("`{name}` has no entry in [objects]: no classifier classes to confirm it"),
                        }
                        .into());
                    }
                    confirmed.push((class, classes));
                }
                detector = Some(DetectorSetup { detector: loaded, threshold: detector_config.threshold, describable, confirmed });
                vocabulary = vocabulary.with_detector(detector_config.object_classes());
            }
            Err(e) => tracing::warn!(error = %e, "no object detector: the classifier answers every word"),
        }
    }
    let finder = Finder::new(classifier, vocabulary, config.regions(), config.threshold).with_calibration(config.calibration.clone());
    Ok(match detector {
        Some(detector) => finder.with_detector(detector),
        None => finder,
    })
}

/// Reads a config file, or the embedded defaults when `path` is `None`.
pub fn load_config(path: Option<&Path>) -> Result<(VisionConfig, String), ConfigError> {
    match path {
        Some(path) => Ok((VisionConfig::load(path)?, path.display().to_string())),
        None => Ok((VisionConfig::embedded(), "defaults/vision.toml".into())),
    }
}
