//! `cabin up --script FILE`: a scenario played against the running car, for demos and tests.
//! Each step does one thing, as a driver, a phone or the world would, and may say what should
//! follow; the console shows everything that happened, and the exit code says whether every
//! expectation was met.
//!
//! ```toml
//! [[step]]
//! camera = { photo = "hat.jpg", seat = "rear_left" }   # or camera = "frame.jpg"
//! [[step]]
//! say = "hey cabin, set the temperature to twenty one"  # espeak-ng into the voice pipeline
//! expect_signal = { "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature" = 21 }
//! [[step]]
//! phone = "is my hat in the car?"
//! expect_reply = "rear left"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use cabin_phone_client::PhoneClient;
use cabin_phone_link_service::Phones;
use cabin_phone_protocol::{Broker, Paired, RequestBody, Scope, Scopes};
use cabin_speech::{Espeak, Voice};
use cabin_vehicle_bus_client::VehicleBusClient;
use cabin_vehicle_config::Value;
use cabin_vehicle_sim::{DriveProfile, SimulatorHandle};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use super::happenings::Happening;

/// How long a spoken command may take to be answered.
const REPLY_WITHIN: Duration = Duration::from_secs(30);
/// Time for the signal changes a step caused to be shown before the next step starts.
const SETTLE: Duration = Duration::from_millis(300);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(rename = "step")]
    steps: Vec<toml::Spanned<Step>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// Words spoken into the voice pipeline (synthesised by espeak-ng).
    say: Option<String>,
    /// A WAV recording played into the voice pipeline.
    hear: Option<PathBuf>,
    /// Words typed at the console.
    #[serde(rename = "type")]
    typed: Option<String>,
    /// A question the owner's phone asks over MQTT.
    phone: Option<String>,
    /// What the cabin camera sees from now on.
    camera: Option<CameraView>,
    /// Speed to drive at, km/h.
    drive: Option<f64>,
    park: Option<bool>,
    /// A drive profile: parked, city, highway, or a TOML file.
    profile: Option<String>,
    /// Seconds to let pass.
    wait: Option<f64>,
    /// The step's reply contains this (any case).
    expect_reply: Option<String>,
    /// After the step, these signals have these values.
    expect_signal: Option<BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CameraView {
    /// A frame from a camera (JPEG or PNG).
    Frame(PathBuf),
    /// A photo of an object placed on a seat of an empty cabin; no photo: the empty cabin.
    Composed { photo: Option<PathBuf>, seat: Option<String> },
}

/// One checked step: what to do, and what should follow.
#[derive(Debug)]
enum Action {
    Say(String),
    Hear(PathBuf),
    Type(String),
    Phone(String),
    Camera(CameraView),
    Drive(f64),
    Profile(String),
    Wait(f64),
}

#[derive(Debug)]
struct Checked {
    action: Action,
    expect_reply: Option<String>,
    expect_signal: BTreeMap<String, toml::Value>,
}

#[derive(Debug)]
pub struct Scenario {
    /// Relative paths in the file are relative to its folder.
    folder: PathBuf,
    steps: Vec<Checked>,
}

