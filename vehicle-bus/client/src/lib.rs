//! A typed client of the vehicle bus (`org.cabin.VehicleBus1`), for the CLI and for Cabin's other
//! services. Refusals come back as [`ClientError::Refused`] with the service's reason, so that a
//! caller can tell an interlock from a typo.

pub mod wire;

use std::collections::HashMap;

use cabin_vehicle_config::{Datatype, PathGlob, SignalKind, SignalSpec, Value};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use zbus::zvariant::{OwnedValue, Value as Variant};
use zbus::{MatchRule, MessageStream};

pub use wire::Refusal;

#[zbus::proxy(
    interface = "org.cabin.VehicleBus1",
    default_service = "org.cabin.VehicleBus1",
    default_path = "/org/cabin/VehicleBus1",
    gen_blocking = false
)]
pub trait VehicleBus {
    /// The current value of a signal and its timestamp (µs since the Unix epoch).
    fn get(&self, path: &str) -> zbus::Result<(OwnedValue, u64)>;
    /// Requests an actuator value; returns the value as typed for the signal.
    fn set(&self, path: &str, value: &Variant<'_>) -> zbus::Result<OwnedValue>;
    /// Like `set`, for the connection `principal` (a unique bus name) that asked the caller to
    /// act: allowed only if both the caller and that connection may.
    fn set_for(&self, path: &str, value: &Variant<'_>, principal: &str) -> zbus::Result<OwnedValue>;
    /// The paths a glob selects that the caller may read.
    fn list(&self, pattern: &str) -> zbus::Result<Vec<String>>;
    /// Metadata and current value of each selected signal.
    fn describe(&self, pattern: &str) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    /// Like `describe`, with `actuatable` as `set_for` on behalf of `principal` would decide it.
    fn describe_for(&self, pattern: &str, principal: &str) -> zbus::Result<Vec<HashMap<String, OwnedValue>>>;
    #[zbus(signal)]
    fn changed(&self, path: String, value: OwnedValue, timestamp_us: u64) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.cabin.VehicleBus1.Simulator",
    default_service = "org.cabin.VehicleBus1",
    default_path = "/org/cabin/VehicleBus1",
    gen_blocking = false
)]
pub trait Simulator {
    /// Reach `speed_kmh` over `ramp_s` seconds and hold it.
    fn drive(&self, speed_kmh: f64, ramp_s: f64) -> zbus::Result<()>;
    /// Follow a drive profile given as TOML text.
    fn load_profile(&self, profile: &str) -> zbus::Result<()>;
}

/// The head unit's navigation (`org.cabin.HeadUnit1`): the OEM's infotainment in a car, the
/// vehicle bus's simulated one otherwise.
#[zbus::proxy(
    interface = "org.cabin.HeadUnit1.Navigation",
    default_service = "org.cabin.HeadUnit1",
    default_path = "/org/cabin/HeadUnit1",
    gen_blocking = false
)]
pub trait HeadUnitNavigation {
    fn set_destination(&self, destination: &str) -> zbus::Result<()>;
    fn cancel(&self) -> zbus::Result<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    #[error("the vehicle bus is not running (nobody owns {} on this bus)", wire::BUS_NAME)]
    NotRunning,
    #[error("cannot connect to the D-Bus system bus ({address}): {source}")]
    Connect { address: String, source: Box<zbus::Error> },
    #[error("D-Bus: {0}")]
    Bus(Box<zbus::Error>),
    #[error("unexpected reply from the vehicle bus: {0}")]
    Protocol(String),
}

impl From<zbus::Error> for ClientError {
    fn from(error: zbus::Error) -> Self {
        if let zbus::Error::MethodError(name, message, _) = &error {
            let message = message.clone().unwrap_or_default();
            if let Some(refusal) = Refusal::from_error_name(name.as_str()) {
                return Self::Refused { refusal, message };
            }
            if matches!(name.as_str(), "org.freedesktop.DBus.Error.ServiceUnknown" | "org.freedesktop.DBus.Error.NameHasNoOwner") {
                return Self::NotRunning;
            }
        }
        Self::Bus(Box::new(error))
    }
}

