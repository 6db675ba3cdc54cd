//! `cabin up`: the whole assistant on embedded defaults in one process, for a first look: the
//! vehicle bus with the simulated car, the assistant, the voice, the vision and the local LLM on
//! a private bus, the phone link on an embedded broker, and a console that shows what happens
//! (signal changes, wake events, transcripts, replies, phone requests), takes commands, and
//! passes anything else to the assistant as if the driver had said it. `--script` plays a
//! scenario instead of reading the console.

mod console;
mod happenings;
mod script;

use std::process::ExitCode;

use anyhow::Context;
use cabin_assistant_service::connect;
use cabin_phone_link_service::{Handler, LinkOptions};
use cabin_phone_protocol::Broker;
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_bus_service::{serve, ServeOptions};
use cabin_vehicle_config::SignalKind;
use cabin_vehicle_sim::DriveProfile;
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

use self::console::{console_command, is_console_command, HELP};
use self::happenings::Happening;
use super::assistant::BrainArgs;
use super::phone::StateArgs;

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    brain: BrainArgs,
    /// Drive profile of the simulator: parked, city, highway, or a TOML file
    #[arg(long)]
    drive_profile: Option<String>,
    /// Port of the embedded MQTT broker for phones (another free one when taken)
    #[arg(long, default_value_t = 1883)]
    mqtt_port: u16,
    /// Port of the phone app on loopback (another free one when taken)
    #[arg(long, default_value_t = 8080)]
    app_port: u16,
    /// This car's id in MQTT topics
    #[arg(long, env = "CABIN_VEHICLE_ID", default_value = "cabin-demo")]
    vehicle_id: String,
    #[command(flatten)]
    phones: StateArgs,
    #[command(flatten)]
    events: super::phone::EventArgs,
    /// The cabin camera: a /dev/video* device, an image, or a folder of frames [default: the vision config's]
    #[arg(long, env = "CABIN_CAMERA")]
    camera: Option<std::path::PathBuf>,
    /// The camera's config (TOML) [default: the embedded defaults/vision.toml]
    #[arg(long = "vision-config", env = "CABIN_VISION_CONFIG")]
    vision_config: Option<std::path::PathBuf>,
    /// What the voice listens to: a named input device, `-` for 16 kHz 16-bit mono PCM on stdin,
    /// or `none` [default: the default microphone, else none; none with --script]
    #[arg(long, env = "CABIN_VOICE_INPUT")]
    input: Option<String>,
    #[command(flatten)]
    voice: super::voice::VoiceArgs,
    #[command(flatten)]
    speak: super::voice::SpeakArgs,
    /// Play a scenario (TOML: spoken or recorded utterances, phone questions, camera frames,
    /// driving), print what happened, and stop; the exit code is 1 if an expectation failed
    #[arg(long)]
    script: Option<std::path::PathBuf>,
    /// Show what happens as JSON lines
    #[arg(long)]
    json: bool,
}

