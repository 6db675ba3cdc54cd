//! A typed client of the vision service, `org.cabin.Vision1`: what the assistant and the phone
//! link need to ask the camera, without depending on the service. The errors are the service's
//! own: it answers with [`VisionError`], and the proxy turns a reply's error name back into the
//! same variant, so a caller can tell "no such word" from "no camera".

pub const BUS_NAME: &str = "org.cabin.Vision1";
pub const OBJECT_PATH: &str = "/org/cabin/Vision1";

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.cabin.Vision1.Error")]
pub enum VisionError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The word matches no class the detector or the classifier knows.
    UnknownObject(String),
    UnknownRegion(String),
    /// No frame: the camera is missing, busy, or broken.
    CameraUnavailable(String),
    /// A frame came but cannot be used (corrupt, empty, wrong size for a region).
    BadFrame(String),
    /// The owner's policy keeps frames in the car.
    NotAllowed(String),
    Failed(String),
}

#[zbus::proxy(
    interface = "org.cabin.Vision1",
    default_service = "org.cabin.Vision1",
    default_path = "/org/cabin/Vision1",
    gen_blocking = false
)]
pub trait Vision {
    /// Whether `object` is in view (in `region`, or anywhere when empty): found, how sure, the
    /// region it was seen in, the labels that matched, and the frame's time (µs since the epoch).
    fn find(&self, object: &str, region: &str) -> Result<(bool, f64, String, Vec<String>, u64), VisionError>;
    /// What is in view (in `region`, or anywhere when empty): (label, region, confidence).
    fn describe(&self, region: &str) -> Result<Vec<(String, String, f64)>, VisionError>;
    /// A JPEG of `region` (or the whole frame when empty), when the owner's policy allows it.
    fn snapshot(&self, region: &str) -> Result<Vec<u8>, VisionError>;
    /// A JPEG of each seat in `region` (every seat when empty), with people's faces blurred, for
    /// a model outside the car; only when the owner's policy lets frames leave the car.
    fn seat_crops(&self, region: &str) -> Result<Vec<(String, Vec<u8>)>, VisionError>;
}
