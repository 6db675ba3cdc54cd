//! The object detector: MobileNetV3 + CenterNet trained on COCO (80 classes), run once per
//! frame. Its TensorFlow.js graph (`cabin models fetch centernet`) is compiled into candle
//! steps at load time (`network.rs`), up to the two maps the network ends in: a heatmap of
//! object centres per class at a quarter of the input's resolution, and for each cell the
//! distances from the centre to the box's four sides. A detection is a heatmap cell that is
//! the largest in its 3×3 neighbourhood, as in the graph's own decoding.

mod graph;
mod network;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use image::imageops::{self, FilterType};
use image::RgbImage;
use thiserror::Error;

use graph::Graph;
pub use graph::GraphError;
use network::Network;

use crate::preprocess::NormalisedBox;

/// The installed model and its graph file.
pub const DETECTOR_MODEL: &str = "centernet";
pub const DETECTOR_FILE: &str = "centernet.json";
/// The network was trained on 512×512 RGB images, values 0 to 255; it is convolutional, so
/// it runs on any square input a multiple of 32 on a side (smaller is faster, and sees less).
pub const DETECTOR_INPUT: usize = 512;
/// The output maps are a quarter of the input's size.
const OUTPUT_STRIDE: usize = 4;
/// Detections kept per frame before the score threshold, as in the graph (TopK 100).
const MOST_DETECTIONS: usize = 100;

const INPUT_NODE: &str = "tower_0/images";
const HEATMAP_NODE: &str = "tower_0/keypoints";
const SIDES_NODE: &str = "tower_0/wh";

/// COCO's 80 detection classes in the order the network outputs them.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[derive(Debug, Error)]
pub enum DetectorError {
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("{}: the network ends in {found}, expected {expected}", path.display())]
    Shape { path: PathBuf, found: String, expected: String },
    #[error("the object detector: {0}")]
    Run(#[from] candle_core::Error),
    #[error("the frame is empty ({width}x{height})")]
    EmptyFrame { width: u32, height: u32 },
    #[error("the detector's input must be a multiple of 32 from 64 to 1024 pixels on a side, not {0}")]
    InputSize(usize),
}

/// One thing found in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Index into [`COCO_CLASSES`].
    pub class: usize,
    /// The heatmap's peak, 0 to 1.
    pub score: f32,
    /// Where it is, as fractions of the frame.
    pub bounds: NormalisedBox,
}

impl Detection {
    pub fn label(&self) -> &'static str {
        COCO_CLASSES[self.class]
    }
}

/// A detection in the network's input, before it is mapped back to the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub class: usize,
    pub score: f32,
    /// Left, top, right, bottom in input pixels.
    pub sides: [f32; 4],
}

/// The raw output maps for one input, row-major over the cells (a quarter of the input on a
/// side).
#[derive(Debug, Clone)]
pub struct DetectorMaps {
    /// Cells on a side.
    pub side: usize,
    /// `[cells, 80]`, each a probability.
    pub heatmap: Vec<f32>,
    /// `[cells, 4]`: the distances from the cell to the box's left, top, right and bottom, in
    /// input pixels.
    pub sides: Vec<f32>,
}

#[derive(Debug)]
pub struct Detector {
    network: Network,
    /// Pixels on a side of the square the frame is letterboxed into.
    input_size: usize,
    /// The graph file, for errors.
    path: PathBuf,
}

impl Detector {
    /// Loads the graph (`centernet.json` and its weights) and compiles it.
    pub fn load(path: &Path) -> Result<Detector, DetectorError> {
        let graph = Graph::load(path)?;
        let network = Network::compile(&graph, INPUT_NODE, &[HEATMAP_NODE, SIDES_NODE])?;
        Ok(Detector { network, input_size: DETECTOR_INPUT, path: path.to_owned() })
    }

