//! "Is my X in the car, and where?" for one frame.
//!
//! A word the detector knows (a COCO class: a bag, a phone, a dog, a person) is answered from
//! its boxes: the best box of X's classes, on the seat region it overlaps most. Any other word
//! ("hat", "sunglasses") goes to the classifier, run on every seat region and the whole frame
//! in one batch; the evidence for X in a crop is the summed probability of X's classes, and
//! the answer names the region with the best evidence.

use std::time::SystemTime;

use cabin_camera::Frame;
use cabin_vision_model::{
    batch, input_for, Detection, Detector, DetectorError, EfficientNetLite0, ModelError, NormalisedBox, PreprocessError,
};
use thiserror::Error;

use crate::config::Region;
use crate::vocabulary::{ObjectClasses, Vocabulary};

/// The region name of the whole frame, for a thing seen in the car but in no one seat.
pub const WHOLE_FRAME: &str = "";
/// Labels reported as "seen" must reach this probability in some crop.
const LABEL_SEEN: f32 = 0.1;
/// Detections below this score are not kept at all.
const DETECTION_FLOOR: f32 = 0.1;
/// A box belongs to the seat region holding at least this share of it; a box no region holds
/// this much of (in a footwell, between the seats) is in the car, on no one seat.
const ON_A_SEAT: f32 = 0.5;

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
    #[error("{0}")]
    Detector(#[from] DetectorError),
    #[error("describing the cabin needs the object detector (`cabin models fetch centernet`)")]
    NoDetector,
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

/// What the models saw in one frame: the detector's boxes, each with the region it lies in,
/// and the classifier's class probabilities per crop (region name, or [`WHOLE_FRAME`]). Either
/// is empty when no asked word needed it.
#[derive(Debug, Clone)]
pub struct Observation {
    pub detections: Vec<(Detection, String)>,
    pub crops: Vec<(String, Vec<f32>)>,
    pub frame_time: SystemTime,
}

/// The object detector and the score its answers need.
#[derive(Debug)]
pub struct DetectorSetup {
    pub detector: Detector,
    pub threshold: f32,
    /// The classes told when the cabin is described.
    pub describable: Vec<usize>,
}

#[derive(Debug)]
pub struct Finder {
    classifier: EfficientNetLite0,
    detector: Option<DetectorSetup>,
    vocabulary: Vocabulary,
    regions: Vec<Region>,
    threshold: f32,
}

impl Finder {
    pub fn new(classifier: EfficientNetLite0, vocabulary: Vocabulary, regions: Vec<Region>, threshold: f32) -> Finder {
        Finder { classifier, detector: None, vocabulary, regions, threshold }
    }

    /// Answers the detector's words from its boxes.
    pub fn with_detector(mut self, detector: DetectorSetup) -> Finder {
        self.detector = Some(detector);
        self
    }

    /// Whether the detector answers for `object` (else the classifier does).
    pub fn answers_by_detector(&self, object: &ObjectClasses) -> bool {
        self.detector.is_some() && !object.detected.is_empty()
    }

    /// The score a detection needs, with a detector.
    pub fn detector_threshold(&self) -> Option<f32> {
        self.detector.as_ref().map(|setup| setup.threshold)
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
        Ok((classes, self.regions_named(region)?))
    }

    /// A region by name, as people may write it ("rear left" is `rear_left`).
    pub fn region(&self, name: &str) -> Result<&Region, FindError> {
        let wanted = region_key(name);
        self.regions.iter().find(|r| r.name == wanted).ok_or_else(|| self.unknown_region(name))
    }

    /// The regions a name stands for: every region when there is none, the one region of that
    /// name, or the group it begins ("rear" is `rear_left`, `rear_middle` and `rear_right`).
    pub fn regions_named(&self, name: Option<&str>) -> Result<Vec<Region>, FindError> {
        let Some(name) = name.filter(|r| !r.trim().is_empty()) else { return Ok(self.regions.clone()) };
        if let Ok(region) = self.region(name) {
            return Ok(vec![region.clone()]);
        }
        let group = format!("{}_", region_key(name));
        let regions: Vec<Region> = self.regions.iter().filter(|r| r.name.starts_with(&group)).cloned().collect();
        if regions.is_empty() {
            return Err(self.unknown_region(name));
        }
        Ok(regions)
    }

    fn unknown_region(&self, name: &str) -> FindError {
        FindError::UnknownRegion {
            region: name.to_string(),
            known: self.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
        }
    }

    /// What the detector is sure of in `region` (or anywhere), one entry per kind of thing and
    /// region, best first: "what's on the back seat?", "did I leave anything in the car?". Only
    /// things the OEM's detector table names are told (a seat is no news).
    pub fn describe(&self, frame: &Frame, region: Option<&str>) -> Result<Vec<(Detection, String)>, FindError> {
        let regions = self.regions_named(region)?;
        let setup = self.detector.as_ref().ok_or(FindError::NoDetector)?;
        let all = ObjectClasses { word: "anything".into(), classes: Vec::new(), detected: setup.describable.clone(), similarity: None };
        let observation = self.observe(frame, &regions, &[&all])?;
        let mut seen: Vec<(Detection, String)> = Vec::new();
        for (detection, region) in observation.detections {
            let told = seen.iter().any(|(d, r)| d.class == detection.class && *r == region);
            if detection.score >= setup.threshold && setup.describable.contains(&detection.class) && !told {
                seen.push((detection, region));
            }
        }
        Ok(seen)
    }

    /// Looks for `object` in `frame`, in one region or in all of them and the whole frame.
    pub fn find(&self, frame: &Frame, object: &str, region: Option<&str>) -> Result<Finding, FindError> {
        let (object, regions) = self.understand(object, region)?;
        Ok(self.judge(&self.observe(frame, &regions, &[&object])?, object))
    }

    /// Runs what `objects` need once on the frame: the detector (its boxes placed in
    /// `regions`) for the words it knows, the classifier on `regions` (and the whole frame
    /// when there are several) for the rest. Every question about those objects in this
    /// frame is answered from the result.
    pub fn observe(&self, frame: &Frame, regions: &[Region], objects: &[&ObjectClasses]) -> Result<Observation, FindError> {
        let mut observation = Observation { detections: Vec::new(), crops: Vec::new(), frame_time: frame.captured };
        if let Some(setup) = self.detector.as_ref().filter(|_| objects.iter().any(|o| self.answers_by_detector(o))) {
            let detections = setup.detector.detect(&frame.image, DETECTION_FLOOR)?;
            observation.detections = detections
                .into_iter()
                .filter_map(|d| {
                    let region = home_region(&d.bounds, regions);
                    // Asked about one region: a box in none of them is outside the question.
                    (regions.len() == self.regions.len() || region != WHOLE_FRAME).then_some((d, region))
                })
                .collect();
        }
        if objects.iter().any(|o| !self.answers_by_detector(o)) {
            let mut crops: Vec<(String, NormalisedBox)> = regions.iter().map(|r| (r.name.clone(), r.bounds)).collect();
            // The whole frame only when the whole car is asked about: seen there, a thing may
            // lie on a seat that was not asked.
            if regions.len() > 1 && regions.len() == self.regions.len() {
                crops.push((WHOLE_FRAME.to_string(), NormalisedBox::WHOLE));
            }
            let inputs = crops.iter().map(|(_, bounds)| input_for(&frame.image, bounds)).collect::<Result<Vec<_>, _>>()?;
            let probabilities = self.classifier.probabilities(&batch(inputs).map_err(ModelError::from)?)?;
            observation.crops = crops.into_iter().map(|(name, _)| name).zip(probabilities).collect();
        }
        Ok(observation)
    }

    /// Whether `object` is in what was observed, and where.
    pub fn judge(&self, observation: &Observation, object: ObjectClasses) -> Finding {
        match &self.detector {
            Some(setup) if self.answers_by_detector(&object) => self.judge_detections(observation, object, setup.threshold),
            _ => self.judge_crops(observation, object),
        }
    }

    /// The best box of the object's classes, and the region it lies in.
    fn judge_detections(&self, observation: &Observation, object: ObjectClasses, threshold: f32) -> Finding {
        let mut evidence: Vec<(String, f32)> = Vec::new();
        for (detection, region) in observation.detections.iter().filter(|(d, _)| object.detected.contains(&d.class)) {
            match evidence.iter_mut().find(|(name, _)| name == region) {
                Some((_, best)) => *best = best.max(detection.score),
                None => evidence.push((region.clone(), detection.score)),
            }
        }
        evidence.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (region, confidence) = evidence.first().cloned().unwrap_or_default();
        self.finding(observation, object, evidence, region, confidence, threshold)
    }

    fn judge_crops(&self, observation: &Observation, object: ObjectClasses) -> Finding {
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
        self.finding(observation, object, evidence, region, confidence, self.threshold)
    }

    fn finding(
        &self,
        observation: &Observation,
        object: ObjectClasses,
        evidence: Vec<(String, f32)>,
        region: String,
        confidence: f32,
        threshold: f32,
    ) -> Finding {
        Finding {
            found: confidence >= threshold,
            confidence,
            region,
            labels_seen: self.labels_seen(observation),
            object,
            evidence,
            frame_time: observation.frame_time,
        }
    }

    /// What the detector is sure of, then the classifier's likeliest classes.
    fn labels_seen(&self, observation: &Observation) -> Vec<String> {
        let threshold = self.detector.as_ref().map_or(1.0, |setup| setup.threshold);
        let mut detected: Vec<String> = Vec::new();
        for (detection, _) in observation.detections.iter().filter(|(d, _)| d.score >= threshold) {
            if !detected.iter().any(|label| label == detection.label()) {
                detected.push(detection.label().to_string());
            }
        }
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
        detected.extend(seen.into_iter().map(|(class, _)| labels.name(class).to_string()));
        detected.truncate(5);
        detected
    }
}

/// A region's name as people may write it: "Rear left" is `rear_left`.
fn region_key(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

/// The region holding the largest share of `bounds` (at least half), or [`WHOLE_FRAME`].
fn home_region(bounds: &NormalisedBox, regions: &[Region]) -> String {
    let area = bounds.width * bounds.height;
    let share = |region: &Region| {
        let r = &region.bounds;
        let width = (bounds.x + bounds.width).min(r.x + r.width) - bounds.x.max(r.x);
        let height = (bounds.y + bounds.height).min(r.y + r.height) - bounds.y.max(r.y);
        if width <= 0.0 || height <= 0.0 || area <= 0.0 {
            0.0
        } else {
            width * height / area
        }
    };
    regions
        .iter()
        .map(|r| (r, share(r)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, s)| *s >= ON_A_SEAT)
        .map_or(WHOLE_FRAME.to_string(), |(r, _)| r.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_belongs_to_the_region_holding_most_of_it() {
        let regions = [
            Region { name: "left".into(), bounds: NormalisedBox { x: 0.0, y: 0.0, width: 0.5, height: 1.0 } },
            Region { name: "right".into(), bounds: NormalisedBox { x: 0.5, y: 0.0, width: 0.5, height: 1.0 } },
        ];
        let mostly_right = NormalisedBox { x: 0.4, y: 0.2, width: 0.4, height: 0.3 };
        assert_eq!(home_region(&mostly_right, &regions), "right");
        let between = NormalisedBox { x: 0.0, y: 0.0, width: 0.1, height: 0.1 };
        let regions_apart = [Region { name: "seat".into(), bounds: NormalisedBox { x: 0.5, y: 0.5, width: 0.5, height: 0.5 } }];
        assert_eq!(home_region(&between, &regions_apart), WHOLE_FRAME);
    }
}