/// A signal's value at a moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub path: String,
    pub value: Value,
    pub timestamp_us: u64,
}

/// What `describe` says of one signal: its catalog entry, its value, and what this caller may do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalInfo {
    #[serde(flatten)]
    pub spec: SignalSpec,
    pub value: Option<Value>,
    pub timestamp_us: Option<u64>,
    /// The last accepted request the vehicle may not have reached yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
    /// Whether this caller may actuate it.
    pub actuatable: bool,
}

#[derive(Debug, Clone)]
pub struct VehicleBusClient {
    connection: zbus::Connection,
    proxy: VehicleBusProxy<'static>,
}

impl VehicleBusClient {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set).
    pub async fn connect() -> Result<Self, ClientError> {
        let connection = zbus::Connection::system().await.map_err(connect_error)?;
        Self::on(connection).await
    }

    /// Connects to the bus at `address` (a D-Bus address such as `unix:path=/run/...`).
    pub async fn connect_to(address: &str) -> Result<Self, ClientError> {
        let connection = zbus::connection::Builder::address(address)
            .map_err(|source| ClientError::Connect { address: address.to_string(), source: Box::new(source) })?
            .build()
            .await
            .map_err(|source| ClientError::Connect { address: address.to_string(), source: Box::new(source) })?;
        Self::on(connection).await
    }

    /// Connects owning a well-known name, which is how Cabin's own services prove their role.
    pub async fn connect_as(name: &str) -> Result<Self, ClientError> {
        let connection = zbus::connection::Builder::system()
            .and_then(|b| b.name(name.to_string()))
            .map_err(connect_error)?
            .build()
            .await
            .map_err(connect_error)?;
        Self::on(connection).await
    }

    pub async fn on(connection: zbus::Connection) -> Result<Self, ClientError> {
        let proxy = VehicleBusProxy::builder(&connection).cache_properties(zbus::proxy::CacheProperties::No).build().await?;
        Ok(Self { connection, proxy })
    }

    pub fn connection(&self) -> &zbus::Connection {
        &self.connection
    }

    pub async fn get(&self, path: &str) -> Result<Reading, ClientError> {
        let (value, timestamp_us) = self.proxy.get(path).await?;
        Ok(Reading { path: path.to_string(), value: decode(&value)?, timestamp_us })
    }

    /// Requests an actuator value; the service types it (a `Value::Int(50)` for a uint8 is fine).
    pub async fn set(&self, path: &str, value: &Value) -> Result<Value, ClientError> {
        let accepted = self.proxy.set(path, &wire::to_variant_untyped(value)).await?;
        decode(&accepted)
    }

    /// Sets a signal for the connection `principal` (the unique bus name of whoever asked us):
    /// the vehicle bus allows it only if that connection may actuate it too.
    pub async fn set_for(&self, path: &str, value: &Value, principal: &str) -> Result<Value, ClientError> {
        let accepted = self.proxy.set_for(path, &wire::to_variant_untyped(value), principal).await?;
        decode(&accepted)
    }

    pub async fn list(&self, pattern: &str) -> Result<Vec<String>, ClientError> {
        Ok(self.proxy.list(pattern).await?)
    }

    pub async fn describe(&self, pattern: &str) -> Result<Vec<SignalInfo>, ClientError> {
        self.proxy.describe(pattern).await?.iter().map(signal_info).collect()
    }

    /// Like `describe`, with `actuatable` saying whether `set_for(…, principal)` may set it.
    pub async fn describe_for(&self, pattern: &str, principal: &str) -> Result<Vec<SignalInfo>, ClientError> {
        self.proxy.describe_for(pattern, principal).await?.iter().map(signal_info).collect()
    }

    /// Drives the simulated vehicle: reach `speed_kmh` over `ramp_s` seconds and hold it.
    pub async fn drive(&self, speed_kmh: f64, ramp_s: f64) -> Result<(), ClientError> {
        Ok(self.simulator().await?.drive(speed_kmh, ramp_s).await?)
    }

    /// Makes the simulated vehicle follow a drive profile (TOML text).
    pub async fn load_profile(&self, profile: &str) -> Result<(), ClientError> {
        Ok(self.simulator().await?.load_profile(profile).await?)
    }

    async fn simulator(&self) -> Result<SimulatorProxy<'static>, ClientError> {
        Ok(SimulatorProxy::builder(&self.connection).cache_properties(zbus::proxy::CacheProperties::No).build().await?)
    }

    /// Changes of the signals a glob selects, filtered by the bus where the pattern allows
    /// (an exact path, or the branch above the first wildcard).
    pub async fn watch(&self, pattern: &str) -> Result<impl Stream<Item = Reading> + use<>, ClientError> {
        let glob =
            PathGlob::new(pattern).map_err(|m| ClientError::Refused { refusal: Refusal::InvalidArgument, message: m.to_string() })?;
        let mut rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .path(wire::OBJECT_PATH)?
            .interface(wire::INTERFACE)?
            .member("Changed")?;
        let literal: Vec<&str> = pattern.split('.').take_while(|s| !s.contains('*')).collect();
        if glob.is_literal() {
            rule = rule.arg0ns(pattern.to_string())?;
        } else if literal.len() >= 2 {
            rule = rule.arg0ns(literal.join("."))?;
        }
        let stream = MessageStream::for_match_rule(rule.build(), &self.connection, Some(4096)).await?;
        Ok(stream.filter_map(move |message| {
            let glob = glob.clone();
            async move {
                let message = message.ok()?;
                let (path, value, timestamp_us): (String, OwnedValue, u64) = message.body().deserialize().ok()?;
                if !glob.matches_or_below(&path) {
                    return None;
                }
                Some(Reading { path, value: decode(&value).ok()?, timestamp_us })
            }
        }))
    }
}

