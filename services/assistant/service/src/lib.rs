//! The assistant service: understanding and tasks, one conversation per D-Bus caller, acting
//! through the vehicle bus. `org.cabin.Assistant1` takes utterances (from the voice service,
//! the phone link, `cabin chat`) and returns the reply to speak.

mod about;
mod interface;
mod remembering;
mod tools;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use cabin_dialog::{Dialog, TaskBook, TaskFileError, Turn};
use cabin_memory::Memory;
use cabin_models::{LocateError, ModelsDir};
use cabin_nlu::{IntentCatalog, IntentFileError, LearnError, Understander};
use cabin_router::{Exchange, FirstSentence, PolicyError, Question, RouteReport, Router, RoutingPolicy};
use cabin_sentence_encoder::{EncoderError, SentenceEncoder, EMBEDDING_MODEL};
use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_config::{Catalog, Interlock, VehicleConfig};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::Mutex;

pub use cabin_principal::{Principal, Scope, Scopes};
pub use tools::BusTools;

pub const BUS_NAME: &str = "org.cabin.Assistant1";
pub const OBJECT_PATH: &str = "/org/cabin/Assistant1";

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Model(#[from] LocateError),
    #[error("embedding model: {0}")]
    Encoder(#[from] EncoderError),
    #[error(transparent)]
    Learn(#[from] LearnError),
    #[error(transparent)]
    Intents(#[from] IntentFileError),
    #[error(transparent)]
    Tasks(#[from] TaskFileError),
    #[error(transparent)]
    Routing(#[from] PolicyError),
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
    pub interlocks: Arc<Vec<Interlock>>,
    /// Where open questions go.
    pub router: Arc<Router>,
    /// The driver's memory; `None` when it could not be opened (another process holds it).
    pub memory: Option<Arc<Memory>>,
}

#[derive(Debug, Clone, Default)]
pub struct BrainFiles {
    /// OEM intent files, after the shipped ones.
    pub intents: Vec<PathBuf>,
    /// OEM task files, after the shipped ones.
    pub tasks: Vec<PathBuf>,
    /// The routing policy [default: the shipped one: no cloud, the local LLM on loopback].
    pub routing: Option<PathBuf>,
    /// The memory database and the driver profile in it; `None`: no memory.
    pub memory: Option<(PathBuf, String)>,
}

/// The intents and tasks, shipped and the OEM's, checked against each other and the vehicle,
/// as the assistant starts (and `cabin config check` checks them, with no model loaded).
pub fn load_intents_and_tasks(files: &BrainFiles, vehicle: &VehicleConfig) -> Result<(IntentCatalog, TaskBook), LoadError> {
    let intents = IntentCatalog::load(&files.intents)?;
    let tasks = TaskBook::load(&files.tasks, &intents, &vehicle.catalog)?;
    tasks.check_interlocks(vehicle.interlocks.iter().map(|interlock| interlock.name.as_str()))?;
    intents.check_served(|intent| tasks.serves(intent))?;
    Ok((intents, tasks))
}

impl Brain {
    pub fn load(models: &ModelsDir, files: &BrainFiles, vehicle: &VehicleConfig) -> Result<Brain, LoadError> {
        let (intents, tasks) = load_intents_and_tasks(files, vehicle)?;
        let encoder = SentenceEncoder::shared(&models.locate(EMBEDDING_MODEL)?)?;
        let policy = match &files.routing {
            Some(path) => RoutingPolicy::load(path)?,
            None => RoutingPolicy::embedded(),
        };
        let keep_said_days = policy.memory.keep_said_days.unwrap_or(cabin_memory::KEEP_SAID_DAYS);
        let router = Router::new(policy, Arc::new(intents.clone()));
        let understander = Understander::caching(encoder, intents, Some(&models.root().join("cache")))?.with_installed_languages(models)?;
        let memory = files.memory.as_ref().and_then(|(path, profile)| match Memory::open(path, profile) {
            Ok(memory) => Some(Arc::new(memory.keeping_said_for(keep_said_days))),
            Err(error) => {
                tracing::warn!(%error, "going on without memory");
                None
            }
        });
        Ok(Brain {
            understander: Arc::new(understander),
            tasks: Arc::new(tasks),
            catalog: Arc::new(vehicle.catalog.clone()),
            interlocks: Arc::new(vehicle.interlocks.clone()),
            router: Arc::new(router),
            memory,
        })
    }

    pub fn dialog(&self) -> Dialog {
        Dialog::new(self.understander.clone(), self.tasks.clone(), self.catalog.clone()).with_interlocks(self.interlocks.clone())
    }
}

/// How many past exchanges a model sees.
const HISTORY: usize = 6;

/// A turn as the assistant answered it: the dialog's turn and, when a model was asked, how.
#[derive(Debug, Clone, Serialize)]
pub struct AssistantTurn {
    #[serde(flatten)]
    pub turn: Turn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteReport>,
}

impl std::ops::Deref for AssistantTurn {
    type Target = Turn;
    fn deref(&self) -> &Turn {
        &self.turn
    }
}

#[derive(Debug)]
struct Conversation {
    dialog: Dialog,
    history: VecDeque<Exchange>,
}

/// The brain plus its tools, with one conversation per caller.
#[derive(Debug)]
pub struct Assistant {
    brain: Brain,
    tools: BusTools,
    /// One lock per conversation, so that one caller's slow turn (a model thinking) never
    /// holds up another's; the map's own lock is held only to find or add one.
    conversations: std::sync::Mutex<HashMap<String, Arc<Mutex<Conversation>>>>,
}

impl Assistant {
    pub fn new(brain: Brain, tools: BusTools) -> Assistant {
        let tools = tools.with_memory(brain.memory.clone()).with_router(brain.router.clone());
        Assistant { brain, tools, conversations: std::sync::Mutex::new(HashMap::new()) }
    }

    /// A turn of the driver's.
    pub async fn converse(&self, conversation: &str, text: &str) -> AssistantTurn {
        self.converse_as(conversation, text, Principal::Driver, None).await
    }

    /// A turn for `principal`, whose request came through the D-Bus connection `on_behalf_of`
    /// (a unique name) when it was not the driver's.
    pub async fn converse_as(&self, conversation: &str, text: &str, principal: Principal, on_behalf_of: Option<String>) -> AssistantTurn {
        self.converse_saying(conversation, text, principal, on_behalf_of, &|_| {}).await
    }

    /// As [`converse_as`](Self::converse_as), handing the first sentence of an answer from
    /// the car's own model to `first_sentence` while the rest is being made (a voice can start
    /// saying it); the reply then begins with that sentence.
    pub async fn converse_saying(
        &self,
        conversation: &str,
        text: &str,
        principal: Principal,
        on_behalf_of: Option<String>,
        first_sentence: FirstSentence<'_>,
    ) -> AssistantTurn {
        let tools = self.tools.acting_for(principal, on_behalf_of);
        let state = self
            .conversations
            .lock()
            .expect("conversation map poisoned")
            .entry(conversation.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Conversation { dialog: self.brain.dialog(), history: VecDeque::new() })))
            .clone();
        let turn = self.turn(&mut *state.lock().await, text, &tools, first_sentence).await;
        if let Some(memory) = tools.memory_of_principal() {
            if let Err(error) = memory.log(conversation, text, &turn.reply) {
                tracing::warn!(%error, "could not keep the turn in memory");
            }
        }
        tracing::info!(conversation, text, intent = turn.intent.as_deref().unwrap_or("-"), reply = %turn.reply, "turn");
        turn
    }

    async fn turn(
        &self,
        conversation: &mut Conversation,
        text: &str,
        tools: &BusTools,
        first_sentence: FirstSentence<'_>,
    ) -> AssistantTurn {
        // The sentence encoder is CPU work: on a blocking thread, not one the bus is served from.
        let understander = conversation.dialog.understander().clone();
        let owned = text.to_string();
        let understood = match tokio::task::spawn_blocking(move || understander.understand(&owned)).await {
            Ok(understood) => understood,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        let mut turn = conversation.dialog.turn_understood(text, understood, tools).await;
        let router = &self.brain.router;
        let intent = turn.intent.clone().unwrap_or_default();
        let mut route = None;
        if turn.open && about::asks_about_me(text) {
            let language = cabin_nlu::Language::of(text);
            turn.reply = about::about_me(&router.policy().persona, &self.brain.tasks, tools.connection(), language).await;
            return AssistantTurn { turn, route };
        }
        if turn.open {
            let memory = match tools.memory_of_principal() {
                Some(memory) => memory.facts().map(|facts| facts.into_iter().map(|f| f.text).collect()).unwrap_or_default(),
                None => Vec::new(),
            };
            let question = Question { text, intent: &intent, low_confidence: turn.low_confidence, memory };
            let history: Vec<Exchange> = conversation.history.iter().cloned().collect();
            let answer = router.answer_saying(&question, &history, first_sentence).await;
            if answer.route.answered_by.is_some() {
                let mut said: Vec<String> = answer.reply.into_iter().collect();
                for request in &answer.requests {
                    // The model's call runs as the driver's words would: same checks, same context.
                    said.push(conversation.dialog.act(&request.intent, request.slots.clone(), tools, &mut turn).await);
                }
                if said.is_empty() {
                    said.push(match cabin_nlu::Language::of(text) {
                        cabin_nlu::Language::English => "Sorry, I couldn't do that.".into(),
                        cabin_nlu::Language::Chinese => "抱歉，这个我做不到。".into(),
                    });
                }
                turn.reply = said.join(" ");
            }
            route = Some(answer.route);
        }
        // What the model sees of the conversation is what a model was asked and answered: the
        // car's own replies (a task done, a camera that failed) are not conversation.
        if route.as_ref().is_none_or(|r| r.answered_by.is_none()) {
            return AssistantTurn { turn, route };
        }
        conversation.history.push_back(Exchange {
            user: text.to_string(),
            reply: turn.reply.clone(),
            private: router.private_in(&intent, text),
        });
        while conversation.history.len() > HISTORY {
            conversation.history.pop_front();
        }
        AssistantTurn { turn, route }
    }

    /// Whether `text`, said now in `conversation`, is a whole turn (see
    /// [`Dialog::is_complete`](cabin_dialog::Dialog::is_complete)). A conversation in the
    /// middle of a turn is not asked: the answer is no, and the voice waits out the silence.
    pub async fn is_complete(&self, conversation: &str, text: &str) -> bool {
        let kept = self.conversations.lock().expect("conversation map poisoned").get(conversation).cloned();
        let understander = self.brain.understander.clone();
        let owned = text.to_string();
        let understood = match tokio::task::spawn_blocking(move || understander.understand(&owned)).await {
            Ok(Ok(understood)) => understood,
            Ok(Err(_)) => return false,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        match kept {
            Some(kept) => kept.try_lock().is_ok_and(|conversation| conversation.dialog.is_complete(text, &understood)),
            None => self.brain.dialog().is_complete(text, &understood),
        }
    }

    pub async fn forget(&self, conversation: &str) {
        self.conversations.lock().expect("conversation map poisoned").remove(conversation);
    }

    /// Lets go of every conversation of a caller that left the bus (its unique name, and the
    /// conversations it kept apart under it).
    pub fn forget_caller(&self, unique_name: &str) {
        let theirs = |key: &str| key == unique_name || key.strip_prefix(unique_name).is_some_and(|rest| rest.starts_with('/'));
        self.conversations.lock().expect("conversation map poisoned").retain(|key, _| !theirs(key));
    }

    /// How many conversations are kept.
    pub fn conversations(&self) -> usize {
        self.conversations.lock().expect("conversation map poisoned").len()
    }
}

/// Forgets the conversations of callers as they leave the bus, for as long as the assistant lives.
async fn forget_callers_that_leave(connection: &zbus::Connection, assistant: &Arc<Assistant>) -> zbus::Result<()> {
    use futures_util::StreamExt;
    let mut changes = zbus::fdo::DBusProxy::new(connection).await?.receive_name_owner_changed().await?;
    let assistant = Arc::downgrade(assistant);
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            let Ok(args) = change.args() else { continue };
            let gone = args.new_owner().is_none() && args.name().as_str().starts_with(':');
            match assistant.upgrade() {
                Some(assistant) if gone => assistant.forget_caller(args.name().as_str()),
                Some(_) => {}
                None => return,
            }
        }
    });
    Ok(())
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
            forget_callers_that_leave(&connection, &assistant).await?;
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
