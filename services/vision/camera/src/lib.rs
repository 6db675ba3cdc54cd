//! Frames from the cabin camera. Three sources behind one [`Camera`]:
//!
//! - a V4L2 device (`/dev/video0`), in the format it offers: MJPEG or YUYV;
//! - a still image (for `cabin look IMAGE` and demos);
//! - a folder of frames, taken in name order, one per request, then the last one again (for
//!   tests and replays of a recorded drive).
//!
//! Every failure names the device or file: a missing or busy camera, a corrupt or truncated
//! image, an empty frame. The camera is opened per capture, so a camera that comes back
//! (replugged, released by another process) works on the next request without a restart.

mod device;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use image::RgbImage;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CameraError {
    #[error("camera {}: no such device (is the camera connected?)", device.display())]
    Missing { device: PathBuf },
    #[error("camera {}: busy (another program is using it)", device.display())]
    Busy { device: PathBuf },
    #[error("camera {}: {message}", device.display())]
    Device { device: PathBuf, message: String },
    #[error("camera {}: offers none of the formats Cabin reads (MJPG, YUYV); it offers {offered}", device.display())]
    Format { device: PathBuf, offered: String },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{}: not a readable image: {message}", path.display())]
    Image { path: PathBuf, message: String },
    #[error("{}: the frame is empty ({width}x{height})", source_name)]
    Empty { source_name: String, width: u32, height: u32 },
    #[error("{}: holds no .jpg or .png frames", dir.display())]
    NoFrames { dir: PathBuf },
}

impl CameraError {
    /// Whether trying again later may work (a camera that is busy or not there yet), as
    /// opposed to bad data that will stay bad.
    pub fn is_transient(&self) -> bool {
        matches!(self, CameraError::Missing { .. } | CameraError::Busy { .. } | CameraError::Device { .. })
    }
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: RgbImage,
    pub captured: SystemTime,
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSource {
    Device(PathBuf),
    Still(PathBuf),
    Folder(PathBuf),
}

impl CameraSource {
    /// A path as people give it: a `/dev/video*` device, a folder, or an image file.
    pub fn from_path(path: &Path) -> CameraSource {
        if path.starts_with("/dev") {
            CameraSource::Device(path.to_owned())
        } else if path.is_dir() {
            CameraSource::Folder(path.to_owned())
        } else {
            CameraSource::Still(path.to_owned())
        }
    }
}

#[derive(Debug)]
pub struct Camera {
    source: CameraSource,
    /// The next frame of a folder.
    next_frame: usize,
}

impl Camera {
    pub fn new(source: CameraSource) -> Camera {
        Camera { source, next_frame: 0 }
    }

    pub fn source(&self) -> &CameraSource {
        &self.source
    }

    /// Takes a frame now.
    pub fn capture(&mut self) -> Result<Frame, CameraError> {
        let (image, name) = match &self.source {
            CameraSource::Device(device) => (device::capture(device)?, device.display().to_string()),
            CameraSource::Still(path) => (read_image(path)?, path.display().to_string()),
            CameraSource::Folder(dir) => {
                let frames = folder_frames(dir)?;
                let path = &frames[self.next_frame.min(frames.len() - 1)];
                self.next_frame += 1;
                (read_image(path)?, path.display().to_string())
            }
        };
        if image.width() == 0 || image.height() == 0 {
            return Err(CameraError::Empty { source_name: name, width: image.width(), height: image.height() });
        }
        Ok(Frame { image, captured: SystemTime::now() })
    }
}

/// Decodes a JPEG or PNG file; the error says which file and what is wrong with it.
pub fn read_image(path: &Path) -> Result<RgbImage, CameraError> {
    let bytes = std::fs::read(path).map_err(|e| CameraError::File { path: path.to_owned(), message: e.to_string() })?;
    decode(&bytes).map_err(|error| CameraError::Image { path: path.to_owned(), message: error.to_string() })
}

/// Why bytes are no picture.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("the file is empty")]
    Empty,
    #[error("the JPEG is cut short ({0} bytes, no end-of-image marker)")]
    CutShort(usize),
    #[error("{0}")]
    Undecodable(#[from] image::ImageError),
}

/// Decodes JPEG or PNG bytes to RGB.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.starts_with(&[0xff, 0xd8]) && !jpeg_is_whole(bytes) {
        return Err(DecodeError::CutShort(bytes.len()));
    }
    Ok(image::load_from_memory(bytes)?.to_rgb8())
}

