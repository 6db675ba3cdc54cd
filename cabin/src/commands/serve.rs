//! `cabin serve vehicle-bus`: the service as its systemd unit runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cabin_vehicle_bus_service::{serve, ServeOptions};
use cabin_vehicle_sim::DriveProfile;
use clap::Args;

use crate::ConfigArgs;

#[derive(Debug, Args)]
pub struct VehicleBusArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Drive profile of the simulator: parked, city, highway, or a TOML file [default: the overlay's]
    #[arg(long, env = "CABIN_DRIVE_PROFILE")]
    drive_profile: Option<String>,
    /// Feed CAN-mapped signals from a `candump -L` log instead of the overlay's interface
    #[arg(long, env = "CABIN_CAN_REPLAY")]
    can_replay: Option<PathBuf>,
}

pub async fn vehicle_bus(args: VehicleBusArgs) -> anyhow::Result<ExitCode> {
    let config =
        super::load_config(&args.config).map_err(|errors| anyhow::anyhow!("invalid vehicle configuration, not starting:\n{errors}"))?;
    let drive_profile = args.drive_profile.as_deref().map(DriveProfile::named_or_file).transpose()?;
    let service = serve(config, ServeOptions { drive_profile, can_replay: args.can_replay, bus_address: None })
        .await
        .context("vehicle bus not started")?;
    // Tell systemd (Type=notify) we serve; outside systemd this does nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tokio::select! {
        _ = wait_for_shutdown() => {}
        lost = service.bus_lost(std::time::Duration::from_secs(1)) => {
            anyhow::bail!("lost the D-Bus connection, stopping: {lost}");
        }
        _ = watchdog(service.connection.clone()) => {}
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("vehicle bus stopping");
    drop(service);
    Ok(ExitCode::SUCCESS)
}

/// Tells systemd the service is ready, then serves until SIGTERM or Ctrl-C; fails if the D-Bus
/// connection is lost, so systemd restarts the service.
pub async fn ready_until_shutdown(connection: &zbus::Connection) -> anyhow::Result<ExitCode> {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tokio::select! {
        _ = wait_for_shutdown() => {}
        lost = cabin_vehicle_bus_client::connection_lost(connection, std::time::Duration::from_secs(1)) => {
            anyhow::bail!("lost the D-Bus connection, stopping: {lost}");
        }
        _ = watchdog(connection.clone()) => {}
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    Ok(ExitCode::SUCCESS)
}

/// Keep-alives for systemd's watchdog (`WatchdogSec=`), each sent only after the service has
/// answered a D-Bus ping to itself, through the bus daemon and its own message loop: a service
/// whose loop hangs stops sending them, and systemd restarts it. Never returns; without a
/// watchdog it only waits.
pub async fn watchdog(connection: zbus::Connection) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return std::future::pending().await;
    };
    let every = period / 3;
    loop {
        tokio::time::sleep(every).await;
        let own_name = connection.unique_name().map(|name| name.to_string());
        let ping = connection.call_method(own_name.as_deref(), "/", Some("org.freedesktop.DBus.Peer"), "Ping", &());
        match tokio::time::timeout(every, ping).await {
            Ok(Ok(_)) => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            Ok(Err(error)) => tracing::warn!(%error, "no answer to our own ping: no watchdog keep-alive"),
            Err(_) => tracing::warn!("our own ping timed out: no watchdog keep-alive"),
        }
    }
}

/// Until SIGTERM (systemd) or Ctrl-C.
pub async fn wait_for_shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
