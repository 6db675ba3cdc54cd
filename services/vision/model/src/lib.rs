//! The cabin camera's image classifier: EfficientNet-Lite0 (ImageNet-1k) in candle, the
//! preprocessing that turns a region of a frame into its input, and the class names.
//!
//! Models: `cabin models fetch efficientnet-lite0 imagenet-labels`.

mod efficientnet;
mod labels;
mod ops;
mod preprocess;

pub use efficientnet::{EfficientNetLite0, ModelError, CLASSES, INPUT_SIZE};
pub use labels::{Labels, LabelsError};
pub use preprocess::{batch, crop, input_for, NormalisedBox, PreprocessError};

/// The installed models this crate needs.
pub const CLASSIFIER_MODEL: &str = "efficientnet-lite0";
pub const LABELS_MODEL: &str = "imagenet-labels";
/// The weights file inside the classifier's folder.
pub const CLASSIFIER_FILE: &str = "efficientnet-lite0.safetensors";
