//! `cabin up`: the whole assistant on embedded defaults in one process, for a first look. For now
//! that is the vehicle bus with the simulated car, the assistant and the vision (camera from
//! `--camera`) on a private bus, the phone link on an embedded broker, and a console that shows every signal change, takes commands, and passes anything else to the
//! assistant as if the driver had said it.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use cabin_assistant::connect;
use cabin_phone_link::{Handler, LinkOptions};
use cabin_phone_protocol::Broker;
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus::{serve, ServeOptions};
use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_config::{SignalKind, Value};
use cabin_vehicle_sim::DriveProfile;
use clap::Args;
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::assistant::BrainArgs;
use super::phone::StateArgs;
use crate::output::{time_of_day, with_unit};

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
}

const HELP: &str = "commands: get PATH | set PATH VALUE | list [GLOB] | drive KMH [RAMP_S] | park | help | quit\n\
                    anything else is said to the assistant, e.g. \"set the temperature to twenty one\"";

/// Sensors that change continuously while driving are shown at most this often.
const SENSOR_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&args.brain.config)
        .map_err(|errors| anyhow::anyhow!("invalid vehicle configuration, not starting:\n{errors}"))?;
    let drive_profile = args.drive_profile.as_deref().map(DriveProfile::named_or_file).transpose()?;
    let bus = PrivateBus::start()?;
    let service = serve(config, ServeOptions { drive_profile, can_replay: None, bus_address: Some(bus.address().to_string()) })
        .await
        .context("vehicle bus not started")?;
    let client = VehicleBusClient::connect_to(bus.address()).await?;
    let assistant = match args.brain.load_for(service.store.config()) {
        Ok(brain) => connect(Some(bus.address()), Some(brain)).await?.1,
        Err(error) => {
            println!("The assistant is off: {error}");
            None
        }
    };
    let sensors: Vec<String> =
        service.store.config().catalog.signals.values().filter(|s| s.kind != SignalKind::Actuator).map(|s| s.path.clone()).collect();

    let vision = super::vision::VisionArgs::new(args.vision_config.clone(), args.brain.models.clone());
    let _vision = match super::vision::start(&vision, args.camera.as_deref(), bus.address()).await {
        Ok((connection, camera)) => {
            println!("The cabin camera is {}: ask \"is my hat in the car?\"", camera.display());
            Some(connection)
        }
        Err(error) => {
            println!("The vision is off: {error:#}");
            None
        }
    };
    match super::llm::start_for_up(&args.brain.models.resolve()).await {
        Ok(Some(url)) => println!("The local LLM answers open questions at {url}: ask \"why is the sky blue?\""),
        Ok(None) => println!("The local LLM is off: `cabin models fetch qwen2.5-0.5b` (or smollm2-135m) to have one"),
        Err(error) => println!("The local LLM is off: {error:#}"),
    }
    let broker = start_phone_link(&args, bus.address()).await;
    let with_assistant = if assistant.is_some() { " and the assistant" } else { "" };
    println!("Cabin is up: the vehicle bus serves a simulated car{with_assistant} on a private D-Bus.");
    println!("From another terminal:  export DBUS_SYSTEM_BUS_ADDRESS='{}'", bus.address());
    println!("                        cabin signals list   |   cabin signals watch   |   cabin sim drive 100");
    match &broker {
        Ok(broker) => println!(
            "Phones: an MQTT broker listens on {broker}; `cabin pair`, then `cabin phone pair CODE --broker mqtt://{broker} --vehicle-id {}`",
            args.vehicle_id
        ),
        Err(error) => println!("The phone link is off: {error}"),
    }
    println!("{HELP}");

    let mut changes = Box::pin(client.watch("Vehicle.**").await?);
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut last_shown: HashMap<String, Instant> = HashMap::new();
    let shutdown = super::serve::wait_for_shutdown();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(change) = changes.next() => {
                if sensors.contains(&change.path) {
                    let now = Instant::now();
                    if last_shown.get(&change.path).is_some_and(|t| now.duration_since(*t) < SENSOR_EVERY) {
                        continue;
                    }
                    last_shown.insert(change.path.clone(), now);
                }
                println!("{}  {} = {}", time_of_day(change.timestamp_us), change.path, change.value);
            }
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if line.trim() == "quit" || line.trim() == "exit" {
                        break;
                    }
                    match &assistant {
                        Some(assistant) if !line.trim().is_empty() && !is_console_command(&line) => {
                            println!("assistant: {}", assistant.converse("console", &line).await.reply);
                        }
                        _ => {
                            if let Err(e) = console_command(&client, line.trim()).await {
                                let prefix = if matches!(e, ClientError::Refused { .. }) { "refused" } else { "error" };
                                println!("{prefix}: {e}");
                            }
                        }
                    }
                }
                // No console (stdin closed): keep serving until stopped.
                Ok(None) | Err(_) => stdin_open = false,
            },
        }
    }
    println!("Cabin is stopping.");
    drop(service);
    drop(bus);
    Ok(ExitCode::SUCCESS)
}

