//! `org.cabin.Vision1` on D-Bus: Find(object, region), Describe(region) and Snapshot(region). Errors become
//! D-Bus errors only here, each with a name a caller can act on.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use cabin_camera::{Camera, CameraError, Frame};
use cabin_heap_release::release_freed_memory;
use cabin_vision_model::{crop, Detection, DetectorError, NormalisedBox};

use crate::config::Policy;
use crate::faces::blur_faces;
use crate::finder::{FindError, Finder, Finding};

pub use cabin_vision_client::{VisionError, BUS_NAME, OBJECT_PATH};
/// A camera that is missing or busy is tried this often, this far apart, within one request.
const CAMERA_ATTEMPTS: u32 = 3;
const CAMERA_RETRY: Duration = Duration::from_millis(300);

impl From<FindError> for VisionError {
    fn from(error: FindError) -> Self {
        let message = error.to_string();
        match error {
            FindError::UnknownObject { .. } => VisionError::UnknownObject(message),
            FindError::UnknownRegion { .. } => VisionError::UnknownRegion(message),
            FindError::Frame(_) => VisionError::BadFrame(message),
            FindError::Detector(DetectorError::EmptyFrame { .. }) => VisionError::BadFrame(message),
            FindError::Model(_) | FindError::Detector(_) | FindError::NoDetector => VisionError::Failed(message),
        }
    }
}

/// A camera that is missing or busy is unavailable; a frame it gave that cannot be used is bad.
fn camera_error(error: CameraError) -> VisionError {
    if error.is_transient() {
        VisionError::CameraUnavailable(error.to_string())
    } else {
        VisionError::BadFrame(error.to_string())
    }
}

/// The vision service: one camera, one finder, the owner's policy.
#[derive(Debug, Clone)]
pub struct Vision {
    camera: Arc<Mutex<Camera>>,
    finder: Arc<Finder>,
    policy: Policy,
}

impl Vision {
    pub fn new(camera: Camera, finder: Finder, policy: Policy) -> Vision {
        Vision { camera: Arc::new(Mutex::new(camera)), finder: Arc::new(finder), policy }
    }

