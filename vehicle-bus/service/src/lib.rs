//! The vehicle-bus service: the signal store behind `org.cabin.VehicleBus1` on the system bus
//! (`DBUS_SYSTEM_BUS_ADDRESS` when set), fed by the simulator and, where the overlay says so, by
//! CAN. Starting it checks the whole configuration first and refuses to serve a bad one.

mod caller;
mod errors;
mod head_unit;
mod interface;

use std::path::PathBuf;
use std::sync::Arc;

use cabin_can::CanMapping;
use cabin_signal_store::SignalStore;
use cabin_vehicle_bus_client::wire::{to_variant, BUS_NAME, OBJECT_PATH};
use cabin_vehicle_config::{BackendKind, ConfigErrors, VehicleConfig};
use cabin_vehicle_sim::{DriveProfile, ProfileError, SimulatorHandle};
use tokio::sync::broadcast::error::RecvError;
use zbus::object_server::SignalEmitter;

pub use errors::BusError;
pub use head_unit::{HeadUnitProxy, HeadUnitState, SimulatedHeadUnit, HEAD_UNIT_NAME, HEAD_UNIT_PATH};
pub use interface::{SimulatorInterface, VehicleBusInterface};

#[derive(Debug, Default)]
pub struct ServeOptions {
    /// Overrides the overlay's drive profile.
    pub drive_profile: Option<DriveProfile>,
    /// Feed CAN signals from a `candump -L` log instead of the overlay's interface.
    pub can_replay: Option<PathBuf>,
    /// A bus address instead of the system bus (`cabin up`'s private bus).
    pub bus_address: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("a CAN replay ({0}) needs a [can] section in the overlay: no signal is mapped to CAN")]
    ReplayWithoutCan(String),
    #[error("cannot connect to the D-Bus system bus ({address}): {source}")]
    Connect { address: String, source: zbus::Error },
    #[error("{BUS_NAME} is already owned on this bus: is another vehicle bus running?")]
    NameTaken,
    #[error("D-Bus: {0}")]
    Bus(#[from] zbus::Error),
}

/// A running vehicle bus. Dropping it leaves the tasks running until the runtime stops.
#[derive(Debug)]
pub struct VehicleBusService {
    pub store: Arc<SignalStore>,
    pub connection: zbus::Connection,
    pub simulator: SimulatorHandle,
    /// The simulated car's head unit, on a connection of its own; `None` for a car whose speed
    /// comes from CAN, or when another head unit owns the name.
    pub head_unit: Option<(SimulatedHeadUnit, zbus::Connection)>,
}

