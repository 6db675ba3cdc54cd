//! A simulated head unit, `org.cabin.HeadUnit1`: in a real car the OEM's infotainment owns this
//! name (navigation, media, phone); the simulated car brings one so that "navigate to Shenzhen",
//! "play some jazz" and "call Maria" work for a newcomer and in the tests. It keeps what it was
//! told, says so in its `Changed` signal, and answers `Describe` with the whole state.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use zbus::object_server::SignalEmitter;

pub const HEAD_UNIT_NAME: &str = "org.cabin.HeadUnit1";
pub const HEAD_UNIT_PATH: &str = "/org/cabin/HeadUnit1";

/// What the head unit is doing.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HeadUnitState {
    /// Where navigation is going.
    pub destination: Option<String>,
    /// What is playing (or paused).
    pub media: Option<String>,
    pub paused: bool,
    /// Every track change, in order ("next", "previous").
    pub skips: Vec<String>,
    /// Who is being called.
    pub calling: Option<String>,
}

type Shared = Arc<Mutex<HeadUnitState>>;

fn update(state: &Shared, change: impl FnOnce(&mut HeadUnitState)) {
    change(&mut state.lock().expect("head unit state poisoned"));
}

/// The state as JSON and the sentence the console shows.
#[derive(Debug, Clone)]
pub struct SimulatedHeadUnit {
    state: Shared,
}

impl SimulatedHeadUnit {
    /// Serves the three interfaces at [`HEAD_UNIT_PATH`] on `connection` and takes the name. A
    /// name already owned (a real head unit, or a test's own) is left alone.
    pub async fn serve(connection: &zbus::Connection) -> zbus::Result<Option<SimulatedHeadUnit>> {
        let state = Shared::default();
        let server = connection.object_server();
        server.at(HEAD_UNIT_PATH, Navigation { state: state.clone() }).await?;
        server.at(HEAD_UNIT_PATH, Media { state: state.clone() }).await?;
        server.at(HEAD_UNIT_PATH, Phone { state: state.clone() }).await?;
        server.at(HEAD_UNIT_PATH, Overview { state: state.clone() }).await?;
        match connection.request_name_with_flags(HEAD_UNIT_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await {
            Ok(zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner) => {
                tracing::info!(name = HEAD_UNIT_NAME, "simulated head unit serving");
                Ok(Some(SimulatedHeadUnit { state }))
            }
            Ok(_) | Err(zbus::Error::NameTaken) => {
                tracing::info!(name = HEAD_UNIT_NAME, "another head unit is on the bus; the simulated one stays out");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn state(&self) -> HeadUnitState {
        self.state.lock().expect("head unit state poisoned").clone()
    }
}

/// Announces a change: `what` is navigation, media or phone.
async fn announce(emitter: &SignalEmitter<'_>, what: &str, state: &Shared) {
    let now = state.lock().expect("head unit state poisoned").clone();
    let said = match what {
        "navigation" => now.destination.map(|d| format!("navigating to {d}")).unwrap_or_else(|| "navigation stopped".into()),
        "media" => match (&now.media, now.paused) {
            (Some(media), false) => format!("playing {media}"),
            (Some(media), true) => format!("paused {media}"),
            (None, _) => "nothing playing".into(),
        },
        _ => now.calling.map(|c| format!("calling {c}")).unwrap_or_else(|| "no call".into()),
    };
    tracing::info!(what, "head unit: {said}");
    if let Err(error) = Overview::changed(emitter, what, &said).await {
        tracing::warn!(%error, "could not emit Changed");
    }
}

struct Navigation {
    state: Shared,
}

#[zbus::interface(name = "org.cabin.HeadUnit1.Navigation")]
impl Navigation {
    async fn set_destination(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>, destination: &str) {
        update(&self.state, |s| s.destination = Some(destination.to_string()));
        announce(&emitter, "navigation", &self.state).await;
    }

    async fn cancel(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.destination = None);
        announce(&emitter, "navigation", &self.state).await;
    }
}

struct Media {
    state: Shared,
}

#[zbus::interface(name = "org.cabin.HeadUnit1.Media")]
impl Media {
    async fn play(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>, query: &str) {
        update(&self.state, |s| {
            s.media = Some(query.to_string());
            s.paused = false;
        });
        announce(&emitter, "media", &self.state).await;
    }

    async fn pause(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.paused = true);
        announce(&emitter, "media", &self.state).await;
    }

    /// Plays again what was paused; with nothing paused, nothing changes.
    async fn resume(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.paused = false);
        announce(&emitter, "media", &self.state).await;
    }

    async fn next(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.skips.push("next".into()));
        announce(&emitter, "media", &self.state).await;
    }

    async fn previous(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.skips.push("previous".into()));
        announce(&emitter, "media", &self.state).await;
    }
}

struct Phone {
    state: Shared,
}

#[zbus::interface(name = "org.cabin.HeadUnit1.Phone")]
impl Phone {
    async fn dial(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>, contact: &str) {
        update(&self.state, |s| s.calling = Some(contact.to_string()));
        announce(&emitter, "phone", &self.state).await;
    }

    async fn hang_up(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        update(&self.state, |s| s.calling = None);
        announce(&emitter, "phone", &self.state).await;
    }
}

struct Overview {
    state: Shared,
}

#[zbus::interface(name = "org.cabin.HeadUnit1", proxy(default_service = "org.cabin.HeadUnit1", default_path = "/org/cabin/HeadUnit1"))]
impl Overview {
    /// Everything the head unit is doing, as JSON: destination, media, paused, skips, calling.
    fn describe(&self) -> String {
        serde_json::to_string(&*self.state.lock().expect("head unit state poisoned")).unwrap_or_default()
    }

    /// What changed (navigation, media or phone) and what it is now, in words.
    #[zbus(signal)]
    async fn changed(emitter: &SignalEmitter<'_>, what: &str, now: &str) -> zbus::Result<()>;
}

pub use OverviewProxy as HeadUnitProxy;
