//! "Is my X in the car, and where?" for one frame.
//!
//! The detector runs once and boxes what it sees. A word it knows (a COCO class: a bag, a
//! phone, a dog, a person) is answered from its boxes: the best box of X's classes, on the seat
//! region it overlaps most. What it does not find, and every other word ("hat", "sunglasses"),
//! goes to the classifier, run in one batch on the detector's best boxes (whatever it took them
//! for: a hat is often boxed as something else, and a tight crop shows it larger than a seat
//! does), on every seat region and on the whole frame; the evidence for X in a crop is the
//! summed probability of X's classes, and the answer names the region with the best evidence.

use std::time::SystemTime;

use cabin_camera::Frame;
use cabin_vision_model::{
    batch, input_for, Detection, Detector, DetectorError, EfficientNetLite0, ModelError, NormalisedBox, PreprocessError,
};
use image::RgbImage;
use thiserror::Error;

use crate::config::{Calibration, Region, Source};
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
/// The detector's best boxes the classifier names too, and the least score such a box needs.
const BOXES_NAMED: usize = 3;
const BOX_FLOOR: f32 = 0.15;
/// A box is cropped this much wider on each side (a share of its size): a tight box cuts off
/// the brim of a hat, and the classifier saw whole objects with some background.
const BOX_MARGIN: f32 = 0.15;

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
    #[error("this needs the object detector (`cabin models fetch centernet`)")]
    NoDetector,
}

/// What the car saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub found: bool,
    /// How sure the car is, 0 to 1: how often an answer with this score was right on the
    /// tuning photos (the config's `[calibration]`).
    pub confidence: f32,
    /// The answering model's own score: a box's score, or a crop's summed probability.
    pub score: f32,
    pub answered_by: Source,
    /// The region with the best evidence, or [`WHOLE_FRAME`].
    pub region: String,
    /// The object's classes as understood.
    pub object: ObjectClasses,
    /// The most likely things in view, across all crops, best first.
    pub labels_seen: Vec<String>,
    /// The answering model's score per region (and the whole frame, named "").
    pub evidence: Vec<(String, f32)>,
    pub frame_time: SystemTime,
}

/// What the models saw in one frame: the detector's boxes, each with the region it lies in,
/// and the classifier's class probabilities per crop. Either is empty when no asked word
/// needed it.
#[derive(Debug, Clone)]
pub struct Observation {
    pub detections: Vec<(Detection, String)>,
    pub crops: Vec<Crop>,
    pub frame_time: SystemTime,
}

/// One crop the classifier saw: a seat region, the whole frame, or a detector's box.
#[derive(Debug, Clone)]
pub struct Crop {
    /// The region (for a box, the one it lies in), or [`WHOLE_FRAME`].
    pub region: String,
    /// The detector's box it was cut from: its index in [`Observation::detections`].
    pub from_box: Option<usize>,
    pub probabilities: Vec<f32>,
}

/// Where one model saw the object best, and how strongly (its own scale).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub region: String,
    pub score: f32,
}

/// The object detector and the score its answers need.
#[derive(Debug)]
pub struct DetectorSetup {
    pub detector: Detector,
    pub threshold: f32,
    /// The classes told when the cabin is described.
    pub describable: Vec<usize>,
    /// The classes whose boxes answer only when the classifier agrees (the config's
    /// `detector.confirm`), each with the classifier's classes that confirm it.
    pub confirmed: Vec<(usize, Vec<usize>)>,
}

#[derive(Debug)]
pub struct Finder {
    classifier: EfficientNetLite0,
    detector: Option<DetectorSetup>,
    vocabulary: Vocabulary,
    regions: Vec<Region>,
    threshold: f32,
    calibration: Calibration,
}

impl Finder {
    pub fn new(classifier: EfficientNetLite0, vocabulary: Vocabulary, regions: Vec<Region>, threshold: f32) -> Finder {
        Finder { classifier, detector: None, vocabulary, regions, threshold, calibration: Calibration::default() }
    }

    /// Says how sure it is as measured (see [`Calibration`]) rather than as the models' scores.
    pub fn with_calibration(mut self, calibration: Calibration) -> Finder {
        self.calibration = calibration;
        self
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
        cabin_heap_release::release_freed_memory();
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
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
        for (index, (detection, region)) in observation.detections.iter().enumerate() {
            let told = seen.iter().any(|(d, r)| d.class == detection.class && r == region);
            // A box of a class to confirm is told only when the classifier agrees.
            let agreed = self.confirmed(&observation, index);
            if detection.score >= setup.threshold && setup.describable.contains(&detection.class) && !told && agreed {
                seen.push((detection.clone(), region.clone()));
            }
        }
        Ok(seen)
    }