    /// Runs on `size`×`size` inputs instead of the 512 the network was trained on.
    pub fn with_input_size(mut self, size: usize) -> Result<Detector, DetectorError> {
        if !size.is_multiple_of(32) || !(64..=1024).contains(&size) {
            return Err(DetectorError::InputSize(size));
        }
        self.input_size = size;
        Ok(self)
    }

    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// The output maps for a square input of [`Detector::input_size`], values 0 to 255,
    /// channels last.
    pub fn maps(&self, input: Vec<f32>) -> Result<DetectorMaps, DetectorError> {
        let size = self.input_size;
        let x = Tensor::from_vec(input, (1, size, size, 3), &Device::Cpu)?;
        let outputs = self.network.forward(x)?;
        let side = size / OUTPUT_STRIDE;
        let dims: Vec<_> = outputs.iter().map(|t| t.dims().to_vec()).collect();
        if dims != [vec![1, side, side, COCO_CLASSES.len()], vec![1, side, side, 4]] {
            return Err(DetectorError::Shape {
                path: self.path.clone(),
                found: format!("{dims:?}"),
                expected: format!("a [1, {side}, {side}, {}] heatmap and [1, {side}, {side}, 4] sides", COCO_CLASSES.len()),
            });
        }
        Ok(DetectorMaps { side, heatmap: outputs[0].flatten_all()?.to_vec1()?, sides: outputs[1].flatten_all()?.to_vec1()? })
    }

    /// Everything found in `frame` with a score of at least `min_score`, best first.
    pub fn detect(&self, frame: &RgbImage, min_score: f32) -> Result<Vec<Detection>, DetectorError> {
        let (width, height) = frame.dimensions();
        if width == 0 || height == 0 {
            return Err(DetectorError::EmptyFrame { width, height });
        }
        let (input, letterbox) = letterbox(frame, self.input_size);
        let maps = self.maps(input)?;
        Ok(maps.peaks(min_score).into_iter().filter_map(|peak| letterbox.place_in_frame(peak)).collect())
    }
}

/// How a frame sits in the square input: scaled by `scale`, its top left at `(left, top)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Letterbox {
    scale: f32,
    left: f32,
    top: f32,
    width: f32,
    height: f32,
}

impl Letterbox {
    /// A detection in input pixels, as a box in the frame (clipped to it); `None` when it lies
    /// wholly in the padding.
    fn place_in_frame(&self, Peak { class, score, sides: [x1, y1, x2, y2] }: Peak) -> Option<Detection> {
        let to_x = |x: f32| ((x - self.left) / self.scale / self.width).clamp(0.0, 1.0);
        let to_y = |y: f32| ((y - self.top) / self.scale / self.height).clamp(0.0, 1.0);
        let (left, top, right, bottom) = (to_x(x1), to_y(y1), to_x(x2), to_y(y2));
        (right > left && bottom > top).then_some(Detection {
            class,
            score,
            bounds: NormalisedBox { x: left, y: top, width: right - left, height: bottom - top },
        })
    }
}

/// The frame scaled to fit a `size`×`size` square with its proportions kept, centred on
/// black, as the network was trained.
fn letterbox(frame: &RgbImage, size: usize) -> (Vec<f32>, Letterbox) {
    let (width, height) = frame.dimensions();
    let size = size as u32;
    let scale = size as f32 / width.max(height) as f32;
    let (scaled_width, scaled_height) =
        (((width as f32 * scale).round() as u32).clamp(1, size), ((height as f32 * scale).round() as u32).clamp(1, size));
    let scaled = if (scaled_width, scaled_height) == (width, height) {
        frame.clone()
    } else {
        imageops::resize(frame, scaled_width, scaled_height, FilterType::Triangle)
    };
    let (left, top) = ((size - scaled_width) / 2, (size - scaled_height) / 2);
    let mut canvas = RgbImage::new(size, size);
    imageops::replace(&mut canvas, &scaled, i64::from(left), i64::from(top));
    let input = canvas.into_raw().into_iter().map(f32::from).collect();
    (input, Letterbox { scale, left: left as f32, top: top as f32, width: width as f32, height: height as f32 })
}

