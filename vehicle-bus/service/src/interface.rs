//! `org.cabin.VehicleBus1` and its `.Simulator` companion: thin wrappers that resolve the caller,
//! call the store, and name its errors.

use std::collections::HashMap;
use std::sync::Arc;

use cabin_signal_store::{Reading, SignalStore};
use cabin_vehicle_bus_client::wire::{from_variant, owned, to_variant};
use cabin_vehicle_config::{Caller, Value};
use cabin_vehicle_sim::{DriveProfile, SimulatorHandle};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value as Variant};

use crate::caller::CallerResolver;
use crate::errors::BusError;

#[derive(Debug)]
pub struct VehicleBusInterface {
    pub(crate) store: Arc<SignalStore>,
    pub(crate) callers: Arc<CallerResolver>,
}

#[zbus::interface(name = "org.cabin.VehicleBus1")]
impl VehicleBusInterface {
    async fn get(&self, #[zbus(header)] header: Header<'_>, path: &str) -> Result<(OwnedValue, u64), BusError> {
        let caller = self.callers.resolve(&header).await?;
        let reading = self.store.get(&caller, path)?;
        let sample = reading.current.ok_or_else(|| BusError::NoValue(format!("{path} has no value yet")))?;
        Ok((owned(to_variant(&sample.value, reading.spec.datatype)), sample.timestamp_us))
    }

    async fn set(&self, #[zbus(header)] header: Header<'_>, path: &str, value: OwnedValue) -> Result<OwnedValue, BusError> {
        let caller = self.callers.resolve(&header).await?;
        self.actuate(&caller, path, &value)
    }

    /// `Set` for another connection (`principal`, a unique bus name) that asked the caller to
    /// act: the bus resolves that connection's identity itself, and the caller may then do only
    /// what both may do.
    async fn set_for(
        &self,
        #[zbus(header)] header: Header<'_>,
        path: &str,
        value: OwnedValue,
        principal: &str,
    ) -> Result<OwnedValue, BusError> {
        let mut caller = self.callers.resolve(&header).await?;
        caller.on_behalf_of = Some(Box::new(self.callers.resolve_name(principal).await?));
        self.actuate(&caller, path, &value)
    }

    async fn list(&self, #[zbus(header)] header: Header<'_>, pattern: &str) -> Result<Vec<String>, BusError> {
        let caller = self.callers.resolve(&header).await?;
        Ok(self.store.list(&caller, pattern)?.into_iter().map(|r| r.spec.path).collect())
    }

    async fn describe(&self, #[zbus(header)] header: Header<'_>, pattern: &str) -> Result<Vec<HashMap<String, OwnedValue>>, BusError> {
        let caller = self.callers.resolve(&header).await?;
        let readings = self.store.list(&caller, pattern)?;
        Ok(readings.iter().map(|r| describe(r, self.store.may_actuate(&caller, &r.spec.path))).collect())
    }

    /// `Describe` as `SetFor` would see it: `actuatable` says whether the caller may set each
    /// signal for `principal`. A task of several steps is checked whole before its first step,
    /// so a phone's "open the trunk" does not unlock the trunk and then stop.
    async fn describe_for(
        &self,
        #[zbus(header)] header: Header<'_>,
        pattern: &str,
        principal: &str,
    ) -> Result<Vec<HashMap<String, OwnedValue>>, BusError> {
        let mut caller = self.callers.resolve(&header).await?;
        let readings = self.store.list(&caller, pattern)?;
        caller.on_behalf_of = Some(Box::new(self.callers.resolve_name(principal).await?));
        Ok(readings.iter().map(|r| describe(r, self.store.may_actuate(&caller, &r.spec.path))).collect())
    }

    #[zbus(signal)]
    pub async fn changed(emitter: &SignalEmitter<'_>, path: &str, value: &Variant<'_>, timestamp_us: u64) -> zbus::Result<()>;
}

