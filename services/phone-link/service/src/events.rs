//! Events the car sends unasked, and the outbox that keeps them while the broker is away.
//!
//! An event is written to the outbox folder (one file each, written whole then renamed) before
//! anything is sent, so a broker outage or a restart of the car loses none. A sender with an
//! MQTT session of its own publishes them oldest first, one at a time, and deletes each file
//! only after the broker's PUBACK: with nothing else published on that session, the next
//! PUBACK is the event's. Delivery is at least once; phones drop an event id seen before. Each
//! event carries one MAC per paired phone: a phone believes no event the car did not sign.
//!
//! The one event today: when the car is locked, the vision service is asked about each object
//! people leave behind, and each one seen becomes a `left_behind` event.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cabin_phone_protocol::{Backoff, CarEvent, EventBody, Scope, Topics};
use cabin_vehicle_bus_client::VehicleBusClient;
use cabin_vehicle_config::Value;
use cabin_vision_client::VisionProxy;
use futures_util::StreamExt;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event};
use tokio::sync::{mpsc, Notify};

use crate::link::LinkOptions;
use crate::phones::Phones;

/// The locks that count as "the car was locked".
pub const LOCK_SIGNALS: &str = "Vehicle.Cabin.Door.Row1.*.IsLocked";
/// Objects looked for when the car is locked, unless configured otherwise.
pub const LEFT_BEHIND: [&str; 8] = ["phone", "wallet", "bag", "laptop", "sunglasses", "umbrella", "dog", "cat"];
/// How long one PUBACK is waited for before the event is sent again.
const ACK_WAIT: Duration = Duration::from_secs(10);

/// Events waiting to be delivered, one JSON file each.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    written: Arc<Notify>,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Outbox {
        Outbox { dir: dir.into(), written: Arc::new(Notify::new()) }
    }

    /// Keeps `event` until it is delivered.
    pub fn push(&self, event: &CarEvent) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Names sort in the order events happened.
        let name = format!("{:012}-{:06}-{}.json", event.at, SEQUENCE.fetch_add(1, Ordering::Relaxed), event.id);
        let partial = self.dir.join(format!(".{name}"));
        std::fs::write(&partial, serde_json::to_vec(event).unwrap_or_default())?;
        std::fs::rename(&partial, self.dir.join(name))?;
        self.written.notify_one();
        Ok(())
    }

    /// The events not yet delivered, oldest first.
    pub fn pending(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| is_event(p)).collect())
            .unwrap_or_default();
        files.sort();
        files
    }
}

fn is_event(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json") && !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

enum Session {
    Up,
    Down,
    Acked,
}

/// Delivers the outbox to `cabin/v1/<vid>/events` for as long as it runs, each event signed
/// for every phone with the `camera` scope paired when it goes out: they say what the camera saw.
pub async fn deliver(options: LinkOptions, phones: Phones, outbox: Outbox) {
    let topic = Topics::new(&options.vehicle_id).events();
    let (client, mut eventloop) = AsyncClient::new(options.broker.mqtt_options(format!("{}-events", options.client_id)), 16);
    let (session_tx, mut session) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut backoff = Backoff::for_broker();
        loop {
            let news = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    Some(Session::Up)
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => Some(Session::Acked),
                Ok(_) => None,
                Err(error) => {
                    tracing::debug!(%error, "events: broker unreachable");
                    tokio::time::sleep(backoff.next_wait()).await;
                    Some(Session::Down)
                }
            };
            if let Some(news) = news {
                if session_tx.send(news).is_err() {
                    return;
                }
            }
        }
    });
    let mut up = false;
    loop {
        let next = if up {
            // A directory listing: on a blocking thread.
            let outbox = outbox.clone();
            tokio::task::spawn_blocking(move || outbox.pending().into_iter().next()).await.ok().flatten()
        } else {
            None
        };
        let Some(path) = next else {
            // Nothing to send (or no broker): wait for a new event or news of the session.
            tokio::select! {
                _ = outbox.written.notified() => {}
                news = session.recv() => match news {
                    Some(Session::Up) => up = true,
                    Some(Session::Down) => up = false,
                    Some(Session::Acked) => {}
                    None => return,
                },
            }
            continue;
        };
        let Ok(payload) = std::fs::read(&path) else {
            tracing::warn!(file = %path.display(), "events: unreadable outbox entry, dropped");
            let _ = std::fs::remove_file(&path);
            continue;
        };
        // Signed for the phones that may know what the camera sees; the paired phones are a
        // file, read under a lock: on a blocking thread.
        let (signer, signed_topic, signed_payload) = (phones.clone(), topic.clone(), payload.clone());
        let signatures =
            match tokio::task::spawn_blocking(move || signer.sign_notice(&signed_topic, &signed_payload, Some(Scope::Camera))).await {
                Ok(Ok(signatures)) => signatures,
                Ok(Err(error)) => {
                    // Unsigned, no phone would believe it: keep it until the phones file reads again.
                    tracing::warn!(%error, "events: cannot sign for the paired phones; kept");
                    tokio::time::sleep(ACK_WAIT).await;
                    continue;
                }
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            };
        let properties = PublishProperties { user_properties: signatures, ..Default::default() };
        if let Err(error) = client.publish_with_properties(topic.clone(), QoS::AtLeastOnce, false, payload, properties).await {
            tracing::warn!(%error, "events: cannot publish");
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        match tokio::time::timeout(ACK_WAIT, wait_for_ack(&mut session, &mut up)).await {
            Ok(true) => {
                tracing::info!(file = %path.display(), "event delivered");
                let _ = std::fs::remove_file(&path);
            }
            // The session went down or the ack never came: the event stays and is sent again.
            _ => tracing::info!(file = %path.display(), "event not acknowledged yet; kept"),
        }
    }
}

