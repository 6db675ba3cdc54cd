//! Cabin frames composed from photos, for tests, the benchmark and the accuracy set: no photo
//! of a real car cabin with a labelled object on a seat ships in any package, so photos of
//! objects are placed on seat regions of a plain cabin whose fabric has a little texture.
//! What is where is known by construction.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::config::Region;

pub const FRAME_WIDTH: u32 = 960;
pub const FRAME_HEIGHT: u32 = 540;

/// An empty cabin: dark seat fabric with a woven grain.
pub fn empty_cabin() -> RgbImage {
    RgbImage::from_fn(FRAME_WIDTH, FRAME_HEIGHT, |x, y| {
        let grain = ((x * 7 + y * 13) % 17) as u8;
        Rgb([38 + grain, 36 + grain, 40 + grain])
    })
}

/// Places `photo` at the centre of `region`, as a square `scale` of the region's height.
pub fn place(frame: &mut RgbImage, region: &Region, photo: &RgbImage, scale: f32) {
    let (width, height) = frame.dimensions();
    let bounds = region.bounds;
    let side = ((bounds.height * height as f32 * scale) as u32).max(8);
    let scaled = imageops::resize(photo, side, side, FilterType::Triangle);
    let x = ((bounds.x + bounds.width / 2.0) * width as f32) as i64 - i64::from(side / 2);
    let y = ((bounds.y + bounds.height / 2.0) * height as f32) as i64 - i64::from(side / 2);
    imageops::overlay(frame, &scaled, x, y);
}

/// The centre square of a photo, so an object photo is not squashed when placed.
pub fn centre_square(photo: &RgbImage) -> RgbImage {
    let side = photo.width().min(photo.height());
    imageops::crop_imm(photo, (photo.width() - side) / 2, (photo.height() - side) / 2, side, side).to_image()
}