impl DetectorMaps {
    /// Peaks of the heatmap (a cell no smaller than any of its eight neighbours in its class)
    /// scoring at least `min_score`, best first, at most 100.
    pub fn peaks(&self, min_score: f32) -> Vec<Peak> {
        let classes = COCO_CLASSES.len();
        let side = self.side;
        let at = |row: usize, column: usize, class: usize| self.heatmap[(row * side + column) * classes + class];
        let mut peaks = Vec::new();
        for row in 0..side {
            for column in 0..side {
                for class in 0..classes {
                    let score = at(row, column, class);
                    if score < min_score {
                        continue;
                    }
                    let mut neighbours = (row.saturating_sub(1)..=(row + 1).min(side - 1))
                        .flat_map(|r| (column.saturating_sub(1)..=(column + 1).min(side - 1)).map(move |c| (r, c)));
                    if neighbours.all(|(r, c)| at(r, c, class) <= score) {
                        let distances = &self.sides[(row * side + column) * 4..][..4];
                        let (x, y) = ((column * OUTPUT_STRIDE) as f32, (row * OUTPUT_STRIDE) as f32);
                        let [left, top, right, bottom] = [0, 1, 2, 3].map(|i| distances[i]);
                        peaks.push(Peak { class, score, sides: [x - left, y - top, x + right, y + bottom] });
                    }
                }
            }
        }
        peaks.sort_by(|a, b| b.score.total_cmp(&a.score));
        peaks.truncate(MOST_DETECTIONS);
        peaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_frame_is_centred_with_bands_above_and_below() {
        let frame = RgbImage::from_pixel(1024, 512, image::Rgb([200, 100, 50]));
        let (input, letterbox) = letterbox(&frame, DETECTOR_INPUT);
        assert_eq!(letterbox, Letterbox { scale: 0.5, left: 0.0, top: 128.0, width: 1024.0, height: 512.0 });
        let pixel = |x: usize, y: usize| &input[(y * DETECTOR_INPUT + x) * 3..][..3];
        assert_eq!(pixel(10, 10), &[0.0, 0.0, 0.0]);
        assert_eq!(pixel(10, 256), &[200.0, 100.0, 50.0]);
        // A box over the picture's middle half maps back to the frame's middle half.
        let found = letterbox.place_in_frame(Peak { class: 16, score: 0.9, sides: [128.0, 192.0, 384.0, 320.0] }).unwrap();
        assert_eq!(found.bounds, NormalisedBox { x: 0.25, y: 0.25, width: 0.5, height: 0.5 });
        assert_eq!(found.label(), "dog");
        assert!(
            letterbox.place_in_frame(Peak { class: 0, score: 0.9, sides: [0.0, 0.0, 100.0, 100.0] }).is_none(),
            "all in the band above"
        );
    }

    #[test]
    fn only_peaks_are_detections_and_their_sides_make_the_box() {
        let side = DETECTOR_INPUT / OUTPUT_STRIDE;
        let cells = side * side;
        let mut maps = DetectorMaps { side, heatmap: vec![0.0; cells * 80], sides: vec![0.0; cells * 4] };
        // A dog centred on cell (row 10, column 20), with a weaker neighbour that is no peak.
        maps.heatmap[(10 * side + 20) * 80 + 16] = 0.8;
        maps.heatmap[(10 * side + 21) * 80 + 16] = 0.6;
        maps.sides[(10 * side + 20) * 4..][..4].copy_from_slice(&[16.0, 32.0, 48.0, 64.0]);
        // A cup elsewhere, too faint.
        maps.heatmap[(50 * side + 50) * 80 + 41] = 0.2;
        assert_eq!(maps.peaks(0.3), vec![Peak { class: 16, score: 0.8, sides: [80.0 - 16.0, 40.0 - 32.0, 80.0 + 48.0, 40.0 + 64.0] }]);
    }
}