impl VehicleBusInterface {
    fn actuate(&self, caller: &Caller, path: &str, value: &OwnedValue) -> Result<OwnedValue, BusError> {
        let requested = from_variant(value).ok_or_else(|| {
            BusError::WrongType(format!("{path}: a signal value is a boolean, number or string, not {}", value.value_signature()))
        })?;
        match self.store.actuate(caller, path, &requested) {
            Ok(accepted) => {
                let principal = caller.on_behalf_of.as_ref().map(|p| p.bus_names.clone());
                tracing::info!(path, value = %accepted, uid = ?caller.uid, names = ?caller.bus_names, for_names = ?principal, "actuation accepted");
                let datatype = self.store.config().catalog.signals[path].datatype;
                Ok(owned(to_variant(&accepted, datatype)))
            }
            Err(refused) => {
                tracing::warn!(path, value = %requested, uid = ?caller.uid, names = ?caller.bus_names, reason = %refused, "actuation refused");
                Err(refused.into())
            }
        }
    }
}

fn describe(reading: &Reading, actuatable: bool) -> HashMap<String, OwnedValue> {
    let spec = &reading.spec;
    let typed = |v: &Value| owned(to_variant(v, spec.datatype));
    let mut fields = HashMap::new();
    let mut text = |key: &str, value: &str| {
        fields.insert(key.to_string(), owned(Variant::from(value.to_string())));
    };
    text("path", &spec.path);
    text("type", spec.kind.name());
    text("datatype", spec.datatype.name());
    text("description", &spec.description);
    if let Some(unit) = &spec.unit {
        text("unit", unit);
    }
    for (key, value) in [("min", &spec.min), ("max", &spec.max), ("target", &reading.target)] {
        if let Some(value) = value {
            fields.insert(key.into(), typed(value));
        }
    }
    if let Some(allowed) = &spec.allowed {
        let items: Vec<Variant<'static>> = allowed.iter().map(|v| Variant::from(owned(to_variant(v, spec.datatype)))).collect();
        fields.insert("allowed".into(), owned(Variant::from(items)));
    }
    if let Some(sample) = &reading.current {
        fields.insert("value".into(), typed(&sample.value));
        fields.insert("timestamp_us".into(), owned(Variant::U64(sample.timestamp_us)));
    }
    fields.insert("actuatable".into(), owned(Variant::Bool(actuatable)));
    fields
}

/// Drives the simulated vehicle; for local diagnostics only (root or the service's own user).
#[derive(Debug)]
pub struct SimulatorInterface {
    pub(crate) simulator: SimulatorHandle,
    pub(crate) callers: Arc<CallerResolver>,
    /// The backend that feeds `Vehicle.Speed`, when it is not the simulator: a drive asked of it
    /// would change nothing.
    pub(crate) speed_from: Option<&'static str>,
}

impl SimulatorInterface {
    async fn check(&self, header: &Header<'_>) -> Result<(), BusError> {
        let caller = self.callers.resolve(header).await?;
        if !(caller.is_service_user || caller.uid == Some(0)) {
            return Err(BusError::NotPermitted("only root or the service's own user may drive the simulator".into()));
        }
        match self.speed_from {
            Some(backend) => Err(BusError::BackendUnavailable(format!(
                "Vehicle.Speed comes from the {backend} backend: the simulator does not drive this car"
            ))),
            None => Ok(()),
        }
    }
}

#[zbus::interface(name = "org.cabin.VehicleBus1.Simulator")]
impl SimulatorInterface {
    async fn drive(&self, #[zbus(header)] header: Header<'_>, speed_kmh: f64, ramp_s: f64) -> Result<(), BusError> {
        self.check(&header).await?;
        if !(0.0..=400.0).contains(&speed_kmh) || !(0.0..=3600.0).contains(&ramp_s) {
            return Err(BusError::OutOfRange(format!("speed {speed_kmh} km/h over {ramp_s} s: speed must be 0..400, ramp 0..3600")));
        }
        tracing::info!(speed_kmh, ramp_s, "simulator drive");
        self.simulator.set_profile(DriveProfile::cruise(speed_kmh, ramp_s));
        Ok(())
    }

    async fn load_profile(&self, #[zbus(header)] header: Header<'_>, profile: &str) -> Result<(), BusError> {
        self.check(&header).await?;
        let profile = DriveProfile::from_toml("profile", profile).map_err(|e| BusError::InvalidArgument(e.to_string()))?;
        self.simulator.set_profile(profile);
        Ok(())
    }
}