pub async fn run(mut args: UpArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&args.brain.config)
        .map_err(|errors| anyhow::anyhow!("invalid vehicle configuration, not starting:\n{errors}"))?;
    let scenario = args.script.as_deref().map(script::Scenario::load).transpose()?;
    // A scenario's phone, frames and utterances live and die with the run.
    let scratch = tempfile::tempdir()?;
    if scenario.is_some() {
        args.brain.memory_defaults_to(scratch.path().join("memory.redb"));
    }
    let drive_profile = args.drive_profile.as_deref().map(DriveProfile::named_or_file).transpose()?;
    let bus = PrivateBus::start()?;
    let service = serve(config, ServeOptions { drive_profile, can_replay: None, bus_address: Some(bus.address().to_string()) })
        .await
        .context("vehicle bus not started")?;
    let client = VehicleBusClient::connect_to(bus.address()).await?;
    let (show, shown) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(happenings::print(shown, args.json));
    let say = |text: String| {
        let _ = show.send(Happening::Note { text });
    };

    let assistant = match args.brain.load_for(service.store.config()) {
        Ok(brain) => connect(Some(bus.address()), Some(brain)).await?.1,
        Err(error) => {
            say(format!("The assistant is off: {error}"));
            None
        }
    };
    let input = match (&args.input, &scenario) {
        (Some(input), _) => Some(input.as_str()),
        (None, Some(_)) => Some("none"),
        (None, None) => None,
    };
    let _voice = match start_voice(&args, service.store.config(), input, bus.address(), &show).await {
        Ok((voice, Some(microphone))) => {
            say(format!("The voice listens to {microphone}: say \"hey cabin, set the temperature to twenty one\""));
            Some(voice)
        }
        Ok((voice, None)) => {
            say("The voice has no microphone: it hears only scripts (`--script`) and `Hear` calls".into());
            Some(voice)
        }
        Err(error) => {
            say(format!("The voice is off: {error:#}"));
            None
        }
    };
    let camera_frame = scenario.as_ref().filter(|s| s.uses_camera()).map(|_| scratch.path().join("camera.png"));
    // No camera named and none where the config says: a demo cabin, so the camera can be tried.
    let demo = match (&camera_frame, &args.camera) {
        (None, None) => demo_camera(args.vision_config.as_deref(), scratch.path())?,
        _ => None,
    };
    let camera = camera_frame.as_deref().or(args.camera.as_deref()).or(demo.as_ref().map(|(frame, _)| frame.as_path()));
    let vision = super::vision::VisionArgs::new(args.vision_config.clone(), args.brain.models.clone());
    let _vision = match super::vision::start(&vision, camera, bus.address()).await {
        Ok((connection, camera)) => {
            match &demo {
                Some((_, shows)) => {
                    say(format!("No camera is connected, so the camera sees a demo cabin: {shows}. Ask \"is my cup in the car?\""))
                }
                None => say(format!("The cabin camera is {}: ask \"is my hat in the car?\"", camera.display())),
            }
            Some(connection)
        }
        Err(error) => {
            say(format!("The vision is off: {error:#}"));
            None
        }
    };
    match super::llm::start_for_up(&args.brain.models.resolve()).await {
        Ok(Some(url)) => say(format!("The local LLM answers open questions at {url}: ask \"why is the sky blue?\"")),
        Ok(None) => say("The local LLM is off: `cabin models fetch qwen2.5-0.5b` (or smollm2-135m) to have one".into()),
        Err(error) => say(format!("The local LLM is off: {error:#}")),
    }
    let (phones, outbox) = match &scenario {
        Some(_) => (
            cabin_phone_link_service::Phones::new(scratch.path().join("phones")),
            cabin_phone_link_service::Outbox::new(scratch.path().join("outbox")),
        ),
        None => (args.phones.phones(), args.phones.outbox()),
    };
    let broker = start_phone_link(&args, bus.address(), phones.clone(), outbox, &show).await;
    let with_assistant = if assistant.is_some() { " and the assistant" } else { "" };
    say(format!("Cabin is up: the vehicle bus serves a simulated car{with_assistant} on a private D-Bus."));
    match &broker {
        Ok(broker) => {
            // Another broker (a mosquitto) may hold the port: phones must be told the one used.
            let taken = |asked: u16, got: u16| if asked != 0 && asked != got { format!(" (port {asked} is taken)") } else { String::new() };
            say(format!(
                "Phones: an MQTT broker listens on {broker}{}; `cabin pair`, then `cabin phone pair CODE --broker mqtt://{broker} --vehicle-id {}`",
                taken(args.mqtt_port, broker.port()),
                args.vehicle_id
            ));
            let car = cabin_phone_app::ThisCar { vehicle_id: args.vehicle_id.clone(), broker: broker.to_string() };
            match cabin_phone_app::serve(([127, 0, 0, 1], args.app_port).into(), true, car).await {
                Ok(app) => say(format!(
                    "The phone app: open http://{app} in a browser on this machine{}, then `cabin pair` for a code",
                    taken(args.app_port, app.port())
                )),
                Err(error) => say(format!("The phone app is off: {error}")),
            }
        }
        Err(error) => say(format!("The phone link is off: {error}")),
    }
    let sensors: Vec<String> =
        service.store.config().catalog.signals.values().filter(|s| s.kind != SignalKind::Actuator).map(|s| s.path.clone()).collect();
    happenings::signals(client.clone(), sensors, show.clone()).await?;
    happenings::head_unit(client.connection(), show.clone()).await?;

    let code = match scenario {
        Some(scenario) => {
            let car = script::Car {
                bus_address: bus.address().to_string(),
                vehicle: client.clone(),
                simulator: service.simulator.clone(),
                assistant: assistant.clone(),
                camera_frame,
                regions: cabin_vision_service::load_config(args.vision_config.as_deref())?.0.regions(),
                broker: broker.as_ref().ok().map(|address| local_broker(*address)),
                vehicle_id: args.vehicle_id.clone(),
                phones,
                scratch: scratch.path().to_path_buf(),
            };
            let all_met = script::play(&scenario, &car, &show).await?;
            if all_met {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => {
            say(format!("From another terminal:  export DBUS_SYSTEM_BUS_ADDRESS='{}'", bus.address()));
            say("                        cabin signals list   |   cabin signals watch   |   cabin sim drive 100".into());
            say(HELP.into());
            // With the microphone's audio on stdin, there is no console to read.
            let console_input = input != Some("-");
            console(&client, assistant.as_deref(), console_input, &show).await;
            say("Cabin is stopping.".into());
            ExitCode::SUCCESS
        }
    };
    drop(show);
    // Whatever is still to be shown (the feeds hold senders too, so not forever).
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), printer).await;
    drop(service);
    drop(bus);
    Ok(code)
}

