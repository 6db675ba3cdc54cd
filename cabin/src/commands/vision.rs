//! The camera on the command line: `cabin look` and `cabin serve vision`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, UNIX_EPOCH};

use anyhow::Context;
use cabin_camera::{Camera, CameraSource};
use cabin_vision_service::{load_config, load_finder, Finding, Source, Vision, VisionConfig, WHOLE_FRAME};
use clap::Args;

use super::models::DirArgs;

/// What the vision service is fitted to: the camera config and models.
#[derive(Debug, Clone, Args)]
pub struct VisionArgs {
    /// The OEM's camera config (TOML) [default: the embedded defaults/vision.toml]
    #[arg(long = "vision-config", env = "CABIN_VISION_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    models: DirArgs,
}

impl VisionArgs {
    pub fn new(config: Option<PathBuf>, models: DirArgs) -> VisionArgs {
        VisionArgs { config, models }
    }

    fn load(&self) -> anyhow::Result<(VisionConfig, cabin_vision_service::Finder)> {
        let (config, name) = load_config(self.config.as_deref())?;
        let finder = load_finder(&self.models.resolve(), &config, &name)?;
        Ok((config, finder))
    }
}

#[derive(Debug, Args)]
pub struct LookArgs {
    /// `IMAGE OBJECT`, or just `OBJECT` with --camera; with --describe, `IMAGE` or nothing
    #[arg(num_args = 0..=2, value_names = ["IMAGE", "OBJECT"])]
    words: Vec<String>,
    /// Say what is in the car (or in --region: a seat, or a group such as "rear") instead of
    /// looking for one object
    #[arg(long)]
    describe: bool,
    /// Take the frame from this camera (a /dev/video* device or a folder of frames)
    #[arg(long)]
    camera: Option<PathBuf>,
    /// Look in one region only (driver, passenger, rear_left, ...)
    #[arg(long)]
    region: Option<String>,
    /// Print the finding as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vision: VisionArgs,
}

