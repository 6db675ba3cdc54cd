//! The candle CenterNet against TensorFlow.js running the same graph on the same inputs
//! (fixtures made once by tests/data/detector_reference.mjs): the network's heatmap, and the
//! detections our decoding finds against the ones the graph's own decoding gives.
//! Needs `cabin models fetch centernet`.

use std::path::{Path, PathBuf};

use cabin_models::ModelsDir;
use cabin_vision_model::{Detector, Peak, COCO_CLASSES, DETECTOR_FILE, DETECTOR_INPUT, DETECTOR_MODEL};

const PHOTO: usize = 224;
const MOSAIC: [&str; 4] = ["chelsea.png", "coffee.png", "astronaut.png", "grace_hopper.png"];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn detector() -> Detector {
    let dir = ModelsDir::resolve().locate(DETECTOR_MODEL).unwrap_or_else(|e| panic!("{e}"));
    Detector::load(&dir.join(DETECTOR_FILE)).unwrap()
}

fn place(canvas: &mut [f32], name: &str, left: usize, top: usize) {
    let photo = image::open(data(name)).unwrap().to_rgb8();
    assert_eq!(photo.dimensions(), (PHOTO as u32, PHOTO as u32), "{name}");
    for (x, y, pixel) in photo.enumerate_pixels() {
        let at = ((top + y as usize) * DETECTOR_INPUT + left + x as usize) * 3;
        canvas[at..at + 3].copy_from_slice(&pixel.0.map(f32::from));
    }
}

/// The reference script's inputs: each photo centred on black, and all four in a mosaic.
fn inputs() -> Vec<(String, Vec<f32>)> {
    let blank = || vec![0f32; DETECTOR_INPUT * DETECTOR_INPUT * 3];
    let mut inputs = Vec::new();
    for name in MOSAIC {
        let mut canvas = blank();
        place(&mut canvas, name, (DETECTOR_INPUT - PHOTO) / 2, (DETECTOR_INPUT - PHOTO) / 2);
        inputs.push((name.to_string(), canvas));
    }
    let mut mosaic = blank();
    let margin = (DETECTOR_INPUT - 2 * PHOTO) / 2;
    for (i, name) in MOSAIC.iter().enumerate() {
        place(&mut mosaic, name, margin + (i % 2) * PHOTO, margin + (i / 2) * PHOTO);
    }
    inputs.push(("mosaic".into(), mosaic));
    inputs
}

#[derive(serde::Deserialize)]
struct Reference {
    inputs: std::collections::BTreeMap<String, ReferenceInput>,
}

#[derive(serde::Deserialize)]
struct ReferenceInput {
    /// `[x1, y1, x2, y2, score, class]`, scores of 0.1 and over.
    detections: Vec<[f32; 6]>,
    /// `(flat index, value)` of the 20 largest heatmap values.
    heatmap_top: Vec<(usize, f32)>,
}

#[test]
fn detections_match_tensorflow_js_on_every_input() {
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(data("detector_reference.json")).unwrap()).unwrap();
    let detector = detector();
    for (name, input) in inputs() {
        let expected = &reference.inputs[&name];
        let maps = detector.maps(input).unwrap();
        for &(index, value) in &expected.heatmap_top {
            assert!((maps.heatmap[index] - value).abs() < 1e-3, "{name}: heatmap[{index}] is {}, TF.js {value}", maps.heatmap[index]);
        }
        // Scores agree to about 1e-3 (sums in another order): a little under the reference's
        // cut, so a score a hair below 0.1 on one side still pairs.
        let mut found: Vec<Peak> = maps.peaks(0.097);
        for &[x1, y1, x2, y2, score, class] in &expected.detections {
            let class = class as usize;
            let at = found.iter().position(|p| {
                p.class == class
                    && (p.score - score).abs() < 3e-3
                    && p.sides.iter().zip([x1, y1, x2, y2]).all(|(ours, theirs)| (ours - theirs).abs() < 1.0)
            });
            let Some(at) = at else {
                panic!("{name}: TF.js finds a {} ({score:.3}) at {:?}; ours: {found:?}", COCO_CLASSES[class], [x1, y1, x2, y2])
            };
            found.remove(at);
        }
        assert!(found.iter().all(|p| p.score < 0.103), "{name}: found only by us: {found:?}");
    }
}

/// Cat top left, cup top right, a person in each bottom quarter.
const MOSAIC_QUARTERS: [(&str, usize); 4] = [("cat", 0), ("cup", 1), ("person", 2), ("person", 3)];

#[test]
fn the_mosaic_is_named_and_placed() {
    let (_, mosaic) = inputs().pop().unwrap();
    let peaks = detector().maps(mosaic).unwrap().peaks(0.3);
    let quarter = |p: &Peak| {
        let (x, y) = ((p.sides[0] + p.sides[2]) / 2.0, (p.sides[1] + p.sides[3]) / 2.0);
        (x >= DETECTOR_INPUT as f32 / 2.0) as usize + 2 * (y >= DETECTOR_INPUT as f32 / 2.0) as usize
    };
    let named: Vec<(&str, usize)> = peaks.iter().map(|p| (COCO_CLASSES[p.class], quarter(p))).collect();
    for expected in MOSAIC_QUARTERS {
        assert!(named.contains(&expected), "{expected:?} not in {named:?}");
    }
}

#[test]
fn a_smaller_input_still_finds_the_mosaic_and_boxes_come_back_in_frame_fractions() {
    let (_, mosaic) = inputs().pop().unwrap();
    let size = DETECTOR_INPUT as u32;
    let frame = image::RgbImage::from_raw(size, size, mosaic.iter().map(|&v| v as u8).collect()).unwrap();
    let found = detector().with_input_size(448).unwrap().detect(&frame, 0.25).unwrap();
    let named: Vec<(&str, usize)> = found
        .iter()
        .map(|d| {
            let (x, y) = (d.bounds.x + d.bounds.width / 2.0, d.bounds.y + d.bounds.height / 2.0);
            (d.label(), (x >= 0.5) as usize + 2 * (y >= 0.5) as usize)
        })
        .collect();
    for expected in MOSAIC_QUARTERS {
        assert!(named.contains(&expected), "{expected:?} not in {named:?}");
    }
    assert!(detector().with_input_size(450).is_err(), "not a multiple of 32");
}
