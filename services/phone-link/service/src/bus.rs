//! `org.cabin.PhoneLink1` on D-Bus: what the car's other services ask of the owner's phones.

use std::sync::Arc;

use cabin_phone_protocol::{HandOffOutcome, RequestBody};
use zbus::object_server::SignalEmitter;

use crate::handler::Handler;
use crate::handoffs::{task_from, HandOffError};

pub const OBJECT_PATH: &str = "/org/cabin/PhoneLink1";

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.cabin.PhoneLink1.Error")]
pub enum PhoneLinkError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No phone is paired, so nobody could take it.
    NoPhone(String),
    /// The task is none the phones know.
    UnknownTask(String),
    /// The link has no broker yet, or cannot read its paired phones.
    Unavailable(String),
}

impl From<HandOffError> for PhoneLinkError {
    fn from(error: HandOffError) -> PhoneLinkError {
        match error {
            HandOffError::NoPhone => PhoneLinkError::NoPhone(error.to_string()),
            HandOffError::UnknownTask(_) => PhoneLinkError::UnknownTask(error.to_string()),
            HandOffError::NotConnected | HandOffError::Phones(_) => PhoneLinkError::Unavailable(error.to_string()),
        }
    }
}

pub struct PhoneLinkInterface {
    handler: Arc<Handler>,
}

#[zbus::interface(name = "org.cabin.PhoneLink1", proxy(default_service = "org.cabin.PhoneLink1", default_path = "/org/cabin/PhoneLink1"))]
impl PhoneLinkInterface {
    /// Sends a hand-off to the owner's paired phones and returns its id at once; the owner's
    /// tap answers it later, announced by `HandOffAnswered`. `task` is `directions` (detail:
    /// the destination), `reminder` (the reminder's text, given when the car is parked) or
    /// `share` (`contact|destination`: the car writes the message, in the driver's language).
    async fn hand_off(&self, task: &str, detail: &str) -> Result<String, PhoneLinkError> {
        Ok(self.handler.hand_off(task_from(task, detail)?).await?)
    }

    /// A hand-off ended: `outcome` is done, declined or failed; `words` says so to the driver.
    #[zbus(signal)]
    async fn hand_off_answered(emitter: &SignalEmitter<'_>, id: &str, task: &str, outcome: &str, words: &str) -> zbus::Result<()>;

    /// A paired phone sent the car something ("send to car"): `kind` is `destination` (already
    /// set on the head unit) or `note`; `words` tells the driver.
    #[zbus(signal)]
    async fn from_phone(emitter: &SignalEmitter<'_>, phone: &str, kind: &str, words: &str) -> zbus::Result<()>;
}

/// Serves the interface on `connection` (the one owning `org.cabin.PhoneLink1`) and announces
/// every answered hand-off and everything a phone sent to the car on it.
pub async fn serve(connection: &zbus::Connection, handler: Arc<Handler>) -> zbus::Result<()> {
    let mut answered = handler.handoffs.answered();
    let mut requests = handler.answered();
    connection.object_server().at(OBJECT_PATH, PhoneLinkInterface { handler }).await?;
    let emitter = SignalEmitter::new(connection, OBJECT_PATH)?.into_owned();
    let sent_emitter = emitter.clone();
    tokio::spawn(async move {
        loop {
            let request = match requests.recv().await {
                Ok(request) => request,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let kind = match request.request {
                RequestBody::SendDestination { .. } => "destination",
                RequestBody::SendNote { .. } => "note",
                _ => continue,
            };
            let Some(words) = request.response.result.as_ref().and_then(|result| result["car_says"].as_str()) else { continue };
            if let Err(error) = PhoneLinkInterface::from_phone(&sent_emitter, &request.phone, kind, words).await {
                tracing::warn!(%error, "could not announce what a phone sent");
            }
        }
    });
    tokio::spawn(async move {
        while let Ok(answer) = answered.recv().await {
            let outcome = match answer.outcome {
                HandOffOutcome::Done => "done",
                HandOffOutcome::Declined => "declined",
                HandOffOutcome::Failed => "failed",
            };
            let sent = PhoneLinkInterface::hand_off_answered(&emitter, &answer.id, answer.task.name(), outcome, &answer.words).await;
            if let Err(error) = sent {
                tracing::warn!(%error, "could not announce a hand-off's answer");
            }
        }
    });
    Ok(())
}
