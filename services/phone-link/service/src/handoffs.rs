//! Hand-offs: the driver asks for something only a phone can do (directions for the last stretch
//! on foot, a reminder when the car is parked, sharing an arrival time). The car sends it to
//! every paired phone on the phone's own topic, signed with its key; it is done only when the
//! owner taps it, and the first answer settles it. `org.cabin.PhoneLink1.HandOff` starts one;
//! `HandOffAnswered` says how it ended, in words the car can speak.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cabin_language::Language;
use cabin_phone_protocol::{HandOff, HandOffOutcome, HandOffTask, Topics, MAC_PROPERTY};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;

use crate::phones::{Phones, PhonesError};

/// How long a hand-off waits for the owner: a day covers "when I park".
const WAITS_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    #[error("no phone is paired with this car")]
    NoPhone,
    #[error("the phone link is not connected to a broker yet")]
    NotConnected,
    #[error("cannot read the paired phones: {0}")]
    Phones(#[from] PhonesError),
    #[error("`{0}` is not a hand-off: directions, reminder or share")]
    UnknownTask(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no hand-off {0} is waiting for an answer")]
    NotWaiting(String),
}

/// How a hand-off ended, and what the car says about it.
#[derive(Debug, Clone)]
pub struct HandOffAnswered {
    pub id: String,
    pub task: HandOffTask,
    pub outcome: HandOffOutcome,
    pub phone: String,
    pub words: String,
}

#[derive(Debug)]
pub struct HandOffs {
    waiting: Mutex<HashMap<String, (HandOffTask, Instant)>>,
    client: OnceLock<AsyncClient>,
    answered: tokio::sync::broadcast::Sender<HandOffAnswered>,
}

impl Default for HandOffs {
    fn default() -> HandOffs {
        HandOffs { waiting: Mutex::default(), client: OnceLock::new(), answered: tokio::sync::broadcast::channel(16).0 }
    }
}

/// The task a D-Bus caller names, with its one text: the destination, the reminder, or
/// "contact|destination" for a share, whose message the car writes in the driver's language.
pub fn task_from(name: &str, detail: &str) -> Result<HandOffTask, HandOffError> {
    Ok(match name {
        "directions" => HandOffTask::Directions { destination: detail.to_string() },
        "reminder" => HandOffTask::Reminder { text: detail.to_string() },
        "share" => {
            let (contact, destination) = detail.split_once('|').unwrap_or((detail, ""));
            let text = match (Language::of(detail), destination.is_empty()) {
                (Language::English, false) => format!("I'm on my way to {destination}."),
                (Language::English, true) => "I'm on my way.".to_string(),
                (Language::Chinese, false) => format!("我正在去{destination}的路上。"),
                (Language::Chinese, true) => "我在路上了。".to_string(),
            };
            HandOffTask::Share { contact: contact.to_string(), text }
        }
        other => return Err(HandOffError::UnknownTask(other.to_string())),
    })
}

/// What the car says when the owner has answered on the phone, in the language the driver
/// asked in (told by the task's own words).
fn words(task: &HandOffTask, outcome: HandOffOutcome, detail: &str) -> String {
    let asked_in = match task {
        HandOffTask::Directions { destination } => Language::of(destination),
        HandOffTask::Reminder { text } => Language::of(text),
        HandOffTask::Share { contact, text } => Language::of(&format!("{contact}{text}")),
    };
    match asked_in {
        Language::English => english_words(task, outcome, detail),
        Language::Chinese => chinese_words(task, outcome, detail),
    }
}

fn english_words(task: &HandOffTask, outcome: HandOffOutcome, detail: &str) -> String {
    let what = match task {
        HandOffTask::Directions { destination } => format!("the directions to {destination}"),
        HandOffTask::Reminder { .. } => "the reminder".to_string(),
        HandOffTask::Share { contact, .. } => format!("your arrival time for {contact}"),
    };
    match outcome {
        HandOffOutcome::Done => match task {
            HandOffTask::Directions { .. } => format!("Your phone has {what}."),
            HandOffTask::Reminder { text } => format!("Your phone will remind you when the car is parked: {text}."),
            HandOffTask::Share { .. } => format!("Your phone shared {what}."),
        },
        HandOffOutcome::Declined => format!("You declined {what} on your phone."),
        HandOffOutcome::Failed if detail.is_empty() => format!("Your phone could not take {what}."),
        HandOffOutcome::Failed => format!("Your phone could not take {what}: {detail}."),
    }
}

fn chinese_words(task: &HandOffTask, outcome: HandOffOutcome, detail: &str) -> String {
    let what = match task {
        HandOffTask::Directions { destination } => format!("去{destination}的路线"),
        HandOffTask::Reminder { .. } => "这个提醒".to_string(),
        HandOffTask::Share { contact, .. } => format!("给{contact}的行程分享"),
    };
    match outcome {
        HandOffOutcome::Done => match task {
            HandOffTask::Directions { .. } => format!("你的手机已收到{what}。"),
            HandOffTask::Reminder { text } => format!("停车后手机会提醒你：{text}。"),
            HandOffTask::Share { contact, .. } => format!("你的手机已把行程分享给{contact}。"),
        },
        HandOffOutcome::Declined => format!("你在手机上拒绝了{what}。"),
        HandOffOutcome::Failed if detail.is_empty() => format!("你的手机没能接收{what}。"),
        HandOffOutcome::Failed => format!("你的手机没能接收{what}：{detail}。"),
    }
}

impl HandOffs {
    /// The link's MQTT client, once it has one: hand-offs go out through it.
    pub(crate) fn attach(&self, client: AsyncClient) {
        let _ = self.client.set(client);
    }

    pub fn answered(&self) -> tokio::sync::broadcast::Receiver<HandOffAnswered> {
        self.answered.subscribe()
    }

    /// Sends `task` to every paired phone; returns the hand-off's id.
    pub async fn offer(&self, phones: &Phones, topics: &Topics, task: HandOffTask) -> Result<String, HandOffError> {
        let client = self.client.get().ok_or(HandOffError::NotConnected)?;
        let phones = phones.clone();
        let paired =
            tokio::task::spawn_blocking(move || phones.list()).await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        let keyed: Vec<_> = paired.iter().filter_map(|phone| Some((phone, phone.key()?))).collect();
        if keyed.is_empty() {
            return Err(HandOffError::NoPhone);
        }
        let handoff = HandOff::new(task.clone());
        let payload = serde_json::to_vec(&handoff).unwrap_or_default();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.retain(|_, (_, since)| since.elapsed() < WAITS_FOR);
            waiting.insert(handoff.handoff.clone(), (task, Instant::now()));
        }
        for (phone, key) in keyed {
            let properties = PublishProperties {
                content_type: Some("application/json".into()),
                user_properties: vec![(MAC_PROPERTY.to_string(), key.sign_handoff(&handoff.handoff, &payload))],
                ..Default::default()
            };
            // Queued while the broker is away; the phone's kept session holds it while it is.
            if let Err(error) =
                client.publish_with_properties(topics.responses(&phone.id), QoS::AtLeastOnce, false, payload.clone(), properties).await
            {
                tracing::warn!(%error, phone = %phone.name, "could not send a hand-off");
            }
        }
        tracing::info!(id = %handoff.handoff, task = handoff.task.name(), "hand-off sent to the paired phones");
        Ok(handoff.handoff)
    }

    /// The owner's answer from `phone`; the first one settles the hand-off.
    pub fn answer(&self, phone: &str, id: &str, outcome: HandOffOutcome, detail: &str) -> Result<HandOffAnswered, AnswerError> {
        let (task, _) =
            self.waiting.lock().ok().and_then(|mut waiting| waiting.remove(id)).ok_or_else(|| AnswerError::NotWaiting(id.to_string()))?;
        let answered =
            HandOffAnswered { id: id.to_string(), words: words(&task, outcome, detail), task, outcome, phone: phone.to_string() };
        let _ = self.answered.send(answered.clone());
        Ok(answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_car_says_how_a_hand_off_ended() {
        let directions = task_from("directions", "Shenzhen").unwrap();
        assert_eq!(words(&directions, HandOffOutcome::Done, ""), "Your phone has the directions to Shenzhen.");
        assert_eq!(words(&directions, HandOffOutcome::Declined, ""), "You declined the directions to Shenzhen on your phone.");
        let share = task_from("share", "Ana|the airport").unwrap();
        assert_eq!(share, HandOffTask::Share { contact: "Ana".into(), text: "I'm on my way to the airport.".into() });
        assert_eq!(
            words(&share, HandOffOutcome::Failed, "this browser cannot share"),
            "Your phone could not take your arrival time for Ana: this browser cannot share."
        );
        assert!(matches!(task_from("teleport", ""), Err(HandOffError::UnknownTask(_))));
        // Asked in Mandarin, answered in Mandarin.
        let directions = task_from("directions", "深圳").unwrap();
        assert_eq!(words(&directions, HandOffOutcome::Done, ""), "你的手机已收到去深圳的路线。");
        let share = task_from("share", "安娜|深圳").unwrap();
        assert_eq!(share, HandOffTask::Share { contact: "安娜".into(), text: "我正在去深圳的路上。".into() });
        assert_eq!(words(&share, HandOffOutcome::Declined, ""), "你在手机上拒绝了给安娜的行程分享。");
    }

    #[test]
    fn an_answer_settles_a_waiting_hand_off_once() {
        let handoffs = HandOffs::default();
        handoffs.waiting.lock().unwrap().insert("h1".into(), (task_from("reminder", "take the umbrella").unwrap(), Instant::now()));
        let mut heard = handoffs.answered();
        let answered = handoffs.answer("ana", "h1", HandOffOutcome::Done, "").unwrap();
        assert_eq!(answered.words, "Your phone will remind you when the car is parked: take the umbrella.");
        assert_eq!(heard.try_recv().unwrap().id, "h1");
        assert!(matches!(handoffs.answer("ana", "h1", HandOffOutcome::Declined, ""), Err(AnswerError::NotWaiting(_))), "settled once");
    }
}
