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

/// A demo cabin for a machine without a camera: a cup on the rear left seat and a cat on the
/// passenger seat (public-domain photos, scikit-image's `coffee.png` and `chelsea.png`, built
/// in), or on the first two regions of a config that names its seats otherwise. Returns the
/// frame and what it shows, in words.
pub fn demo_cabin(regions: &[Region]) -> (RgbImage, String) {
    const CUP: &[u8] = include_bytes!("../../model/tests/data/coffee.png");
    const CAT: &[u8] = include_bytes!("../../model/tests/data/chelsea.png");
    let mut frame = empty_cabin();
    let mut shown = Vec::new();
    for (index, (thing, seat, photo)) in [("a cup", "rear_left", CUP), ("a cat", "passenger", CAT)].into_iter().enumerate() {
        let Some(region) = regions.iter().find(|r| r.name == seat).or_else(|| regions.get(index)) else { continue };
        let photo = image::load_from_memory(photo).expect("the demo photos are built in and checked by the tests").to_rgb8();
        place(&mut frame, region, &photo, 0.8);
        shown.push(format!("{thing} on the {} seat", region.name.replace('_', " ")));
    }
    (frame, shown.join(" and "))
}