/// True on the next PUBACK; false when the session goes down first.
async fn wait_for_ack(session: &mut mpsc::UnboundedReceiver<Session>, up: &mut bool) -> bool {
    while let Some(news) = session.recv().await {
        match news {
            Session::Acked => return true,
            Session::Down => {
                *up = false;
                return false;
            }
            Session::Up => *up = true,
        }
    }
    false
}

/// Watches the door locks; each time the car is locked, asks the vision service about each of
/// `objects` and puts a `left_behind` event in the outbox for each one seen, and a
/// `person_inside` event when someone is still in the car.
pub async fn watch_locks(vehicle: VehicleBusClient, objects: Vec<String>, outbox: Outbox) {
    let changes = match vehicle.watch(LOCK_SIGNALS).await {
        Ok(changes) => changes,
        Err(error) => {
            tracing::warn!(%error, "cannot watch the door locks: no left-behind events");
            return;
        }
    };
    let mut changes = Box::pin(changes);
    let mut locked = false;
    while let Some(change) = changes.next().await {
        let now_locked = matches!(change.value, Value::Bool(true));
        // Locking sets every door: look once per lock, not once per door.
        if now_locked && !locked {
            look_for_left_behind(&vehicle, &objects, &outbox).await;
        }
        locked = now_locked;
    }
}

async fn look_for_left_behind(vehicle: &VehicleBusClient, objects: &[String], outbox: &Outbox) {
    let vision = match VisionProxy::new(vehicle.connection()).await {
        Ok(vision) => vision,
        Err(error) => return tracing::warn!(%error, "cannot look for things left behind"),
    };
    // Someone inside first: of all the car can tell the owner at a lock, that matters most.
    let asked = std::iter::once(PERSON).chain(objects.iter().map(String::as_str));
    for object in asked {
        match vision.find(object, "").await {
            Ok((true, confidence, region, _, _)) => {
                let event = CarEvent::new(match object {
                    PERSON => EventBody::PersonInside { region, confidence },
                    _ => EventBody::LeftBehind { object: object.to_string(), region, confidence },
                });
                match outbox.push(&event) {
                    Ok(()) => tracing::info!(%object, "left in the locked car: event queued"),
                    Err(error) => tracing::error!(%error, %object, "cannot queue the event"),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, %object, "cannot look in the locked car"),
        }
    }
}

/// The vision service's word for a person (its detector's COCO class).
const PERSON: &str = "person";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_keeps_events_in_the_order_they_happened_and_skips_half_written_ones() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        let event = |object: &str, at: u64| CarEvent {
            at,
            ..CarEvent::new(EventBody::LeftBehind { object: object.into(), region: String::new(), confidence: 0.5 })
        };
        outbox.push(&event("wallet", 200)).unwrap();
        outbox.push(&event("phone", 100)).unwrap();
        std::fs::write(dir.path().join("outbox/.000000000300-000009-x.json"), b"{").unwrap();
        let objects: Vec<String> = outbox
            .pending()
            .iter()
            .map(|p| serde_json::from_slice::<CarEvent>(&std::fs::read(p).unwrap()).unwrap())
            .map(|e| match e.body {
                EventBody::LeftBehind { object, .. } => object,
                EventBody::PersonInside { .. } => "someone".into(),
            })
            .collect();
        assert_eq!(objects, ["phone", "wallet"]);
    }
}
