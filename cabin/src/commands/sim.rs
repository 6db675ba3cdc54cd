//! `cabin sim drive|park|profile`: drive the simulated vehicle over D-Bus.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cabin_vehicle_bus_client::VehicleBusClient;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Reach SPEED km/h and hold it.
    Drive {
        speed: f64,
        /// Seconds to get there
        #[arg(long, default_value_t = 0.0)]
        ramp: f64,
    },
    /// Come to a stop.
    Park {
        #[arg(long, default_value_t = 0.0)]
        ramp: f64,
    },
    /// Follow a drive-profile TOML file.
    Profile { file: PathBuf },
}

pub async fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    let bus = VehicleBusClient::connect().await?;
    match command {
        SimCommand::Drive { speed, ramp } => bus.drive(speed, ramp).await?,
        SimCommand::Park { ramp } => bus.drive(0.0, ramp).await?,
        SimCommand::Profile { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("{}: cannot read", file.display()))?;
            bus.load_profile(&text).await.with_context(|| file.display().to_string())?
        }
    }
    Ok(ExitCode::SUCCESS)
}