    /// Where the detector sees people, to blur their faces before a frame leaves the car. The
    /// bar is lower than for an answer: a face missed costs more than a cushion blurred.
    pub fn people(&self, image: &RgbImage) -> Result<Vec<NormalisedBox>, FindError> {
        let setup = self.detector.as_ref().ok_or(FindError::NoDetector)?;
        let detections = setup.detector.detect(image, DETECTION_FLOOR)?;
        Ok(detections.into_iter().filter(|d| d.label() == "person").map(|d| d.bounds).collect())
    }

    /// Looks for `object` in `frame`, in one region or in all of them and the whole frame.
    pub fn find(&self, frame: &Frame, object: &str, region: Option<&str>) -> Result<Finding, FindError> {
        let (object, regions) = self.understand(object, region)?;
        Ok(self.judge(&self.observe(frame, &regions, &[&object])?, object))
    }

    /// Runs what `objects` need once on the frame: the detector (its boxes placed in
    /// `regions`); the classifier on the boxes it must confirm; then, for the words still not
    /// settled, the classifier on the detector's best boxes, on `regions` and (when there are
    /// several) on the whole frame. Every question about those objects in this frame is
    /// answered from the result.
    pub fn observe(&self, frame: &Frame, regions: &[Region], objects: &[&ObjectClasses]) -> Result<Observation, FindError> {
        let mut observation = Observation { detections: Vec::new(), crops: Vec::new(), frame_time: frame.captured };
        if let Some(setup) = &self.detector {
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
        let box_crop = |index: usize| {
            let (detection, region) = &observation.detections[index];
            (region.clone(), Some(index), widened(&detection.bounds))
        };
        // Asked about a class to confirm, every box of such a class is confirmed: a cat both
        // models agree on is also what a question about a dog needs to know.
        let asks_confirmed = objects.iter().any(|object| object.detected.iter().any(|&class| self.confirms(class).is_some()));
        let to_confirm: Vec<usize> = (0..observation.detections.len())
            .filter(|&index| asks_confirmed && self.must_confirm(&observation.detections[index].0).is_some())
            .collect();
        let confirming = self.classify(frame, to_confirm.iter().map(|&index| box_crop(index)).collect())?;
        observation.crops = confirming;
        let settled = |object: &&ObjectClasses| {
            object.classes.is_empty() || self.detector_evidence(&observation, object).is_some_and(|e| self.detector_says_yes(e.score))
        };
        if objects.iter().all(settled) {
            return Ok(observation);
        }
        let mut crops: Vec<(String, Option<usize>, NormalisedBox)> = regions.iter().map(|r| (r.name.clone(), None, r.bounds)).collect();
        // The whole frame only when the whole car is asked about: seen there, a thing may
        // lie on a seat that was not asked.
        if regions.len() > 1 && regions.len() == self.regions.len() {
            crops.push((WHOLE_FRAME.to_string(), None, NormalisedBox::WHOLE));
        }
        let boxes = (0..observation.detections.len())
            .filter(|&index| observation.detections[index].0.score >= BOX_FLOOR)
            .take(BOXES_NAMED)
            .filter(|index| !to_confirm.contains(index));
        crops.extend(boxes.map(box_crop));
        let named = self.classify(frame, crops)?;
        observation.crops.extend(named);
        Ok(observation)
    }

    /// The classifier's probabilities for each crop, in one batch.
    fn classify(&self, frame: &Frame, crops: Vec<(String, Option<usize>, NormalisedBox)>) -> Result<Vec<Crop>, FindError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let inputs = crops.iter().map(|(_, _, bounds)| input_for(&frame.image, bounds)).collect::<Result<Vec<_>, _>>()?;
        let probabilities = self.classifier.probabilities(&batch(inputs).map_err(ModelError::from)?)?;
        Ok(crops
            .into_iter()
            .zip(probabilities)
            .map(|((region, from_box, _), probabilities)| Crop { region, from_box, probabilities })
            .collect())
    }

    /// The classifier's classes that confirm a box of `class`, when the config lists it in
    /// `detector.confirm`.
    fn confirms(&self, class: usize) -> Option<&[usize]> {
        let setup = self.detector.as_ref()?;
        setup.confirmed.iter().find(|(confirmed, _)| *confirmed == class).map(|(_, classes)| classes.as_slice())
    }