/// Reads the console until `quit`, end of input plus a stop signal, or a stop signal.
async fn console(
    client: &VehicleBusClient,
    assistant: Option<&cabin_assistant_service::Assistant>,
    mut stdin_open: bool,
    show: &UnboundedSender<Happening>,
) {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let shutdown = super::serve::wait_for_shutdown();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if line.trim() == "quit" || line.trim() == "exit" {
                        return;
                    }
                    match assistant {
                        Some(assistant) if !line.trim().is_empty() && !is_console_command(&line) => {
                            let _ = show.send(Happening::Replied { text: assistant.converse("console", &line).await.reply.clone() });
                        }
                        _ => {
                            if let Err(e) = console_command(client, line.trim()).await {
                                let prefix = if matches!(e, ClientError::Refused { .. }) { "refused" } else { "error" };
                                let _ = show.send(Happening::Note { text: format!("{prefix}: {e}") });
                            }
                        }
                    }
                }
                // No console (stdin closed): keep serving until stopped.
                Ok(None) | Err(_) => stdin_open = false,
            },
        }
    }
}

/// The voice on the private bus, fed from `input`; the microphone it listens to, if any.
async fn start_voice(
    args: &UpArgs,
    vehicle: &cabin_vehicle_config::VehicleConfig,
    input: Option<&str>,
    bus_address: &str,
    show: &UnboundedSender<Happening>,
) -> anyhow::Result<(super::voice::RunningVoice, Option<String>)> {
    let models = args.brain.models.resolve();
    let listener = args.voice.load(&models, true, super::voice::vocabulary(args.brain.intents_and_tasks(), vehicle)?)?;
    let voice = args.speak.load(&models)?;
    let feed = match super::voice::open_feed(input) {
        Ok(feed) => feed,
        // No microphone here: the voice still hears scripts and `Hear` calls.
        Err(error) if input.is_none() => {
            tracing::info!("no microphone: {error:#}");
            None
        }
        Err(error) => return Err(error),
    };
    let listening = feed.as_ref().map(|_| input.unwrap_or("the default microphone").to_owned());
    let sink = if feed.is_none() { cabin_voice_service::Sink::Silent } else { cabin_voice_service::Sink::Device };
    let connection = zbus::connection::Builder::address(bus_address)?.build().await?;
    let voice = super::voice::start(listener, voice, sink, feed, &connection).await?;
    happenings::voice(&connection, show.clone()).await?;
    Ok((voice, listening))
}

/// The embedded broker and the phone link on it; where the broker listens.
async fn start_phone_link(
    args: &UpArgs,
    bus_address: &str,
    phones: cabin_phone_link_service::Phones,
    outbox: cabin_phone_link_service::Outbox,
    show: &UnboundedSender<Happening>,
) -> anyhow::Result<std::net::SocketAddr> {
    let address = cabin_embedded_broker::start(args.mqtt_port)?;
    let vehicle = cabin_phone_link_service::connect_vehicle(Some(bus_address)).await?;
    // The embedded broker checks no logins: the car's client id is one nobody can take over.
    let link = LinkOptions::unguessable(local_broker(address), &args.vehicle_id);
    args.events.start(&link, phones.clone(), vehicle.clone(), outbox);
    let handler = std::sync::Arc::new(Handler::new(args.vehicle_id.clone(), phones, vehicle.clone()));
    cabin_phone_link_service::serve_bus(vehicle.connection(), handler.clone()).await?;
    happenings::phones(handler.answered(), show.clone());
    happenings::handoffs(handler.handoffs.answered(), show.clone());
    tokio::spawn(cabin_phone_link_service::run(link, handler));
    Ok(address)
}

fn local_broker(address: std::net::SocketAddr) -> Broker {
    Broker { host: address.ip().to_string(), port: address.port(), credentials: None, tls: None }
}

/// A demo cabin frame written to `folder`, and what it shows, when the vision config's camera is
/// a device that is not there.
fn demo_camera(vision_config: Option<&std::path::Path>, folder: &std::path::Path) -> anyhow::Result<Option<(std::path::PathBuf, String)>> {
    let (config, _) = cabin_vision_service::load_config(vision_config)?;
    let source = &config.camera.source;
    if !source.starts_with("/dev") || source.exists() {
        return Ok(None);
    }
    let (frame, shows) = cabin_vision_service::composite::demo_cabin(&config.regions());
    let path = folder.join("demo-cabin.png");
    frame.save(&path).with_context(|| format!("{}: cannot write the demo cabin", path.display()))?;
    Ok(Some((path, shows)))
}
