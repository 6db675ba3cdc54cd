//! What the `cabin up` console shows: every vehicle signal change, what the voice hears and
//! says, and what phones ask. Each source feeds one channel; one printer shows them in order,
//! as lines for people or as JSON lines (`--json`) for scripts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cabin_phone_link_service::{Answered, HandOffAnswered};
use cabin_phone_protocol::RequestBody;
use cabin_vehicle_bus_client::VehicleBusClient;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::output::time_of_day;

/// Sensors that change continuously while driving are shown at most this often.
const SENSOR_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Happening {
    Signal {
        path: String,
        value: String,
        at: String,
    },
    Wake {
        confidence: f64,
        push_to_talk: bool,
    },
    /// A command the voice transcribed.
    Heard {
        text: String,
        end_of_speech_to_text_ms: Option<f64>,
    },
    /// A reply the voice started saying.
    Said {
        text: String,
    },
    /// The assistant's reply to words typed at the console.
    Replied {
        text: String,
    },
    Phone {
        phone: String,
        request: String,
        answer: String,
        ok: bool,
    },
    /// The owner answered a hand-off on the phone; `says` is what the car tells the driver.
    HandOff {
        task: String,
        outcome: String,
        says: String,
    },
    /// A step of a script begins.
    Step {
        number: usize,
        what: String,
    },
    /// A script's expectation, met or not.
    Expected {
        what: String,
        met: bool,
        got: String,
    },
    /// The head unit started or stopped something: "navigating to Shenzhen", "calling Maria".
    HeadUnit {
        now: String,
    },
    /// Something the console itself says (a console command's output, an error).
    Note {
        text: String,
    },
}

impl std::fmt::Display for Happening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Happening::Signal { path, value, at } => write!(f, "{at}  {path} = {value}"),
            Happening::Wake { push_to_talk: true, .. } => write!(f, "voice: listening (button)"),
            Happening::Wake { confidence, .. } => write!(f, "voice: wake phrase heard ({confidence:.2})"),
            Happening::Heard { text, .. } => write!(f, "voice heard: \"{text}\""),
            Happening::Said { text } => write!(f, "voice says: \"{text}\""),
            Happening::Replied { text } => write!(f, "assistant: {text}"),
            Happening::Phone { phone, request, answer, .. } => write!(f, "phone {phone}: {request} -> {answer}"),
            Happening::HandOff { says, .. } => write!(f, "phone hand-off: {says}"),
            Happening::Step { number, what } => write!(f, "-- step {number}: {what}"),
            Happening::Expected { what, met: true, .. } => write!(f, "   ok: {what}"),
            Happening::Expected { what, met: false, got } => write!(f, "   FAILED: expected {what}, got {got}"),
            Happening::HeadUnit { now } => write!(f, "head unit: {now}"),
            Happening::Note { text } => write!(f, "{text}"),
        }
    }
}

/// Prints happenings until every sender is gone.
pub async fn print(mut happenings: tokio::sync::mpsc::UnboundedReceiver<Happening>, json: bool) {
    while let Some(happening) = happenings.recv().await {
        if json {
            println!("{}", serde_json::to_string(&happening).unwrap_or_default());
        } else {
            println!("{happening}");
        }
    }
}

/// Feeds every signal change, sensors no more than once a second each.
pub async fn signals(client: VehicleBusClient, sensors: Vec<String>, to: UnboundedSender<Happening>) -> anyhow::Result<()> {
    let mut changes = Box::pin(client.watch("Vehicle.**").await?);
    let mut last_shown: HashMap<String, Instant> = HashMap::new();
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            if sensors.contains(&change.path) {
                let now = Instant::now();
                if last_shown.get(&change.path).is_some_and(|t| now.duration_since(*t) < SENSOR_EVERY) {
                    continue;
                }
                last_shown.insert(change.path.clone(), now);
            }
            let happening = Happening::Signal { at: time_of_day(change.timestamp_us), value: change.value.to_string(), path: change.path };
            if to.send(happening).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Feeds what the voice service hears and says.
pub async fn voice(connection: &zbus::Connection, to: UnboundedSender<Happening>) -> zbus::Result<()> {
    let voice = cabin_voice_service::VoiceProxy::new(connection).await?;
    let mut wakes = voice.receive_wake().await?;
    let mut utterances = voice.receive_utterance().await?;
    let mut speaking = voice.receive_speaking().await?;
    tokio::spawn(async move {
        loop {
            // Biased: a wake and its command often arrive together, and the wake came first.
            let happening = tokio::select! {
                biased;
                Some(wake) = wakes.next() => match wake.args() {
                    Ok(args) => Happening::Wake { confidence: args.confidence, push_to_talk: args.push_to_talk },
                    Err(_) => continue,
                },
                Some(utterance) = utterances.next() => match utterance.args() {
                    Ok(args) => {
                        let timings: serde_json::Value = serde_json::from_str(args.timings).unwrap_or_default();
                        Happening::Heard { text: args.text.to_string(), end_of_speech_to_text_ms: timings["end_of_speech_to_text_ms"].as_f64() }
                    }
                    Err(_) => continue,
                },
                Some(said) = speaking.next() => match said.args() {
                    Ok(args) => Happening::Said { text: args.text.to_string() },
                    Err(_) => continue,
                },
                else => return,
            };
            if to.send(happening).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Feeds what the head unit starts and stops.
pub async fn head_unit(connection: &zbus::Connection, to: UnboundedSender<Happening>) -> zbus::Result<()> {
    let head_unit = cabin_vehicle_bus_service::HeadUnitProxy::new(connection).await?;
    let mut changes = head_unit.receive_changed().await?;
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            let Ok(args) = change.args() else { continue };
            if to.send(Happening::HeadUnit { now: args.now.to_string() }).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Feeds the requests the phone link answered.
pub fn phones(mut answered: tokio::sync::broadcast::Receiver<Answered>, to: UnboundedSender<Happening>) {
    tokio::spawn(async move {
        loop {
            let answered = match answered.recv().await {
                Ok(answered) => answered,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let (answer, ok) = match (&answered.response.result, &answered.response.error) {
                (_, Some(error)) => (format!("refused ({:?}): {}", error.kind, error.message), false),
                (Some(result), None) => {
                    let words = result["reply"].as_str().or(result["car_says"].as_str());
                    (words.map(str::to_owned).unwrap_or_else(|| result.to_string()), true)
                }
                (None, None) => (String::new(), true),
            };
            let happening = Happening::Phone { phone: answered.phone, request: describe(&answered.request), answer, ok };
            if to.send(happening).is_err() {
                return;
            }
        }
    });
}

pub fn handoffs(mut answered: tokio::sync::broadcast::Receiver<HandOffAnswered>, to: UnboundedSender<Happening>) {
    tokio::spawn(async move {
        loop {
            let answer = match answered.recv().await {
                Ok(answer) => answer,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let outcome = format!("{:?}", answer.outcome).to_lowercase();
            let happening = Happening::HandOff { task: answer.task.name().into(), outcome, says: answer.words };
            if to.send(happening).is_err() {
                return;
            }
        }
    });
}

fn describe(request: &RequestBody) -> String {
    match request {
        RequestBody::Ask { text } => format!("ask \"{text}\""),
        RequestBody::SignalsGet { path } => format!("get {path}"),
        RequestBody::SignalsSet { path, value } => format!("set {path} {value}"),
        RequestBody::VisionFind { object, .. } => format!("find {object}"),
        RequestBody::SendDestination { destination } => format!("send destination \"{destination}\""),
        RequestBody::SendNote { text } => format!("send note \"{text}\""),
        other => other.kind().to_owned(),
    }
}