/// Whether a JPEG ends in its end-of-image marker (FF D9), padding zeros aside. The decoder
/// fills a missing tail with grey without a word, and grey seats are no evidence of anything.
/// Inside the compressed data FF is always followed by 00 or a restart marker, so FF D9 at the
/// end is the end.
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    bytes[..end].ends_with(&[0xff, 0xd9])
}

fn folder_frames(dir: &Path) -> Result<Vec<PathBuf>, CameraError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CameraError::File { path: dir.to_owned(), message: e.to_string() })?;
    let mut frames: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    frames.sort();
    if frames.is_empty() {
        return Err(CameraError::NoFrames { dir: dir.to_owned() });
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, width: u32, height: u32, shade: u8) {
        RgbImage::from_pixel(width, height, image::Rgb([shade, shade, shade])).save(path).unwrap();
    }

    #[test]
    fn a_folder_plays_its_frames_in_name_order_then_holds_the_last() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("002.png"), 4, 4, 20);
        write_png(&dir.path().join("001.png"), 4, 4, 10);
        std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
        let mut camera = Camera::new(CameraSource::from_path(dir.path()));
        let shades: Vec<u8> = (0..3).map(|_| camera.capture().unwrap().image.get_pixel(0, 0)[0]).collect();
        assert_eq!(shades, [10, 20, 20]);
    }

    #[test]
    fn corrupt_truncated_and_missing_images_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.png");
        write_png(&good, 32, 32, 50);
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.png");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let corrupt = dir.path().join("corrupt.jpg");
        std::fs::write(&corrupt, b"\xff\xd8\xff\xe0 this is no jpeg").unwrap();
        let empty = dir.path().join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        for path in [&truncated, &corrupt, &empty] {
            let error = Camera::new(CameraSource::Still(path.clone())).capture().unwrap_err();
            assert!(matches!(error, CameraError::Image { .. }), "{error}");
            assert!(error.to_string().contains(path.to_str().unwrap()), "{error}");
            assert!(!error.is_transient());
        }
        let missing = Camera::new(CameraSource::Still(dir.path().join("gone.png"))).capture().unwrap_err();
        assert!(missing.to_string().contains("gone.png"), "{missing}");
    }

    #[test]
    fn a_jpeg_cut_short_is_an_error_not_a_grey_picture() {
        let photo = RgbImage::from_fn(256, 192, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&photo).unwrap();
        assert!(decode(&jpeg).is_ok());
        // Trailing zeros after the end marker are how some cameras pad a frame: still whole.
        let padded = [jpeg.as_slice(), &[0; 64]].concat();
        assert!(decode(&padded).is_ok());
        for cut in [jpeg.len() / 10, jpeg.len() / 2, jpeg.len() - 2] {
            let error = decode(&jpeg[..cut]).unwrap_err();
            assert!(matches!(error, DecodeError::CutShort(_)), "{cut} of {} bytes: {error}", jpeg.len());
        }
    }

    #[test]
    fn an_empty_folder_and_a_missing_device_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let error = Camera::new(CameraSource::Folder(dir.path().to_owned())).capture().unwrap_err();
        assert!(matches!(error, CameraError::NoFrames { .. }), "{error}");
        let device = Path::new("/dev/video-cabin-test-absent");
        let error = Camera::new(CameraSource::from_path(device)).capture().unwrap_err();
        assert!(matches!(error, CameraError::Missing { .. }), "{error}");
        assert!(error.is_transient());
        assert!(error.to_string().contains("/dev/video-cabin-test-absent"), "{error}");
    }
}
