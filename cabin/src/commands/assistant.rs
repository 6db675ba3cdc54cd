//! `cabin understand`, `cabin chat` and `cabin serve assistant`: on-device understanding and the
//! task agent, from a terminal or as the service.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cabin_assistant_service::{connect, Assistant, Brain, BrainFiles, BusTools, LoadError, ServeError};
use cabin_nlu::{IntentCatalog, Understander};
use cabin_private_bus::PrivateBus;
use cabin_sentence_encoder::{SentenceEncoder, EMBEDDING_MODEL};
use cabin_vehicle_bus_client::ClientError;
use cabin_vehicle_bus_service::{ServeOptions, VehicleBusService};
use cabin_vehicle_config::VehicleConfig;
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::models::DirArgs;
use crate::ConfigArgs;

#[derive(Debug, Clone, Args)]
pub struct BrainArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub models: DirArgs,
    /// OEM intent file (TOML) added to the shipped intents; repeatable
    #[arg(long = "intents", env = "CABIN_INTENTS", value_delimiter = ':')]
    intents: Vec<PathBuf>,
    /// OEM task file (TOML) added to the shipped tasks; repeatable
    #[arg(long = "tasks", env = "CABIN_TASKS", value_delimiter = ':')]
    tasks: Vec<PathBuf>,
    /// Routing policy (TOML): cloud model, local LLM, what may leave the car [default: the
    /// shipped one: no cloud, `cabin serve llm` on loopback]
    #[arg(long, env = "CABIN_ROUTING")]
    routing: Option<PathBuf>,
    /// The driver's memory (an embedded database), or `off` [default: $XDG_STATE_HOME/cabin/memory.redb]
    #[arg(long, env = "CABIN_MEMORY")]
    memory: Option<PathBuf>,
    /// Whose memory: one profile per driver
    #[arg(long, env = "CABIN_DRIVER", default_value = "driver")]
    driver: String,
}

impl BrainArgs {
    fn load(&self) -> anyhow::Result<Brain> {
        let vehicle = super::load_config(&self.config).map_err(|errors| anyhow::anyhow!("invalid vehicle configuration:\n{errors}"))?;
        Ok(self.load_for(&vehicle)?)
    }

    /// Keeps the drivers' memory in `path` unless a memory was chosen.
    pub fn memory_defaults_to(&mut self, path: PathBuf) {
        self.memory.get_or_insert(path);
    }

    /// The OEM intent and task files (the voice takes the car's words from the tasks, which
    /// name the intents).
    pub fn intents_and_tasks(&self) -> (&[PathBuf], &[PathBuf]) {
        (&self.intents, &self.tasks)
    }

    pub fn load_for(&self, vehicle: &VehicleConfig) -> Result<Brain, LoadError> {
        let memory = match &self.memory {
            Some(path) if path.as_os_str() == "off" => None,
            Some(path) => Some(path.clone()),
            None => default_memory(),
        };
        let files = BrainFiles {
            intents: self.intents.clone(),
            tasks: self.tasks.clone(),
            routing: self.routing.clone(),
            memory: memory.map(|path| (path, self.driver.clone())),
        };
        Brain::load(&self.models.resolve(), &files, vehicle)
    }
}

/// `$XDG_STATE_HOME/cabin/memory.redb`, or under `~/.local/state`.
fn default_memory() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))?;
    Some(state.join("cabin/memory.redb"))
}

#[derive(Debug, Args)]
pub struct UnderstandArgs {
    /// What the driver said
    #[arg(required = true)]
    text: Vec<String>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    models: DirArgs,
    /// OEM intent file (TOML) added to the shipped intents; repeatable
    #[arg(long = "intents", env = "CABIN_INTENTS", value_delimiter = ':')]
    intents: Vec<PathBuf>,
}

pub fn understand(args: UnderstandArgs) -> anyhow::Result<ExitCode> {
    let intents = IntentCatalog::load(&args.intents)?;
    let encoder = SentenceEncoder::load(&super::models::require(&args.models, EMBEDDING_MODEL)?)?;
    let understander = Understander::new(encoder, intents)?.with_installed_languages(&args.models.resolve())?;
    let understood = understander.understand(&args.text.join(" "))?;
    if args.json {
        println!("{}", serde_json::to_string(&understood)?);
    } else {
        let doubt = if understood.low_confidence { ", not sure" } else { "" };
        println!("{} ({:.2}{doubt})", understood.intent, understood.confidence);
        for (name, value) in &understood.slots {
            println!("  {name}: {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    brain: BrainArgs,
    /// One JSON object per turn: reply, intent, slots, open task, vehicle actions
    #[arg(long)]
    json: bool,
}

/// What `cabin chat` talks to: the running vehicle bus, or one of its own on a private bus.
struct ChatVehicle {
    tools: BusTools,
    _own: Option<(PrivateBus, VehicleBusService)>,
}

async fn chat_vehicle(brain: &BrainArgs) -> anyhow::Result<ChatVehicle> {
    match connect(None, None).await {
        Ok((tools, _)) if tools.vehicle_bus_running().await => return Ok(ChatVehicle { tools, _own: None }),
        Ok(_) | Err(ServeError::Connect { .. } | ServeError::Vehicle(ClientError::NotRunning)) => {}
        Err(ServeError::NameTaken) => anyhow::bail!("the assistant service is running on this bus; talk to it instead, or stop it"),
        Err(e) => return Err(e.into()),
    }
    eprintln!("(no vehicle bus running: chatting with a simulated car on a private bus)");
    let config = super::load_config(&brain.config).map_err(|errors| anyhow::anyhow!("invalid vehicle configuration:\n{errors}"))?;
    let bus = PrivateBus::start()?;
    let service =
        cabin_vehicle_bus_service::serve(config, ServeOptions { bus_address: Some(bus.address().to_string()), ..ServeOptions::default() })
            .await
            .context("simulated vehicle bus not started")?;
    let (tools, _) = connect(Some(bus.address()), None).await?;
    Ok(ChatVehicle { tools, _own: Some((bus, service)) })
}

pub async fn chat(args: ChatArgs) -> anyhow::Result<ExitCode> {
    let brain = args.brain.load()?;
    let vehicle = chat_vehicle(&args.brain).await?;
    let assistant = Assistant::new(brain, vehicle.tools.clone());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let turn = assistant.converse("chat", &line).await;
        let mut out = std::io::stdout().lock();
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&turn)?)?;
        } else {
            writeln!(out, "{}", turn.reply)?;
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ServeAssistantArgs {
    #[command(flatten)]
    brain: BrainArgs,
}

pub async fn serve_assistant(args: ServeAssistantArgs) -> anyhow::Result<ExitCode> {
    let brain = args.brain.load()?;
    let (tools, _assistant) = connect(None, Some(brain)).await?;
    let connection = tools.connection().clone();
    tracing::info!("assistant serving {}", cabin_assistant_service::BUS_NAME);
    super::serve::ready_until_shutdown(&connection).await
}