impl Scenario {
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let file = path.display();
        let text = std::fs::read_to_string(path).with_context(|| format!("{file}: cannot read"))?;
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let parsed: ScenarioFile = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{file}:{}: {}", e.span().map(|s| line_of(s.start)).unwrap_or(1), e.message()))?;
        let steps = parsed
            .steps
            .into_iter()
            .map(|spanned| {
                let line = line_of(spanned.span().start);
                check(spanned.into_inner()).map_err(|message| anyhow::anyhow!("{file}:{line}: {message}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if steps.is_empty() {
            bail!("{file}: no [[step]]");
        }
        Ok(Scenario { folder: path.parent().map(Path::to_path_buf).unwrap_or_default(), steps })
    }

    /// Whether a step shows the camera a frame: then the camera is the script's.
    pub fn uses_camera(&self) -> bool {
        self.steps.iter().any(|step| matches!(step.action, Action::Camera(_)))
    }
}

fn check(step: Step) -> Result<Checked, String> {
    let mut actions = Vec::new();
    let mut given = Vec::new();
    let mut add = |name: &'static str, action: Option<Action>| {
        if let Some(action) = action {
            given.push(name);
            actions.push(action);
        }
    };
    add("say", step.say.map(Action::Say));
    add("hear", step.hear.map(Action::Hear));
    add("type", step.typed.map(Action::Type));
    add("phone", step.phone.map(Action::Phone));
    add("camera", step.camera.map(Action::Camera));
    add("drive", step.drive.map(Action::Drive));
    add("park", step.park.filter(|park| *park).map(|_| Action::Drive(0.0)));
    add("profile", step.profile.map(Action::Profile));
    add("wait", step.wait.map(Action::Wait));
    let action = match (actions.pop(), actions.is_empty()) {
        (Some(action), true) => action,
        (None, _) => return Err("a step does one of: say, hear, type, phone, camera, drive, park, profile, wait".into()),
        (Some(_), false) => return Err(format!("a step does one thing, this one {}", given.join(" and "))),
    };
    match &action {
        Action::Drive(speed) if !(0.0..=250.0).contains(speed) => return Err(format!("drive: {speed} km/h is not between 0 and 250")),
        Action::Wait(seconds) if !(0.0..=600.0).contains(seconds) => return Err(format!("wait: {seconds} s is not between 0 and 600")),
        _ => {}
    }
    if step.expect_reply.is_some() && !matches!(action, Action::Say(_) | Action::Hear(_) | Action::Type(_) | Action::Phone(_)) {
        return Err("expect_reply needs a step that gets a reply: say, hear, type or phone".into());
    }
    Ok(Checked { action, expect_reply: step.expect_reply, expect_signal: step.expect_signal.unwrap_or_default() })
}

/// What a scenario plays against.
#[derive(Debug)]
pub struct Car {
    pub bus_address: String,
    pub vehicle: VehicleBusClient,
    pub simulator: SimulatorHandle,
    pub assistant: Option<std::sync::Arc<cabin_assistant_service::Assistant>>,
    /// The file the camera reads its frame from, when the scenario shows it frames.
    pub camera_frame: Option<PathBuf>,
    pub regions: Vec<cabin_vision_service::Region>,
    pub broker: Option<Broker>,
    pub vehicle_id: String,
    pub phones: Phones,
    /// Where synthesised utterances are written.
    pub scratch: PathBuf,
}

/// Plays the scenario; true when every expectation was met.
pub async fn play(scenario: &Scenario, car: &Car, show: &UnboundedSender<Happening>) -> anyhow::Result<bool> {
    let connection = zbus::connection::Builder::address(car.bus_address.as_str())?.build().await?;
    let voice = cabin_voice_service::VoiceProxy::new(&connection).await?;
    let mut phone: Option<(PhoneClient, Paired)> = None;
    let mut all_met = true;
    // Until a step shows it something, the camera sees an empty cabin: without a frame to read,
    // a question before the first camera step found the camera broken.
    if car.camera_frame.is_some() {
        show_camera(car, &scenario.folder, &CameraView::Composed { photo: None, seat: None })?;
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        let _ = show.send(Happening::Step { number: index + 1, what: describe(&step.action) });
        let reply = match &step.action {
            Action::Say(text) => {
                let audio = Espeak::default().synthesize(text)?;
                let path = car.scratch.join(format!("step-{}.wav", index + 1));
                cabin_audio::write_wav(&path, &with_pauses(audio))?;
                Some(hear(&voice, &path).await?)
            }
            Action::Hear(path) => Some(hear(&voice, &scenario.folder.join(path)).await?),
            Action::Type(text) => {
                let reply = match &car.assistant {
                    Some(assistant) => assistant.converse("console", text).await.reply.clone(),
                    None => "(the assistant is off)".to_owned(),
                };
                let _ = show.send(Happening::Replied { text: reply.clone() });
                Some(reply)
            }
            Action::Phone(text) => {
                if phone.is_none() {
                    phone = Some(pair_phone(car).await?);
                }
                let (client, paired) = phone.as_ref().expect("paired above");
                Some(match client.request(paired, RequestBody::Ask { text: text.clone() }).await {
                    Ok(result) => result["reply"].as_str().unwrap_or_default().to_owned(),
                    Err(error) => format!("(no answer: {error})"),
                })
            }
            Action::Camera(view) => {
                show_camera(car, &scenario.folder, view)?;
                None
            }
            Action::Drive(speed) => {
                car.vehicle.drive(*speed, 0.0).await?;
                None
            }
            Action::Profile(name) => {
                let profile = match scenario.folder.join(name) {
                    file if file.is_file() => DriveProfile::named_or_file(&file.display().to_string())?,
                    _ => DriveProfile::named_or_file(name)?,
                };
                car.simulator.set_profile(profile);
                None
            }
            Action::Wait(seconds) => {
                tokio::time::sleep(Duration::from_secs_f64(*seconds)).await;
                None
            }
        };
        tokio::time::sleep(SETTLE).await;
        if let (Some(wanted), Some(reply)) = (&step.expect_reply, &reply) {
            let met = reply.to_lowercase().contains(&wanted.to_lowercase());
            all_met &= met;
            let _ = show.send(Happening::Expected { what: format!("a reply with \"{wanted}\""), met, got: format!("\"{reply}\"") });
        }
        for (path, wanted) in &step.expect_signal {
            let got = car.vehicle.get(path).await.map(|reading| reading.value);
            let met = got.as_ref().is_ok_and(|value| same(value, wanted));
            all_met &= met;
            let got = got.map(|value| value.to_string()).unwrap_or_else(|error| error.to_string());
            let _ = show.send(Happening::Expected { what: format!("{path} = {wanted}"), met, got });
        }
    }
    Ok(all_met)
}

fn describe(action: &Action) -> String {
    match action {
        Action::Say(text) => format!("say \"{text}\""),
        Action::Hear(path) => format!("play {}", path.display()),
        Action::Type(text) => format!("type \"{text}\""),
        Action::Phone(text) => format!("the phone asks \"{text}\""),
        Action::Camera(CameraView::Frame(path)) => format!("the camera sees {}", path.display()),
        Action::Camera(CameraView::Composed { photo: Some(photo), seat }) => {
            format!("the camera sees {} on the {} seat", photo.display(), seat.as_deref().unwrap_or("driver").replace('_', " "))
        }
        Action::Camera(CameraView::Composed { photo: None, .. }) => "the camera sees an empty cabin".into(),
        Action::Drive(speed) if *speed == 0.0 => "park".into(),
        Action::Drive(speed) => format!("drive at {speed} km/h"),
        Action::Profile(name) => format!("follow the drive profile {name}"),
        Action::Wait(seconds) => format!("wait {seconds} s"),
    }
}

/// Half a second of silence before the words and more than the endpoint's after, as a
/// person leaves.
fn with_pauses(audio: cabin_audio::Audio) -> cabin_audio::Audio {
    let audio = audio.at_rate(cabin_audio::SAMPLE_RATE);
    let rate = cabin_audio::SAMPLE_RATE as usize;
    let mut samples = vec![0.0; rate / 2];
    samples.extend_from_slice(&audio.samples);
    samples.resize(samples.len() + rate * 3 / 2, 0.0);
    cabin_audio::Audio::new(samples, cabin_audio::SAMPLE_RATE)
}

/// Plays a WAV file to the voice; the reply it says, or "" when it heard nothing for the car.
async fn hear(voice: &cabin_voice_service::VoiceProxy<'_>, wav: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(wav).with_context(|| format!("{}: cannot read", wav.display()))?;
    let mut said = voice.receive_speaking().await?;
    let heard: serde_json::Value = serde_json::from_str(&voice.hear(bytes).await.with_context(|| wav.display().to_string())?)?;
    let command = heard.as_array().is_some_and(|events| events.iter().any(|event| event["event"] == "command"));
    if !command {
        return Ok(String::new());
    }
    match tokio::time::timeout(REPLY_WITHIN, said.next()).await {
        Ok(Some(signal)) => Ok(signal.args()?.text().to_string()),
        _ => Ok(format!("(no reply within {} s)", REPLY_WITHIN.as_secs())),
    }
}

/// Pairs the scenario's phone with every scope, as the owner would in the car.
async fn pair_phone(car: &Car) -> anyhow::Result<(PhoneClient, Paired)> {
    let broker = car.broker.as_ref().context("the phone link is off, so the phone cannot ask")?;
    let code = car.phones.start_pairing(Scopes::from(Scope::ALL))?;
    let client = PhoneClient::connect(broker, &car.vehicle_id);
    let paired = client.pair(&code, "scenario phone").await?;
    Ok((client, paired))
}

fn show_camera(car: &Car, folder: &Path, view: &CameraView) -> anyhow::Result<()> {
    let frame_file = car.camera_frame.as_ref().context("the camera is off")?;
    let frame = match view {
        CameraView::Frame(path) => cabin_camera::read_image(&folder.join(path))?,
        CameraView::Composed { photo, seat } => {
            let mut frame = cabin_vision_service::composite::empty_cabin();
            if let Some(photo) = photo {
                let seat = seat.as_deref().unwrap_or("driver");
                let region = car.regions.iter().find(|r| r.name == seat).with_context(|| {
                    let names: Vec<&str> = car.regions.iter().map(|r| r.name.as_str()).collect();
                    format!("no seat \"{seat}\" in the camera's regions ({})", names.join(", "))
                })?;
                let photo = cabin_camera::read_image(&folder.join(photo))?;
                cabin_vision_service::composite::place(&mut frame, region, &photo, 0.8);
            }
            frame
        }
    };
    // Written whole, then renamed: the camera never reads half a frame.
    let partial = frame_file.with_extension("partial.png");
    frame.save(&partial).with_context(|| format!("{}: cannot write", partial.display()))?;
    std::fs::rename(&partial, frame_file)?;
    Ok(())
}

/// A signal's value against a scenario's: numbers by value, booleans and text exactly.
fn same(value: &Value, wanted: &toml::Value) -> bool {
    let number = match value {
        Value::Int(i) => Some(*i as f64),
        Value::Uint(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (wanted, value) {
        (toml::Value::Integer(w), _) => number.is_some_and(|n| (n - *w as f64).abs() < 1e-6),
        (toml::Value::Float(w), _) => number.is_some_and(|n| (n - w).abs() < 1e-6),
        (toml::Value::Boolean(w), Value::Bool(b)) => w == b,
        (toml::Value::String(w), Value::String(s)) => w == s,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> anyhow::Result<Scenario> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.toml");
        std::fs::write(&path, text).unwrap();
        Scenario::load(&path)
    }

    #[test]
    fn a_scenario_reads_each_kind_of_step() {
        let scenario = load(
            r#"
            [[step]]
            camera = { photo = "hat.jpg", seat = "rear_left" }
            [[step]]
            say = "hey cabin, set the temperature to twenty one"
            expect_signal = { "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature" = 21 }
            [[step]]
            drive = 60
            [[step]]
            phone = "is my hat in the car?"
            expect_reply = "rear left"
            "#,
        )
        .unwrap();
        assert_eq!(scenario.steps.len(), 4);
        assert!(scenario.uses_camera());
        assert!(matches!(&scenario.steps[1].action, Action::Say(text) if text.starts_with("hey cabin")));
        assert!(matches!(scenario.steps[2].action, Action::Drive(speed) if speed == 60.0));
        assert_eq!(scenario.steps[3].expect_reply.as_deref(), Some("rear left"));
    }

    #[test]
    fn a_bad_step_is_named_by_its_line() {
        let error = load("[[step]]\nsay = \"hello\"\n\n[[step]]\nsay = \"hi\"\nphone = \"hi\"\n").unwrap_err().to_string();
        assert!(error.ends_with("demo.toml:4: a step does one thing, this one say and phone"), "{error}");
        let error = load("[[step]]\nwait = 1\n\n[[step]]\nshout = \"hi\"\n").unwrap_err().to_string();
        assert!(error.contains("demo.toml:5: unknown field `shout`"), "{error}");
        let error = load("[[step]]\ndrive = 900\n").unwrap_err().to_string();
        assert!(error.ends_with("demo.toml:1: drive: 900 km/h is not between 0 and 250"), "{error}");
        let error = load("[[step]]\ndrive = 50\nexpect_reply = \"ok\"\n").unwrap_err().to_string();
        assert!(error.contains("expect_reply needs a step that gets a reply"), "{error}");
    }

    #[test]
    fn values_compare_as_a_driver_would_read_them() {
        assert!(same(&Value::Float(21.0), &toml::Value::Integer(21)));
        assert!(same(&Value::Uint(50), &toml::Value::Float(50.0)));
        assert!(!same(&Value::Float(21.5), &toml::Value::Integer(21)));
        assert!(same(&Value::Bool(false), &toml::Value::Boolean(false)));
        assert!(!same(&Value::String("21".into()), &toml::Value::Integer(21)));
    }
}
