//! Faces blurred before a frame leaves the car. The detector finds people, not faces; a person
//! seen by a cabin camera sits upright, so the face is in the top half of the person's box,
//! and all of that half is blurred, a little wider than the box, so nobody in it can be
//! recognised (a Gaussian blur whose radius is a sixth of the area's width).

use cabin_vision_model::NormalisedBox;
use image::{imageops, RgbImage};

/// Share of a person's box, from its top, that holds the head.
const HEAD: f32 = 0.5;
/// Margin added on each side of the head, as a share of the box's width.
const MARGIN: f32 = 0.1;

/// Blurs the head of each person in `people` (boxes as fractions of `image`).
pub fn blur_faces(image: &mut RgbImage, people: &[NormalisedBox]) {
    let (width, height) = (image.width() as f32, image.height() as f32);
    for person in people {
        let left = ((person.x - person.width * MARGIN) * width).max(0.0) as u32;
        let right = ((person.x + person.width * (1.0 + MARGIN)) * width).min(width) as u32;
        let top = (person.y * height).max(0.0) as u32;
        let bottom = ((person.y + person.height * HEAD) * height).min(height) as u32;
        if right <= left || bottom <= top {
            continue;
        }
        let head = imageops::crop_imm(image, left, top, right - left, bottom - top).to_image();
        let sigma = ((right - left).max(bottom - top) as f32 / 6.0).max(4.0);
        imageops::replace(image, &imageops::blur(&head, sigma), i64::from(left), i64::from(top));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How much neighbouring pixels differ, on average, in a rectangle: detail a face needs.
    fn detail(image: &RgbImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> f64 {
        let (mut sum, mut count) = (0.0, 0.0);
        for y in y {
            for x in x.clone() {
                let (a, b) = (image.get_pixel(x, y)[0] as f64, image.get_pixel(x + 1, y)[0] as f64);
                sum += (a - b).abs();
                count += 1.0;
            }
        }
        sum / count
    }

    #[test]
    fn the_top_half_of_each_person_is_blurred_and_nothing_else() {
        let checks = RgbImage::from_fn(200, 200, |x, y| if (x / 2 + y / 2) % 2 == 0 { image::Rgb([255; 3]) } else { image::Rgb([0; 3]) });
        let mut blurred = checks.clone();
        blur_faces(&mut blurred, &[NormalisedBox { x: 0.25, y: 0.1, width: 0.5, height: 0.8 }]);
        let face = (60..140, 25..95);
        assert!(detail(&checks, face.0.clone(), face.1.clone()) > 100.0);
        assert!(detail(&blurred, face.0, face.1) < 5.0, "the face keeps its detail");
        // Below the head and beside the person, the frame is as it was.
        for (x, y) in [(100, 120), (100, 190), (5, 50), (190, 50)] {
            assert_eq!(blurred.get_pixel(x, y), checks.get_pixel(x, y), "({x}, {y}) changed");
        }
    }

    #[test]
    fn a_person_partly_out_of_the_frame_is_blurred_where_seen() {
        let mut image = RgbImage::from_fn(100, 100, |x, _| image::Rgb([if x % 2 == 0 { 255 } else { 0 }; 3]));
        blur_faces(&mut image, &[NormalisedBox { x: 0.8, y: -0.2, width: 0.5, height: 0.9 }]);
        assert!(detail(&image, 80..98, 0..20) < 5.0);
        blur_faces(&mut image, &[NormalisedBox { x: 0.5, y: 0.5, width: 0.0, height: 0.0 }]);
    }
}
