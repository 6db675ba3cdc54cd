//! The cabin camera's models in candle: an object detector (MobileNetV3-CenterNet, COCO-80)
//! that says where things lie, an image classifier (EfficientNet-Lite0, ImageNet-1k) for the
//! finer words, the preprocessing that turns a frame or a region of it into their inputs,
//! and the class names.
//!
//! Models: `cabin models fetch centernet efficientnet-lite0 imagenet-labels`.

mod detector;
mod efficientnet;
mod labels;
mod ops;
mod preprocess;

pub use detector::{
    Detection, Detector, DetectorError, DetectorMaps, GraphError, Peak, COCO_CLASSES, DETECTOR_FILE, DETECTOR_INPUT, DETECTOR_MODEL,
};
pub use efficientnet::{EfficientNetLite0, ModelError, CLASSES, INPUT_SIZE};
pub use labels::{Labels, LabelsError};
pub use preprocess::{batch, crop, input_for, NormalisedBox, PreprocessError};

/// The installed models this crate needs.
pub const CLASSIFIER_MODEL: &str = "efficientnet-lite0";
pub const LABELS_MODEL: &str = "imagenet-labels";
/// The weights file inside the classifier's folder.
pub const CLASSIFIER_FILE: &str = "efficientnet-lite0.safetensors";
