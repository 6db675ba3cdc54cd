//! From a camera frame to the network's input: crop a region, scale it to 224×224, and map
//! pixel values to (x - 127) / 128, EfficientNet-Lite's input range.

use candle_core::{Device, Tensor};
use image::imageops::{self, FilterType};
use image::RgbImage;
use thiserror::Error;

use crate::efficientnet::INPUT_SIZE;

/// A rectangle in frame coordinates normalised to 0..1, so one camera config fits any
/// resolution the camera delivers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalisedBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl NormalisedBox {
    pub const WHOLE: NormalisedBox = NormalisedBox { x: 0.0, y: 0.0, width: 1.0, height: 1.0 };

    /// Whether the box lies inside the frame and has an area.
    pub fn is_valid(&self) -> bool {
        let inside = |start: f32, length: f32| start >= 0.0 && length > 0.0 && start + length <= 1.0 + 1e-6;
        inside(self.x, self.width) && inside(self.y, self.height)
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum PreprocessError {
    #[error("the frame is empty ({width}x{height})")]
    EmptyFrame { width: u32, height: u32 },
    #[error("region {region:?} is not inside the frame (x, y, width and height are fractions of the frame, 0 to 1)")]
    RegionOutside { region: NormalisedBox },
    #[error("region {region:?} is under 8 pixels on a side in a {width}x{height} frame")]
    RegionTooSmall { region: NormalisedBox, width: u32, height: u32 },
}

/// The pixels of `region`, scaled (not letterboxed: every pixel of the region counts) to the
/// network's input, normalised, channels last.
pub fn input_for(frame: &RgbImage, region: &NormalisedBox) -> Result<Vec<f32>, PreprocessError> {
    let crop = crop(frame, region)?;
    let size = INPUT_SIZE as u32;
    let scaled = if crop.dimensions() == (size, size) { crop } else { imageops::resize(&crop, size, size, FilterType::Triangle) };
    Ok(scaled.into_raw().into_iter().map(|v| (f32::from(v) - 127.0) / 128.0).collect())
}

/// The pixels of `region` of the frame, checked: an empty frame, a region outside it or one
/// too small to see anything in is an error.
pub fn crop(frame: &RgbImage, region: &NormalisedBox) -> Result<RgbImage, PreprocessError> {
    let (width, height) = frame.dimensions();
    if width == 0 || height == 0 {
        return Err(PreprocessError::EmptyFrame { width, height });
    }
    if !region.is_valid() {
        return Err(PreprocessError::RegionOutside { region: *region });
    }
    let x = (region.x * width as f32).round() as u32;
    let y = (region.y * height as f32).round() as u32;
    let w = ((region.width * width as f32).round() as u32).min(width - x.min(width));
    let h = ((region.height * height as f32).round() as u32).min(height - y.min(height));
    if w < 8 || h < 8 {
        return Err(PreprocessError::RegionTooSmall { region: *region, width, height });
    }
    Ok(imageops::crop_imm(frame, x, y, w, h).to_image())
}

/// Stacks inputs from [`input_for`] into one `[batch, 224, 224, 3]` tensor.
pub fn batch(inputs: Vec<Vec<f32>>) -> candle_core::Result<Tensor> {
    let count = inputs.len();
    Tensor::from_vec(inputs.concat(), (count, INPUT_SIZE, INPUT_SIZE, 3), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 127]))
    }

    #[test]
    fn a_224_square_is_only_normalised() {
        let input = input_for(&frame(224, 224), &NormalisedBox::WHOLE).unwrap();
        assert_eq!(input.len(), 224 * 224 * 3);
        // Pixel (x=10, y=0): red 10, green 0, blue 127.
        assert_eq!(&input[30..33], &[(10.0 - 127.0) / 128.0, -127.0 / 128.0, 0.0]);
    }

    #[test]
    fn a_region_is_cut_from_where_it_says() {
        let right_half = NormalisedBox { x: 0.5, y: 0.0, width: 0.5, height: 1.0 };
        let input = input_for(&frame(448, 224), &right_half).unwrap();
        // The first column of the right half has red = 224 (x = 224).
        assert!((input[0] * 128.0 + 127.0 - 224.0).abs() < 2.0, "{}", input[0] * 128.0 + 127.0);
    }

    #[test]
    fn bad_frames_and_regions_are_refused() {
        assert_eq!(input_for(&RgbImage::new(0, 0), &NormalisedBox::WHOLE), Err(PreprocessError::EmptyFrame { width: 0, height: 0 }));
        let outside = NormalisedBox { x: 0.8, y: 0.0, width: 0.5, height: 1.0 };
        assert_eq!(input_for(&frame(100, 100), &outside), Err(PreprocessError::RegionOutside { region: outside }));
        let tiny = NormalisedBox { x: 0.0, y: 0.0, width: 0.01, height: 0.5 };
        assert!(matches!(input_for(&frame(100, 100), &tiny), Err(PreprocessError::RegionTooSmall { .. })));
    }
}