    /// A frame now; a missing or busy camera is retried a few times before giving up.
    async fn capture(&self) -> Result<Frame, CameraError> {
        let mut attempt = 1;
        loop {
            let camera = self.camera.clone();
            let result = tokio::task::spawn_blocking(move || camera.lock().unwrap_or_else(|e| e.into_inner()).capture())
                .await
                .unwrap_or_else(|e| Err(CameraError::Device { device: "camera".into(), message: e.to_string() }));
            match result {
                Err(error) if error.is_transient() && attempt < CAMERA_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "camera not ready; trying again");
                    tokio::time::sleep(CAMERA_RETRY).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Takes a frame and looks for `object` in it.
    pub async fn find(&self, object: &str, region: Option<&str>) -> Result<Finding, VisionError> {
        // Words first: an unknown object or region needs no frame. An unlisted word runs the
        // sentence encoder: CPU work, on a blocking thread.
        let (finder, words) = (self.finder.clone(), (object.to_string(), region.map(str::to_string)));
        tokio::task::spawn_blocking(move || finder.understand(&words.0, words.1.as_deref()).map(drop))
            .await
            .map_err(|e| VisionError::Failed(e.to_string()))??;
        let frame = self.capture().await.map_err(|error| {
            tracing::warn!(%error, "no frame");
            camera_error(error)
        })?;
        let finder = self.finder.clone();
        let (object, region) = (object.to_string(), region.map(str::to_string));
        let finding = tokio::task::spawn_blocking(move || {
            let finding = finder.find(&frame, &object, region.as_deref());
            // The frame's tensors, freed, would otherwise stay resident.
            release_freed_memory();
            finding
        })
        .await
        .map_err(|e| VisionError::Failed(e.to_string()))??;
        tracing::info!(
            object = %finding.object.word, found = finding.found, confidence = finding.confidence, region = %finding.region,
            seen = ?finding.labels_seen, "looked"
        );
        Ok(finding)
    }

    /// What is in the car (or in `region`, a seat or a group such as "rear"), from a frame
    /// taken now: each thing's label, region and score.
    pub async fn describe(&self, region: Option<&str>) -> Result<Vec<(Detection, String)>, VisionError> {
        self.finder.regions_named(region)?;
        let frame = self.capture().await.map_err(camera_error)?;
        let finder = self.finder.clone();
        let region = region.map(str::to_string);
        let seen = tokio::task::spawn_blocking(move || {
            let seen = finder.describe(&frame, region.as_deref());
            release_freed_memory();
            seen
        })
        .await
        .map_err(|e| VisionError::Failed(e.to_string()))??;
        tracing::info!(seen = ?seen.iter().map(|(d, r)| format!("{} at {r}", d.label())).collect::<Vec<_>>(), "described");
        Ok(seen)
    }

    /// A JPEG of one region (or the whole frame), only when the owner lets frames leave the car.
    /// It goes to the owner's own phone, so faces stay as they are.
    pub async fn snapshot(&self, region: Option<&str>) -> Result<Vec<u8>, VisionError> {
        self.frames_may_leave()?;
        let bounds = match region.filter(|r| !r.is_empty()) {
            None => NormalisedBox::WHOLE,
            Some(name) => self.finder.region(name)?.bounds,
        };
        let frame = self.capture().await.map_err(camera_error)?;
        jpeg_of(&frame.image, &bounds)
    }

    /// A JPEG of each seat in `region` (a seat, a group such as "rear", or every seat), for a
    /// vision-language model outside the car: only when the owner lets frames leave the car,
    /// and with every face the detector finds blurred first. Without the detector no face can
    /// be found, so nothing leaves.
    pub async fn seat_crops(&self, region: Option<&str>) -> Result<Vec<(String, Vec<u8>)>, VisionError> {
        self.frames_may_leave()?;
        let regions = self.finder.regions_named(region)?;
        let frame = self.capture().await.map_err(camera_error)?;
        let finder = self.finder.clone();
        let crops = tokio::task::spawn_blocking(move || -> Result<Vec<(String, Vec<u8>)>, VisionError> {
            let mut image = frame.image;
            let people = finder.people(&image).map_err(|e| match e {
                FindError::NoDetector => VisionError::NotAllowed(format!("{e}: without it no face can be blurred")),
                e => VisionError::from(e),
            })?;
            blur_faces(&mut image, &people);
            tracing::info!(people = people.len(), seats = regions.len(), "seat crops with faces blurred");
            regions.iter().map(|region| Ok((region.name.clone(), jpeg_of(&image, &region.bounds)?))).collect()
        })
        .await
        .map_err(|e| VisionError::Failed(e.to_string()))??;
        Ok(crops)
    }

    fn frames_may_leave(&self) -> Result<(), VisionError> {
        if self.policy.frames_leave_car {
            Ok(())
        } else {
            Err(VisionError::NotAllowed("the owner's policy keeps camera frames in the car".into()))
        }
    }
}

fn jpeg_of(image: &image::RgbImage, bounds: &NormalisedBox) -> Result<Vec<u8>, VisionError> {
    let crop = crop(image, bounds).map_err(|e| VisionError::BadFrame(e.to_string()))?;
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&crop)
        .map_err(|e| VisionError::Failed(e.to_string()))?;
    Ok(jpeg)
}

struct VisionInterface(Vision);

// Its callers' proxy is `cabin-vision-client`'s, which tests/vision.rs holds to this interface.
#[zbus::interface(name = "org.cabin.Vision1")]
impl VisionInterface {
    /// Is `object` in the car (in `region`, or anywhere when empty)? Returns found, confidence
    /// (0 to 1), the region with the best evidence ("" for the car as a whole), the labels
    /// seen, and when the frame was taken (µs since the epoch).
    async fn find(&self, object: &str, region: &str) -> Result<(bool, f64, String, Vec<String>, u64), VisionError> {
        let finding = self.0.find(object, Some(region)).await?;
        let micros = finding.frame_time.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default();
        Ok((finding.found, f64::from(finding.confidence), finding.region, finding.labels_seen, micros))
    }

    /// What the camera sees in `region` ("" for the whole car; a seat, or a group such as
    /// "rear"): (label, region, score) for each kind of thing per region, best first; the
    /// region is "" for a thing on no one seat.
    async fn describe(&self, region: &str) -> Result<Vec<(String, String, f64)>, VisionError> {
        let seen = self.0.describe(Some(region)).await?;
        Ok(seen.into_iter().map(|(d, region)| (d.label().to_string(), region, f64::from(d.score))).collect())
    }

    /// A JPEG of `region` ("" for the whole frame), only when the owner's policy allows.
    async fn snapshot(&self, region: &str) -> Result<Vec<u8>, VisionError> {
        self.0.snapshot(Some(region)).await
    }

    /// (seat, JPEG) for each seat in `region` ("" for every seat), faces blurred, only when
    /// the owner's policy allows.
    async fn seat_crops(&self, region: &str) -> Result<Vec<(String, Vec<u8>)>, VisionError> {
        self.0.seat_crops(Some(region)).await
    }
}

/// Serves `vision` as org.cabin.Vision1 on `connection`.
pub async fn serve(vision: Vision, connection: &zbus::Connection) -> zbus::Result<()> {
    connection.object_server().at(OBJECT_PATH, VisionInterface(vision)).await?;
    connection.request_name_with_flags(BUS_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await?;
    Ok(())
}
