//! `cabin signals get|set|list|watch`: a D-Bus client of the vehicle bus, like any other.

use std::process::ExitCode;
use std::time::Duration;

use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_config::Value;
use clap::{Args, Subcommand};
use futures_util::StreamExt;

use crate::output::{age, error_json, time_of_day, with_unit};

#[derive(Debug, Subcommand)]
pub enum SignalsCommand {
    /// Print a signal's current value.
    Get {
        path: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Request an actuator value; checked against type, range, role and interlocks.
    Set {
        path: String,
        /// true/false, a number, or text
        value: String,
        /// Wait up to this many seconds for the vehicle to reach the value
        #[arg(long, value_name = "SECONDS")]
        wait: Option<f64>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the signals a glob selects (`*` one segment, `**` any), with their values.
    List {
        #[arg(default_value = "Vehicle.**")]
        pattern: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print changes as they happen.
    Watch {
        #[arg(default_value = "Vehicle.**")]
        pattern: String,
        /// Stop after this many changes
        #[arg(long)]
        count: Option<usize>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Call while owning this well-known bus name (a role the overlay grants to that name)
    #[arg(long = "as", value_name = "BUS_NAME")]
    pub as_name: Option<String>,
}

impl ClientArgs {
    pub async fn connect(&self) -> Result<VehicleBusClient, ClientError> {
        match &self.as_name {
            Some(name) => VehicleBusClient::connect_as(name).await,
            None => VehicleBusClient::connect().await,
        }
    }
}

pub async fn run(command: SignalsCommand) -> anyhow::Result<ExitCode> {
    let json = match &command {
        SignalsCommand::Get { client, .. }
        | SignalsCommand::Set { client, .. }
        | SignalsCommand::List { client, .. }
        | SignalsCommand::Watch { client, .. } => client.json,
    };
    match execute(command).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            if json {
                println!("{}", error_json(&error));
            }
            let prefix = if matches!(error, ClientError::Refused { .. }) { "refused" } else { "error" };
            eprintln!("{prefix}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn execute(command: SignalsCommand) -> Result<(), ClientError> {
    match command {
        SignalsCommand::Get { path, client } => {
            let bus = client.connect().await?;
            let reading = bus.get(&path).await?;
            if client.json {
                println!("{}", serde_json::to_string(&reading).expect("readings serialise"));
            } else {
                let unit = bus.describe(&path).await.ok().and_then(|d| d.into_iter().next()).and_then(|i| i.spec.unit);
                println!("{} = {}  ({})", reading.path, with_unit(&reading.value, unit.as_deref()), age(reading.timestamp_us));
            }
        }
        SignalsCommand::Set { path, value, wait, client } => {
            let bus = client.connect().await?;
            let requested = Value::from_text(&value);
            // Subscribe first, so the vehicle's arrival cannot slip past.
            let changes = match wait {
                Some(_) => Some(bus.watch(&path).await?),
                None => None,
            };
            let accepted = bus.set(&path, &requested).await?;
            let mut reached = None;
            if let (Some(seconds), Some(changes)) = (wait, changes) {
                let already = bus.get(&path).await.ok().filter(|r| r.value.compare(&accepted) == Some(std::cmp::Ordering::Equal));
                reached = match already {
                    Some(reading) => Some(reading),
                    None => {
                        let arrival = changes.filter(|r| std::future::ready(r.value.compare(&accepted) == Some(std::cmp::Ordering::Equal)));
                        let mut arrival = Box::pin(arrival);
                        tokio::time::timeout(Duration::from_secs_f64(seconds.max(0.0)), arrival.next()).await.ok().flatten()
                    }
                };
                if reached.is_none() {
                    return Err(ClientError::Protocol(format!(
                        "{path}: accepted {accepted}, but the vehicle did not report it within {seconds} s"
                    )));
                }
            }
            if client.json {
                println!("{}", serde_json::json!({ "path": path, "accepted": accepted, "reached": reached }));
            } else if reached.is_some() {
                println!("{path} = {accepted} (reached)");
            } else {
                println!("{path} <- {accepted} (accepted; the vehicle is on its way)");
            }
        }
        SignalsCommand::List { pattern, client } => {
            let bus = client.connect().await?;
            let signals = bus.describe(&pattern).await?;
            if client.json {
                println!("{}", serde_json::to_string(&signals).expect("signal info serialises"));
            } else {
                let width = signals.iter().map(|s| s.spec.path.len()).max().unwrap_or(0);
                for signal in &signals {
                    let value = signal.value.as_ref().map(|v| with_unit(v, signal.spec.unit.as_deref())).unwrap_or_else(|| "-".into());
                    let mark = if signal.actuatable { "settable" } else { "" };
                    println!("{:width$}  {:9}  {:14}  {mark}", signal.spec.path, signal.spec.kind.name(), value);
                }
                if signals.is_empty() {
                    println!("no readable signal matches {pattern}");
                }
            }
        }
        SignalsCommand::Watch { pattern, count, client } => {
            let bus = client.connect().await?;
            let changes = bus.watch(&pattern).await?;
            // On stderr, so JSON on stdout stays clean: from here on no change is missed, which
            // is what a script (or a test) starting the watch in the background waits for.
            eprintln!("watching {pattern}");
            let mut changes = Box::pin(changes.take(count.unwrap_or(usize::MAX)));
            while let Some(reading) = changes.next().await {
                if client.json {
                    println!("{}", serde_json::to_string(&reading).expect("readings serialise"));
                } else {
                    println!("{}  {} = {}", time_of_day(reading.timestamp_us), reading.path, reading.value);
                }
            }
        }
    }
    Ok(())
}