/// The embedded broker and the phone link on it; where the broker listens.
async fn start_phone_link(args: &UpArgs, bus_address: &str) -> anyhow::Result<std::net::SocketAddr> {
    let address = cabin_embedded_broker::start(args.mqtt_port)?;
    let vehicle = cabin_phone_link::connect_vehicle(Some(bus_address)).await?;
    let broker = Broker { host: address.ip().to_string(), port: address.port(), credentials: None, tls: None };
    args.events.start(&broker, &args.vehicle_id, vehicle.clone(), args.phones.outbox());
    let handler = std::sync::Arc::new(Handler::new(args.vehicle_id.clone(), args.phones.phones(), vehicle));
    tokio::spawn(cabin_phone_link::run(LinkOptions { broker, vehicle_id: args.vehicle_id.clone() }, handler));
    Ok(address)
}

/// Console commands have a shape of their own; "set the temperature to 21" is for the assistant.
fn is_console_command(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_path = |w: &str| w.starts_with("Vehicle");
    let is_number = |w: &str| w.parse::<f64>().is_ok();
    match words.as_slice() {
        ["get", path] | ["set", path, _] => is_path(path),
        ["list"] | ["park"] | ["help"] => true,
        ["list", glob] => is_path(glob),
        ["drive", speed] => is_number(speed),
        ["drive", speed, ramp] => is_number(speed) && is_number(ramp),
        _ => false,
    }
}

async fn console_command(client: &VehicleBusClient, line: &str) -> Result<(), ClientError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => {}
        ["get", path] => {
            let reading = client.get(path).await?;
            let unit = client.describe(path).await?.into_iter().next().and_then(|i| i.spec.unit);
            println!("{path} = {}", with_unit(&reading.value, unit.as_deref()));
        }
        ["set", path, value] => {
            let accepted = client.set(path, &Value::from_text(value)).await?;
            println!("{path} <- {accepted} (accepted)");
        }
        ["list"] | ["list", _] => {
            let pattern = words.get(1).copied().unwrap_or("Vehicle.**");
            for info in client.describe(pattern).await? {
                let value = info.value.as_ref().map(|v| with_unit(v, info.spec.unit.as_deref())).unwrap_or_else(|| "-".into());
                println!("{}  {}  {}", info.spec.path, value, if info.actuatable { "settable" } else { "" });
            }
        }
        ["drive", speed] | ["drive", speed, _] => {
            let speed: f64 = speed.parse().map_err(|_| ClientError::Protocol(format!("'{speed}' is not a speed in km/h")))?;
            let ramp: f64 = words.get(2).and_then(|r| r.parse().ok()).unwrap_or(0.0);
            client.drive(speed, ramp).await?;
        }
        ["park"] => client.drive(0.0, 0.0).await?,
        _ => println!("{HELP}"),
    }
    Ok(())
}
