//! One frame from a V4L2 device. The device is opened, set to a format Cabin can decode, read
//! once and closed: a cabin question needs one frame, and holding the camera would keep it
//! from the driver-monitoring system or a video call.

use std::io;
use std::path::Path;

use image::RgbImage;
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use crate::CameraError;

/// Buffers for the stream; the first frames after opening are often dark while exposure
/// settles, so a few are skipped.
const BUFFERS: u32 = 4;
const SKIP_FRAMES: usize = 3;

pub fn capture(path: &Path) -> Result<RgbImage, CameraError> {
    let error = |e: io::Error| match e.raw_os_error() {
        Some(2) | Some(19) => CameraError::Missing { device: path.to_owned() },
        Some(16) => CameraError::Busy { device: path.to_owned() },
        _ => CameraError::Device { device: path.to_owned(), message: e.to_string() },
    };
    if !path.exists() {
        return Err(CameraError::Missing { device: path.to_owned() });
    }
    let device = Device::with_path(path).map_err(error)?;
    let offered = device.enum_formats().map_err(error)?;
    let preferred = [FourCC::new(b"MJPG"), FourCC::new(b"YUYV")];
    let Some(fourcc) = preferred.into_iter().find(|f| offered.iter().any(|o| o.fourcc == *f)) else {
        let offered = offered.iter().map(|o| o.fourcc.to_string()).collect::<Vec<_>>().join(", ");
        return Err(CameraError::Format { device: path.to_owned(), offered });
    };
    let mut format = device.format().map_err(error)?;
    format.fourcc = fourcc;
    let format = device.set_format(&format).map_err(error)?;
    let mut stream = Stream::with_buffers(&device, Type::VideoCapture, BUFFERS).map_err(error)?;
    stream.set_timeout(std::time::Duration::from_secs(2));
    for _ in 0..SKIP_FRAMES {
        stream.next().map_err(error)?;
    }
    let (data, meta) = stream.next().map_err(error)?;
    let data = &data[..(meta.bytesused as usize).min(data.len())];
    let bad = |message: String| CameraError::Device { device: path.to_owned(), message };
    if format.fourcc == FourCC::new(b"MJPG") {
        crate::decode(data).map_err(|e| bad(format!("undecodable MJPEG frame: {e}")))
    } else {
        yuyv_to_rgb(data, format.width, format.height, format.stride).ok_or_else(|| bad(format!("short YUYV frame: {} bytes", data.len())))
    }
}

/// YUYV 4:2:2 (two pixels share U and V) to RGB, BT.601 limited range as webcams send it.
fn yuyv_to_rgb(data: &[u8], width: u32, height: u32, stride: u32) -> Option<RgbImage> {
    let stride = (stride.max(width * 2)) as usize;
    if data.len() < stride * (height as usize).saturating_sub(1) + width as usize * 2 {
        return None;
    }
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for row in 0..height as usize {
        let line = &data[row * stride..row * stride + width as usize * 2];
        for pair in line.chunks_exact(4) {
            let (y0, u, y1, v) = (pair[0], pair[1], pair[2], pair[3]);
            for y in [y0, y1] {
                let c = 1.164 * (f32::from(y) - 16.0);
                let (d, e) = (f32::from(u) - 128.0, f32::from(v) - 128.0);
                rgb.push((c + 1.596 * e).clamp(0.0, 255.0) as u8);
                rgb.push((c - 0.392 * d - 0.813 * e).clamp(0.0, 255.0) as u8);
                rgb.push((c + 2.017 * d).clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbImage::from_raw(width, height, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_and_red_decode_to_rgb() {
        // Two pixels: mid grey (Y 126, U = V = 128), then the same with strong V (red).
        let grey = yuyv_to_rgb(&[126, 128, 126, 128], 2, 1, 4).unwrap();
        assert!(grey.pixels().all(|p| p.0.iter().all(|&c| (127..=129).contains(&c))), "{grey:?}");
        let red = yuyv_to_rgb(&[82, 90, 82, 240], 2, 1, 4).unwrap();
        let pixel = red.get_pixel(0, 0).0;
        assert!(pixel[0] > 200 && pixel[1] < 60 && pixel[2] < 60, "{pixel:?}");
        assert!(yuyv_to_rgb(&[1, 2, 3], 2, 1, 4).is_none());
    }
}