    /// The classes confirming this detection, when it answers only once the classifier agrees:
    /// a class listed in `detector.confirm`, scored high enough to be an answer.
    fn must_confirm(&self, detection: &Detection) -> Option<&[usize]> {
        let threshold = self.detector.as_ref()?.threshold;
        self.confirms(detection.class).filter(|_| detection.score >= threshold)
    }

    /// Whether the box at `index` stands: the classifier, run on it, gives its class's own
    /// classes at least its threshold. A box that needs no confirming stands.
    fn confirmed(&self, observation: &Observation, index: usize) -> bool {
        let Some(classes) = self.must_confirm(&observation.detections[index].0) else { return true };
        let sum = |crop: &Crop| classes.iter().map(|&c| crop.probabilities[c]).sum::<f32>();
        observation.crops.iter().find(|crop| crop.from_box == Some(index)).is_some_and(|crop| sum(crop) >= self.threshold)
    }

    /// The regions where both models agree on a thing to confirm other than `object` (a cat
    /// when a dog is asked): the classifier's evidence for `object` there, or in the whole
    /// frame, is the same animal taken for another. Empty unless `object` is such a thing.
    fn taken_by_another<'a>(&self, observation: &'a Observation, object: &ObjectClasses) -> Vec<&'a str> {
        if object.detected.is_empty() || !object.detected.iter().all(|&class| self.confirms(class).is_some()) {
            return Vec::new();
        }
        (observation.detections.iter().enumerate())
            .filter(|(index, (d, _))| {
                !object.detected.contains(&d.class) && self.must_confirm(d).is_some() && self.confirmed(observation, *index)
            })
            .map(|(_, (_, region))| region.as_str())
            .collect()
    }

    /// The classifier's classes of the other things to confirm, when `object` is one of them
    /// (a cat's when a dog is asked).
    fn rivals(&self, object: &ObjectClasses) -> Vec<&[usize]> {
        let Some(setup) = &self.detector else { return Vec::new() };
        if object.detected.is_empty() || !object.detected.iter().all(|&class| self.confirms(class).is_some()) {
            return Vec::new();
        }
        (setup.confirmed.iter()).filter(|(class, _)| !object.detected.contains(class)).map(|(_, classes)| classes.as_slice()).collect()
    }

    fn detector_says_yes(&self, score: f32) -> bool {
        self.detector.as_ref().is_some_and(|setup| score >= setup.threshold)
    }

    /// Whether `object` is in what was observed, and where: the detector's answer when it
    /// finds it, else the classifier's.
    pub fn judge(&self, observation: &Observation, object: ObjectClasses) -> Finding {
        let detected = self.detector_evidence(observation, &object);
        let classified = self.classifier_evidence(observation, &object);
        let (best, found, source) = match (detected, classified) {
            (Some(detected), _) if self.detector_says_yes(detected.score) => (detected, true, Source::Detector),
            (_, Some(classified)) if classified.score >= self.threshold => (classified, true, Source::Classifier),
            (Some(detected), _) => (detected, false, Source::Detector),
            (None, Some(classified)) => (classified, false, Source::Classifier),
            (None, None) => (Evidence { region: String::new(), score: 0.0 }, false, Source::Classifier),
        };
        let evidence = match source {
            Source::Detector => self.detector_scores(observation, &object),
            Source::Classifier => self.classifier_scores(observation, &object),
        };
        Finding {
            found,
            confidence: self.calibration.sure(source, best.score),
            score: best.score,
            answered_by: source,
            region: best.region,
            labels_seen: self.labels_seen(observation),
            evidence: evidence.unwrap_or_default(),
            object,
            frame_time: observation.frame_time,
        }
    }

    /// The best box of the object's classes, and the region it lies in; `None` for a word the
    /// detector does not know, or without the detector.
    pub fn detector_evidence(&self, observation: &Observation, object: &ObjectClasses) -> Option<Evidence> {
        let scores = self.detector_scores(observation, object)?;
        Some(scores.into_iter().next().map_or(Evidence { region: String::new(), score: 0.0 }, |(region, score)| Evidence { region, score }))
    }

    /// The crop with the most of the object's classes, and its region; `None` for a word the
    /// classifier does not know, or when it did not run. A thing only the whole frame shows is
    /// "in the car", seat unknown.
    pub fn classifier_evidence(&self, observation: &Observation, object: &ObjectClasses) -> Option<Evidence> {
        let scores = self.classifier_scores(observation, object)?;
        let best = |on_a_seat: bool| {
            scores.iter().filter(|(region, _)| !on_a_seat || region != WHOLE_FRAME).max_by(|a, b| a.1.total_cmp(&b.1)).cloned()
        };
        let (seat, seat_score) = best(true).unwrap_or_default();
        let (_, score) = best(false).unwrap_or_default();
        let region = if seat_score < self.threshold && score >= self.threshold { WHOLE_FRAME.to_string() } else { seat };
        Some(Evidence { region, score })
    }

    /// Per region, the best score of a box of the object's classes, best first.
    fn detector_scores(&self, observation: &Observation, object: &ObjectClasses) -> Option<Vec<(String, f32)>> {
        if !self.answers_by_detector(object) {
            return None;
        }
        let boxes = (observation.detections.iter().enumerate())
            .filter(|(index, (d, _))| object.detected.contains(&d.class) && self.confirmed(observation, *index));
        let mut scores = best_per_region(boxes.map(|(_, (d, region))| (region, d.score)));
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some(scores)
    }

    /// Per region (a box counts for the region it lies in), the most of the object's classes
    /// in any crop, in the order the crops ran.
    fn classifier_scores(&self, observation: &Observation, object: &ObjectClasses) -> Option<Vec<(String, f32)>> {
        if object.classes.is_empty() || observation.crops.is_empty() {
            return None;
        }
        let taken = self.taken_by_another(observation, object);
        let open = |crop: &&Crop| taken.is_empty() || !(crop.region == WHOLE_FRAME || taken.contains(&crop.region.as_str()));
        let rivals = self.rivals(object);
        // A crop where a rival's classes weigh more shows the rival (a cat's fur read as a dog breed).
        let outweighs = |crop: &&Crop| {
            let own = class_sum(crop, object);
            rivals.iter().all(|classes| classes.iter().map(|&c| crop.probabilities[c]).sum::<f32>() < own)
        };
        Some(best_per_region(observation.crops.iter().filter(open).filter(outweighs).map(|crop| (&crop.region, class_sum(crop, object)))))
    }

    /// What the detector is sure of (a box to confirm only when the classifier agrees, as for
    /// an answer: "no dog seen" beside "seen: dog" was a stranger's puzzle), then the
    /// classifier's likeliest classes.
    fn labels_seen(&self, observation: &Observation) -> Vec<String> {
        let threshold = self.detector.as_ref().map_or(1.0, |setup| setup.threshold);
        let mut detected: Vec<String> = Vec::new();
        let sure = |(index, (d, _)): &(usize, &(Detection, String))| d.score >= threshold && self.confirmed(observation, *index);
        for (_, (detection, _)) in observation.detections.iter().enumerate().filter(sure) {
            if !detected.iter().any(|label| label == detection.label()) {
                detected.push(detection.label().to_string());
            }
        }
        let labels = self.vocabulary.labels();
        let mut seen: Vec<(usize, f32)> = Vec::new();
        for crop in &observation.crops {
            for (class, &p) in crop.probabilities.iter().enumerate().filter(|(_, &p)| p >= LABEL_SEEN) {
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

/// The summed probability of the object's classes in a crop.
fn class_sum(crop: &Crop, object: &ObjectClasses) -> f32 {
    object.classes.iter().map(|&c| crop.probabilities[c]).sum::<f32>().min(1.0)
}

/// The best score per region, in the order the regions first came.
fn best_per_region<'a>(scores: impl Iterator<Item = (&'a String, f32)>) -> Vec<(String, f32)> {
    let mut best: Vec<(String, f32)> = Vec::new();
    for (region, score) in scores {
        match best.iter_mut().find(|(name, _)| name == region) {
            Some((_, known)) => *known = known.max(score),
            None => best.push((region.clone(), score)),
        }
    }
    best
}

/// `bounds` widened by [`BOX_MARGIN`] on each side, within the frame.
fn widened(bounds: &NormalisedBox) -> NormalisedBox {
    let (dx, dy) = (bounds.width * BOX_MARGIN, bounds.height * BOX_MARGIN);
    let (x, y) = ((bounds.x - dx).max(0.0), (bounds.y - dy).max(0.0));
    NormalisedBox { x, y, width: (bounds.x + bounds.width + dx).min(1.0) - x, height: (bounds.y + bounds.height + dy).min(1.0) - y }
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