/// Checks the configuration, starts the backends and takes the bus name.
pub async fn serve(config: VehicleConfig, options: ServeOptions) -> Result<VehicleBusService, ServeError> {
    let can = CanMapping::load(&config)?;
    // Ignored, it left every signal where the simulator put it, without a word.
    if let (None, Some(log)) = (&can, &options.can_replay) {
        return Err(ServeError::ReplayWithoutCan(log.display().to_string()));
    }
    let profile = match (options.drive_profile, &config.simulator.drive_profile) {
        (Some(profile), _) => profile,
        (None, Some(name)) => DriveProfile::named_or_file(name)?,
        (None, None) => DriveProfile::parked(),
    };
    let store = Arc::new(SignalStore::new(Arc::new(config)));

    let requests = store.attach_backend(BackendKind::Simulator);
    let simulator = cabin_vehicle_sim::start(store.clone(), requests, profile);
    if let Some(mapping) = can {
        start_can(&store, mapping, options.can_replay);
    }

    let address = options
        .bus_address
        .clone()
        .or_else(|| std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok())
        .unwrap_or_else(|| "the default system bus socket".into());
    let connect = || async {
        let builder = match &options.bus_address {
            Some(bus) => zbus::connection::Builder::address(bus.as_str()),
            None => zbus::connection::Builder::system(),
        };
        builder
            .map_err(|source| ServeError::Connect { address: address.clone(), source })?
            .build()
            .await
            .map_err(|source| ServeError::Connect { address: address.clone(), source })
    };
    let connection = connect().await?;
    let role_names = store.config().policy.bus_names().map(str::to_string).collect();
    let callers = caller::CallerResolver::new(&connection, role_names).await?;
    let server = connection.object_server();
    server.at(OBJECT_PATH, VehicleBusInterface { store: store.clone(), callers: callers.clone() }).await?;
    let speed_from = Some(store.config().backend_of("Vehicle.Speed")).filter(|b| *b != BackendKind::Simulator).map(BackendKind::name);
    server.at(OBJECT_PATH, SimulatorInterface { simulator: simulator.clone(), callers, speed_from }).await?;
    spawn_change_signals(&connection, store.clone())?;
    // The name last: once a client can see it, the service answers.
    match connection.request_name_with_flags(BUS_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner) | Ok(zbus::fdo::RequestNameReply::AlreadyOwner) => {}
        Ok(_) | Err(zbus::Error::NameTaken) => return Err(ServeError::NameTaken),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(name = BUS_NAME, signals = store.config().catalog.signals.len(), "vehicle bus serving");
    let head_unit = if store.config().backend_of("Vehicle.Speed") == BackendKind::Simulator {
        let head_unit_connection = connect().await?;
        SimulatedHeadUnit::serve(&head_unit_connection).await?.map(|head_unit| (head_unit, head_unit_connection))
    } else {
        None
    };
    Ok(VehicleBusService { store, connection, simulator, head_unit })
}

impl VehicleBusService {
    /// Returns when the bus connection is gone (the daemon died or dropped us), checking every
    /// `period`. A service without its bus serves nobody; it should exit so that systemd restarts it.
    pub async fn bus_lost(&self, period: std::time::Duration) -> zbus::Error {
        cabin_vehicle_bus_client::connection_lost(&self.connection, period).await
    }
}

fn start_can(store: &Arc<SignalStore>, mapping: CanMapping, replay: Option<PathBuf>) {
    let requests = store.attach_backend(BackendKind::Can);
    match (replay, store.config().can.as_ref().and_then(|c| c.interface.clone())) {
        (Some(log), _) => {
            // A replay has no vehicle to command: CAN actuators are refused.
            store.set_backend_online(BackendKind::Can, false);
            drop(requests);
            let store = store.clone();
            tokio::spawn(async move {
                match cabin_can::replay_log(&mapping, &store, &log, true).await {
                    Ok(applied) => tracing::info!(applied, log = %log.display(), "CAN replay finished"),
                    Err(e) => tracing::error!(error = %e, "CAN replay failed"),
                }
            });
        }
        (None, Some(interface)) => {
            tokio::spawn(cabin_can::run_socketcan(interface, mapping, store.clone(), requests));
        }
        (None, None) => {
            tracing::error!("the [can] section names no interface and no replay log was given; CAN signals stay empty");
            store.set_backend_online(BackendKind::Can, false);
        }
    }
}

/// Publishes every store change as a `Changed` signal; path is the first argument, so clients
/// filter with `arg0` or `arg0namespace` match rules.
fn spawn_change_signals(connection: &zbus::Connection, store: Arc<SignalStore>) -> zbus::Result<()> {
    let emitter = SignalEmitter::new(connection, OBJECT_PATH)?.into_owned();
    let mut changes = store.subscribe();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(change) => {
                    let datatype = store.config().catalog.signals[&*change.path].datatype;
                    let value = to_variant(&change.value, datatype);
                    if let Err(e) = VehicleBusInterface::changed(&emitter, &change.path, &value, change.timestamp_us).await {
                        tracing::warn!(error = %e, "could not emit Changed");
                    }
                }
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "Changed signals fell behind; some were not sent"),
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(())
}