pub fn look(args: LookArgs) -> anyhow::Result<ExitCode> {
    if args.describe {
        return describe(&args);
    }
    let (source, object) = match (&args.camera, args.words.as_slice()) {
        (None, [image, object]) => (CameraSource::Still(PathBuf::from(image)), object.clone()),
        (Some(camera), [object]) => (CameraSource::from_path(camera), object.clone()),
        (None, [_]) => anyhow::bail!("give an image and an object (`cabin look IMAGE OBJECT`), or --camera DEVICE"),
        (Some(_), _) => anyhow::bail!("with --camera, give only the object (`cabin look --camera /dev/video0 hat`)"),
        (None, []) => anyhow::bail!("give an image and an object (`cabin look IMAGE OBJECT`), or --describe"),
        _ => anyhow::bail!("`cabin look IMAGE OBJECT`, or `cabin look --camera DEVICE OBJECT`"),
    };
    let (_, finder) = args.vision.load()?;
    let frame = Camera::new(source).capture()?;
    let started = Instant::now();
    let finding = finder.find(&frame, &object, args.region.as_deref())?;
    let elapsed = started.elapsed();
    if args.json {
        println!("{}", finding_json(&finding, elapsed.as_secs_f64() * 1000.0));
    } else {
        let needed = match finding.answered_by {
            Source::Detector => finder.detector_threshold().unwrap_or(1.0),
            Source::Classifier => finder.threshold(),
        };
        print_finding(&finding, needed);
    }
    Ok(if finding.found { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `cabin look IMAGE --describe`: each thing seen, with its seat and how sure the car is (the
/// calibrated figure an answer says, not the detector's raw score).
fn describe(args: &LookArgs) -> anyhow::Result<ExitCode> {
    let source = match (&args.camera, args.words.as_slice()) {
        (None, [image]) => CameraSource::Still(PathBuf::from(image)),
        (Some(camera), []) => CameraSource::from_path(camera),
        _ => anyhow::bail!("with --describe, give an image (`cabin look IMAGE --describe`) or --camera DEVICE"),
    };
    let (_, finder) = args.vision.load()?;
    let frame = Camera::new(source).capture()?;
    let seen = finder.describe(&frame, args.region.as_deref())?;
    let sure = |score: f32| finder.calibration().sure(Source::Detector, score);
    if args.json {
        let things: Vec<serde_json::Value> = seen
            .iter()
            .map(|(d, region)| serde_json::json!({ "label": d.label(), "region": region, "confidence": sure(d.score), "score": d.score, "box": [d.bounds.x, d.bounds.y, d.bounds.width, d.bounds.height] }))
            .collect();
        println!("{}", serde_json::Value::Array(things));
    } else if seen.is_empty() {
        println!("nothing seen");
    }
    for (detection, region) in seen.iter().filter(|_| !args.json) {
        let region = if region.is_empty() { "(no one seat)" } else { region };
        println!("{:12} {region:14} {:3.0} % sure", detection.label(), sure(detection.score) * 100.0);
    }
    Ok(if seen.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `needed`: the score the answering model needed for a "yes".
fn print_finding(finding: &Finding, needed: f32) {
    let object = &finding.object.word;
    let percent = finding.confidence * 100.0;
    let by = serde_json::to_value(finding.answered_by).unwrap_or_default();
    let by = by.as_str().unwrap_or_default();
    match (finding.found, finding.region.as_str()) {
        (true, WHOLE_FRAME) => println!("yes: {object} in the car, no one seat ({percent:.0} % sure; {by})"),
        (true, region) => println!("yes: {object} at {region} ({percent:.0} % sure; {by})"),
        (false, _) => println!("no: no {object} seen (the {by}'s best score {:.2}, {needed:.2} needed)", finding.score),
    }
    if !finding.labels_seen.is_empty() {
        println!("seen: {}", finding.labels_seen.join(", "));
    }
    for (region, evidence) in &finding.evidence {
        let name = if region.is_empty() { "(whole frame)" } else { region };
        println!("  {name:14} {evidence:.2}");
    }
}

fn finding_json(finding: &Finding, elapsed_ms: f64) -> serde_json::Value {
    serde_json::json!({
        "object": finding.object.word,
        "classes": finding.object.classes,
        "found": finding.found,
        "confidence": finding.confidence,
        "score": finding.score,
        "answered_by": finding.answered_by,
        "region": finding.region,
        "labels_seen": finding.labels_seen,
        "evidence": finding.evidence.iter().map(|(r, e)| (if r.is_empty() { "whole_frame".to_string() } else { r.clone() }, serde_json::json!(e))).collect::<serde_json::Map<_, _>>(),
        "frame_time_us": finding.frame_time.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default(),
        "elapsed_ms": elapsed_ms,
    })
}

#[derive(Debug, Args)]
pub struct ServeVisionArgs {
    /// The camera: a /dev/video* device, an image, or a folder of frames [default: the config's]
    #[arg(long, env = "CABIN_CAMERA")]
    camera: Option<PathBuf>,
    /// D-Bus address to serve on [default: the system bus]
    #[arg(long, env = "CABIN_BUS_ADDRESS")]
    bus: Option<String>,
    #[command(flatten)]
    vision: VisionArgs,
}

pub async fn serve_vision(args: ServeVisionArgs) -> anyhow::Result<ExitCode> {
    let connection = match &args.bus {
        Some(address) => zbus::connection::Builder::address(address.as_str())?.build().await,
        None => zbus::Connection::system().await,
    }
    .context("cannot connect to D-Bus")?;
    serve_on(&args.vision, args.camera.as_deref(), &connection).await?;
    tracing::info!("vision serving {}", cabin_vision_service::BUS_NAME);
    super::serve::ready_until_shutdown(&connection).await
}

/// Loads the vision and serves it on `connection`; returns the camera it looks through.
async fn serve_on(args: &VisionArgs, camera: Option<&Path>, connection: &zbus::Connection) -> anyhow::Result<PathBuf> {
    let (config, finder) = args.load()?;
    let started = std::time::Instant::now();
    finder.prepare();
    tracing::info!(ms = started.elapsed().as_millis() as u64, "class names embedded");
    let camera = camera.unwrap_or(&config.camera.source).to_path_buf();
    tracing::info!(camera = %camera.display(), regions = finder.regions().len(), "vision loaded");
    let vision = Vision::new(Camera::new(CameraSource::from_path(&camera)), finder, config.policy.clone());
    cabin_vision_service::serve(vision, connection).await.context("cannot serve org.cabin.Vision1")?;
    Ok(camera)
}

/// The vision for `cabin up`, on the private bus at `address`.
pub async fn start(args: &VisionArgs, camera: Option<&Path>, address: &str) -> anyhow::Result<(zbus::Connection, PathBuf)> {
    let connection = zbus::connection::Builder::address(address)?.build().await?;
    let camera = serve_on(args, camera, &connection).await?;
    Ok((connection, camera))
}