/// Returns when the bus connection is gone (the daemon died or dropped us), checking every
/// `period`. A service without its bus serves nobody; it should exit so that systemd restarts it.
pub async fn connection_lost(connection: &zbus::Connection, period: std::time::Duration) -> zbus::Error {
    let dbus = match zbus::fdo::DBusProxy::new(connection).await {
        Ok(dbus) => dbus,
        Err(e) => return e,
    };
    loop {
        tokio::time::sleep(period).await;
        if let Err(e) = dbus.get_id().await {
            return e.into();
        }
    }
}

fn connect_error(source: zbus::Error) -> ClientError {
    let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| "the default system bus socket".into());
    ClientError::Connect { address, source: Box::new(source) }
}

fn decode(value: &OwnedValue) -> Result<Value, ClientError> {
    wire::from_variant(value).ok_or_else(|| ClientError::Protocol(format!("not a signal value: {value:?}")))
}

fn signal_info(fields: &HashMap<String, OwnedValue>) -> Result<SignalInfo, ClientError> {
    let text = |key: &str| fields.get(key).and_then(|v| String::try_from(v.try_clone().ok()?).ok());
    let value = |key: &str| fields.get(key).and_then(|v| wire::from_variant(v));
    let allowed = fields.get("allowed").and_then(|v| match &**v {
        Variant::Array(items) => Some(items.iter().filter_map(wire::from_variant).collect()),
        _ => None,
    });
    let protocol = |what: &str| ClientError::Protocol(format!("describe entry without a valid {what}"));
    let spec = SignalSpec {
        path: text("path").ok_or_else(|| protocol("path"))?,
        kind: text("type").and_then(|t| SignalKind::parse(&t)).ok_or_else(|| protocol("type"))?,
        datatype: text("datatype").and_then(|d| Datatype::parse(&d)).ok_or_else(|| protocol("datatype"))?,
        unit: text("unit"),
        min: value("min"),
        max: value("max"),
        allowed,
        default: None,
        description: text("description").unwrap_or_default(),
    };
    Ok(SignalInfo {
        spec,
        value: value("value"),
        timestamp_us: fields.get("timestamp_us").and_then(|v| u64::try_from(v).ok()),
        target: value("target"),
        actuatable: fields.get("actuatable").and_then(|v| bool::try_from(v).ok()).unwrap_or(false),
    })
}
