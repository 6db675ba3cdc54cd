//! "Is my X in the car, and where?" for one frame: the classifier runs on every seat region
//! and on the whole frame in one batch; the evidence for X in a crop is the summed probability
//! of X's classes; the answer names the region with the best evidence.

use std::time::SystemTime;

use cabin_camera::Frame;
use cabin_vision_model::{batch, input_for, EfficientNetLite0, ModelError, NormalisedBox, PreprocessError};
use thiserror::Error;

use crate::config::Region;
use crate::vocabulary::{ObjectClasses, Vocabulary};

/// The region name of the whole frame, for a thing seen in the car but in no one seat.
pub const WHOLE_FRAME: &str = "";
/// Labels reported as "seen" must reach this probability in some crop.
const LABEL_SEEN: f32 = 0.1;

#[derive(Debug, Error)]
pub enum FindError {
    #[error("I don't know what {object:?} looks like")]
    UnknownObject { object: String },
    #[error("no region {region:?} (this camera sees: {known})")]
    UnknownRegion { region: String, known: String },
    #[error("{0}")]
    Frame(#[from] PreprocessError),
    #[error("{0}")]
    Model(#[from] ModelError),
}

/// What the car saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub found: bool,
    /// The evidence in the best crop, 0 to 1.
    pub confidence: f32,
    /// The region with the best evidence, or [`WHOLE_FRAME`].
    pub region: String,
    /// The object's classes as understood.
    pub object: ObjectClasses,
    /// The most likely things in view, across all crops, best first.
    pub labels_seen: Vec<String>,
    /// Evidence per region (and the whole frame, named ""), in the order run.
    pub evidence: Vec<(String, f32)>,
    pub frame_time: SystemTime,
}

/// The classifier's view of one frame: class probabilities per crop (region name, or
/// [`WHOLE_FRAME`]).
#[derive(Debug, Clone)]
pub struct Observation {
    pub crops: Vec<(String, Vec<f32>)>,
    pub frame_time: SystemTime,
}

#[derive(Debug)]
pub struct Finder {
    classifier: EfficientNetLite0,
    vocabulary: Vocabulary,
    regions: Vec<Region>,
    threshold: f32,
}

impl Finder {
    pub fn new(classifier: EfficientNetLite0, vocabulary: Vocabulary, regions: Vec<Region>, threshold: f32) -> Finder {
        Finder { classifier, vocabulary, regions, threshold }
    }

    /// Does the one-off work of answering now (see [`Vocabulary::prepare`]).
    pub fn prepare(&self) {
        self.vocabulary.prepare();
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Checks the words before any frame is taken: an unknown object or region costs no camera.
    pub fn understand(&self, object: &str, region: Option<&str>) -> Result<(ObjectClasses, Vec<Region>), FindError> {
        let classes = self.vocabulary.resolve(object).ok_or_else(|| FindError::UnknownObject { object: object.trim().to_string() })?;
        let regions = match region.filter(|r| !r.trim().is_empty()) {
            None => self.regions.clone(),
            Some(name) => vec![self.region(name)?.clone()],
        };
        Ok((classes, regions))
    }

    /// A region by name, as people may write it ("rear left" is `rear_left`).
    pub fn region(&self, name: &str) -> Result<&Region, FindError> {
        let wanted = name.trim().to_lowercase().replace([' ', '-'], "_");
        self.regions.iter().find(|r| r.name == wanted).ok_or_else(|| FindError::UnknownRegion {
            region: name.to_string(),
            known: self.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Looks for `object` in `frame`, in one region or in all of them and the whole frame.
    pub fn find(&self, frame: &Frame, object: &str, region: Option<&str>) -> Result<Finding, FindError> {
        let (object, regions) = self.understand(object, region)?;
        Ok(self.judge(&self.observe(frame, &regions)?, object))
    }

    /// Runs the classifier once on `regions` of the frame (and on the whole frame when there
    /// are several): every question about this frame is answered from the result.
    pub fn observe(&self, frame: &Frame, regions: &[Region]) -> Result<Observation, FindError> {
        let mut crops: Vec<(String, NormalisedBox)> = regions.iter().map(|r| (r.name.clone(), r.bounds)).collect();
        if regions.len() > 1 {
            crops.push((WHOLE_FRAME.to_string(), NormalisedBox::WHOLE));
        }
        let inputs = crops.iter().map(|(_, bounds)| input_for(&frame.image, bounds)).collect::<Result<Vec<_>, _>>()?;
        let probabilities = self.classifier.probabilities(&batch(inputs).map_err(ModelError::from)?)?;
        let crops = crops.into_iter().map(|(name, _)| name).zip(probabilities).collect();
        Ok(Observation { crops, frame_time: frame.captured })
    }

    /// Whether `object` is in what was observed, and where.
    pub fn judge(&self, observation: &Observation, object: ObjectClasses) -> Finding {
        let evidence: Vec<(String, f32)> =
            observation.crops.iter().map(|(name, p)| (name.clone(), object.classes.iter().map(|&c| p[c]).sum::<f32>().min(1.0))).collect();
        let best = |named_only: bool| {
            evidence.iter().filter(|(name, _)| !named_only || name != WHOLE_FRAME).max_by(|a, b| a.1.total_cmp(&b.1)).cloned()
        };
        let (best_region, region_evidence) = best(true).unwrap_or_default();
        let (_, confidence) = best(false).unwrap_or_default();
        // A thing the whole frame shows but no seat crop does is "in the car", seat unknown.
        let region = if region_evidence >= self.threshold {
            best_region
        } else if confidence >= self.threshold {
            WHOLE_FRAME.into()
        } else {
            best_region
        };
        Finding {
            found: confidence >= self.threshold,
            confidence,
            region,
            labels_seen: self.labels_seen(observation),
            object,
            evidence,
            frame_time: observation.frame_time,
        }
    }

    fn labels_seen(&self, observation: &Observation) -> Vec<String> {
        let labels = self.vocabulary.labels();
        let mut seen: Vec<(usize, f32)> = Vec::new();
        for (_, crop) in &observation.crops {
            for (class, &p) in crop.iter().enumerate().filter(|(_, &p)| p >= LABEL_SEEN) {
                match seen.iter_mut().find(|(c, _)| *c == class) {
                    Some((_, best)) => *best = best.max(p),
                    None => seen.push((class, p)),
                }
            }
        }
        seen.sort_by(|a, b| b.1.total_cmp(&a.1));
        seen.into_iter().take(5).map(|(class, _)| labels.name(class).to_string()).collect()
    }
}
