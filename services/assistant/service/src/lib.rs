//! The assistant service: understanding and tasks, one conversation per D-Bus caller, acting
//! through the vehicle bus. `org.cabin.Assistant1` takes utterances (from the voice service,
//! the phone link, `cabin chat`) and returns the reply to speak.

mod interface;
mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cabin_dialog::{Dialog, TaskBook, TaskFileError, Turn};
use cabin_models::{LocateError, ModelsDir};
use cabin_nlu::{EncoderError, IntentCatalog, IntentFileError, SentenceEncoder, Understander, EMBEDDING_MODEL};
use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_config::{Catalog, VehicleConfig};
use thiserror::Error;
use tokio::sync::Mutex;

pub use interface::AssistantInterfaceProxy as AssistantProxy;
pub use tools::{BusTools, WithoutCamera, VISION_BUS_NAME, VISION_OBJECT_PATH};

pub const BUS_NAME: &str = "org.cabin.Assistant1";
pub const OBJECT_PATH: &str = "/org/cabin/Assistant1";

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Model(#[from] LocateError),
    #[error("embedding model: {0}")]
    Encoder(#[from] EncoderError),
    #[error(transparent)]
    Intents(#[from] IntentFileError),
    #[error(transparent)]
    Tasks(#[from] TaskFileError),
}

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: zbus::Error },
    #[error("another assistant already owns {BUS_NAME} on this bus")]
    NameTaken,
    #[error(transparent)]
    Vehicle(#[from] ClientError),
    #[error("D-Bus: {0}")]
    Bus(#[from] zbus::Error),
}

/// What the assistant knows, loaded once: the classifier, the tasks, the vehicle's catalog.
#[derive(Debug, Clone)]
pub struct Brain {
    pub understander: Arc<Understander>,
    pub tasks: Arc<TaskBook>,
    pub catalog: Arc<Catalog>,
}

#[derive(Debug, Clone, Default)]
pub struct BrainFiles {
    /// OEM intent files, after the shipped ones.
    pub intents: Vec<PathBuf>,
    /// OEM task files, after the shipped ones.
    pub tasks: Vec<PathBuf>,
}

impl Brain {
    pub fn load(models: &ModelsDir, files: &BrainFiles, vehicle: &VehicleConfig) -> Result<Brain, LoadError> {
        let intents = IntentCatalog::load(&files.intents)?;
        let tasks = TaskBook::load(&files.tasks, &intents, &vehicle.catalog)?;
        let encoder = SentenceEncoder::load(&models.locate(EMBEDDING_MODEL)?)?;
        let understander = Understander::new(encoder, intents)?;
        Ok(Brain { understander: Arc::new(understander), tasks: Arc::new(tasks), catalog: Arc::new(vehicle.catalog.clone()) })
    }

    pub fn dialog(&self) -> Dialog {
        Dialog::new(self.understander.clone(), self.tasks.clone(), self.catalog.clone())
    }
}

/// Whether a conversation may see through the cabin camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Camera {
    Allowed,
    Denied,
}

/// The brain plus its tools, with one conversation per caller.
#[derive(Debug)]
pub struct Assistant {
    brain: Brain,
    tools: BusTools,
    conversations: Mutex<HashMap<String, Dialog>>,
}

impl Assistant {
    pub fn new(brain: Brain, tools: BusTools) -> Assistant {
        Assistant { brain, tools, conversations: Mutex::new(HashMap::new()) }
    }

    pub async fn converse(&self, conversation: &str, text: &str) -> Turn {
        self.converse_with(conversation, text, Camera::Allowed).await
    }

    /// A turn for a caller the owner may not have allowed to use the camera.
    pub async fn converse_with(&self, conversation: &str, text: &str, camera: Camera) -> Turn {
        let mut conversations = self.conversations.lock().await;
        let dialog = conversations.entry(conversation.to_string()).or_insert_with(|| self.brain.dialog());
        let turn = match camera {
            Camera::Allowed => dialog.turn(text, &self.tools).await,
            Camera::Denied => dialog.turn(text, &WithoutCamera(&self.tools)).await,
        };
        tracing::info!(conversation, text, intent = turn.intent.as_deref().unwrap_or("-"), reply = %turn.reply, "turn");
        turn
    }

    pub async fn forget(&self, conversation: &str) {
        self.conversations.lock().await.remove(conversation);
    }
}

/// Connects to the bus (the system bus, or `address`) as `org.cabin.Assistant1`: the name is
/// what the vehicle bus grants the assistant's role to. With `serve`, the D-Bus interface is
/// in place before the name is taken, so no caller finds the name without the interface.
pub async fn connect(address: Option<&str>, serve: Option<Brain>) -> Result<(BusTools, Option<Arc<Assistant>>), ServeError> {
    let shown =
        address.map(str::to_string).or_else(|| std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok()).unwrap_or_else(|| "the system bus".into());
    let builder = match address {
        Some(address) => zbus::connection::Builder::address(address),
        None => zbus::connection::Builder::system(),
    };
    let connection = builder
        .map_err(|source| ServeError::Connect { address: shown.clone(), source })?
        .build()
        .await
        .map_err(|source| ServeError::Connect { address: shown, source })?;
    let tools = BusTools::new(VehicleBusClient::on(connection.clone()).await?);
    let assistant = match serve {
        Some(brain) => {
            let assistant = Arc::new(Assistant::new(brain, tools.clone()));
            connection.object_server().at(OBJECT_PATH, interface::AssistantInterface { assistant: assistant.clone() }).await?;
            Some(assistant)
        }
        None => None,
    };
    match connection.request_name_with_flags(BUS_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner) => Ok((tools, assistant)),
        Ok(_) | Err(zbus::Error::NameTaken) => Err(ServeError::NameTaken),
        Err(e) => Err(e.into()),
    }
}
