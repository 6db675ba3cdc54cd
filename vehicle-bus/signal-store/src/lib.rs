//! The signal store: each signal's current value and timestamp, change subscriptions, and the
//! checks every actuation request passes before a backend sees it. It knows nothing of D-Bus;
//! each operation returns its own plain error enum, named for the wire only at the edge.
//!
//! Actuation is a request: the store checks it and hands it to the backend that feeds the signal
//! (the simulator, CAN). The value changes when the backend reports the vehicle has moved, the way
//! a real window takes a while to open.

mod errors;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use cabin_vehicle_config::{AccessPolicy, BackendKind, Caller, PathGlob, SignalKind, SignalSpec, Value, VehicleConfig};
use tokio::sync::{broadcast, mpsc};

pub use errors::{ActuateError, ReadError, UpdateError};

/// How many changes a slow subscriber may fall behind before it misses some.
const CHANGE_BUFFER: usize = 8192;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub value: Value,
    /// Microseconds since the Unix epoch.
    pub timestamp_us: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: Arc<str>,
    pub value: Value,
    pub timestamp_us: u64,
}

/// A checked request for a backend to move an actuator.
#[derive(Debug, Clone, PartialEq)]
pub struct ActuationRequest {
    pub path: Arc<str>,
    pub value: Value,
}

/// What a reader sees of one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub spec: SignalSpec,
    pub current: Option<Sample>,
    /// The last accepted actuation request, which the vehicle may not have reached yet.
    pub target: Option<Value>,
}

#[derive(Debug, Default)]
struct Slot {
    current: Option<Sample>,
    target: Option<Value>,
}

#[derive(Debug)]
pub struct SignalStore {
    config: Arc<VehicleConfig>,
    index: HashMap<Arc<str>, usize>,
    slots: Vec<RwLock<Slot>>,
    changes: broadcast::Sender<Change>,
    backends: RwLock<HashMap<BackendKind, Backend>>,
}

#[derive(Debug)]
struct Backend {
    requests: mpsc::UnboundedSender<ActuationRequest>,
    online: bool,
}

impl SignalStore {
    pub fn new(config: Arc<VehicleConfig>) -> Self {
        let index = config.catalog.signals.keys().enumerate().map(|(i, path)| (Arc::from(path.as_str()), i)).collect();
        let slots = config.catalog.signals.values().map(|_| RwLock::new(Slot::default())).collect();
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        Self { config, index, slots, changes, backends: RwLock::new(HashMap::new()) }
    }

    pub fn config(&self) -> &VehicleConfig {
        &self.config
    }

    /// Connects a backend: it receives the actuation requests for the signals it feeds.
    pub fn attach_backend(&self, kind: BackendKind) -> mpsc::UnboundedReceiver<ActuationRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.backends.write().expect("backend table poisoned").insert(kind, Backend { requests: tx, online: true });
        rx
    }

    /// A backend that lost its vehicle connection says so; actuation of its signals is refused
    /// until it is back, rather than queued to fire later.
    pub fn set_backend_online(&self, kind: BackendKind, online: bool) {
        if let Some(backend) = self.backends.write().expect("backend table poisoned").get_mut(&kind) {
            backend.online = online;
        }
    }

    /// Every change from now on; subscribers filter by path themselves.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub fn get(&self, caller: &Caller, path: &str) -> Result<Reading, ReadError> {
        let (key, slot) = self.slot(path).ok_or_else(|| ReadError::UnknownSignal(path.to_string()))?;
        let roles = self.config.policy.roles_of(caller);
        if !AccessPolicy::may_read(&roles, path) {
            return Err(ReadError::NotPermitted(key.to_string()));
        }
        let slot = slot.read().expect("slot poisoned");
        Ok(Reading { spec: self.spec(path).clone(), current: slot.current.clone(), target: slot.target.clone() })
    }

    /// The signals a glob selects that the caller may read, in path order.
    pub fn list(&self, caller: &Caller, pattern: &str) -> Result<Vec<Reading>, ReadError> {
        let glob = PathGlob::new(pattern)?;
        let roles = self.config.policy.roles_of(caller);
        Ok(self
            .config
            .select(&glob)
            .filter(|spec| AccessPolicy::may_read(&roles, &spec.path))
            .map(|spec| {
                let slot = self.slots[self.index[spec.path.as_str()]].read().expect("slot poisoned");
                Reading { spec: spec.clone(), current: slot.current.clone(), target: slot.target.clone() }
            })
            .collect())
    }

    /// Whether the caller may actuate `path`, for clients that show what they can do.
    pub fn may_actuate(&self, caller: &Caller, path: &str) -> bool {
        self.config.catalog.get(path).is_some_and(|s| s.kind == SignalKind::Actuator) && self.config.policy.may_actuate_as(caller, path)
    }

    /// Checks a request to move an actuator and passes it to its backend. A refused request changes
    /// nothing. Returns the value as typed for the signal.
    pub fn actuate(&self, caller: &Caller, path: &str, requested: &Value) -> Result<Value, ActuateError> {
        let (key, slot) = self.slot(path).ok_or_else(|| ActuateError::UnknownSignal(path.to_string()))?;
        let spec = self.spec(path);
        if spec.kind != SignalKind::Actuator {
            return Err(ActuateError::ReadOnly { path: path.to_string(), kind: spec.kind.name() });
        }
        if !self.config.policy.may_actuate_as(caller, path) {
            let roles = self.config.policy.roles_of(caller);
            return Err(ActuateError::NotPermitted { path: path.to_string(), roles: roles.iter().map(|r| r.name.clone()).collect() });
        }
        let value = requested.coerce(spec.datatype).map_err(|e| match e {
            cabin_vehicle_config::CoerceError::WrongType { expected, found } => {
                ActuateError::WrongType { path: path.to_string(), expected, found }
            }
            cabin_vehicle_config::CoerceError::NotRepresentable { .. } => {
                ActuateError::OutOfRange { path: path.to_string(), reason: e.to_string() }
            }
        })?;
        spec.check_limits(&value).map_err(|e| ActuateError::OutOfRange { path: path.to_string(), reason: e.to_string() })?;
        self.check_interlocks(path, &value)?;

        let backend = self.config.backend_of(path);
        let sent = self
            .backends
            .read()
            .expect("backend table poisoned")
            .get(&backend)
            .is_some_and(|b| b.online && b.requests.send(ActuationRequest { path: key.clone(), value: value.clone() }).is_ok());
        if !sent {
            return Err(ActuateError::BackendUnavailable { path: path.to_string(), backend: backend.name() });
        }
        slot.write().expect("slot poisoned").target = Some(value.clone());
        Ok(value)
    }

    /// Records a value reported by a backend (the vehicle's own word, so no role check) and tells
    /// subscribers. A value that does not fit the catalog is refused: it means a mapping is wrong.
    pub fn update(&self, path: &str, value: &Value) -> Result<(), UpdateError> {
        let (key, slot) = self.slot(path).ok_or_else(|| UpdateError::UnknownSignal(path.to_string()))?;
        let spec = self.spec(path);
        let value = value.coerce(spec.datatype).map_err(|e| UpdateError::Invalid { path: path.to_string(), reason: e.to_string() })?;
        spec.check_limits(&value).map_err(|e| UpdateError::Invalid { path: path.to_string(), reason: e.to_string() })?;
        let timestamp_us = now_us();
        {
            let mut slot = slot.write().expect("slot poisoned");
            slot.current = Some(Sample { value: value.clone(), timestamp_us });
        }
        // No subscriber is not an error.
        let _ = self.changes.send(Change { path: key.clone(), value, timestamp_us });
        Ok(())
    }

    fn check_interlocks(&self, path: &str, value: &Value) -> Result<(), ActuateError> {
        for interlock in &self.config.interlocks {
            if !interlock.guards(path, value) {
                continue;
            }
            // Fail safe: a condition whose signal has no value yet counts as holding.
            let active = interlock.when.iter().all(|condition| match self.current(&condition.path) {
                Some(current) => condition.comparison.holds(&current),
                None => true,
            });
            if active {
                return Err(ActuateError::InterlockActive {
                    path: path.to_string(),
                    interlock: interlock.name.clone(),
                    reason: interlock.reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// The current value, for backends and the store's own checks (callers go through `get`).
    pub fn get_unchecked(&self, path: &str) -> Option<Value> {
        self.current(path)
    }

    fn current(&self, path: &str) -> Option<Value> {
        let (_, slot) = self.slot(path)?;
        let slot = slot.read().expect("slot poisoned");
        slot.current.as_ref().map(|s| s.value.clone())
    }

    fn slot(&self, path: &str) -> Option<(&Arc<str>, &RwLock<Slot>)> {
        let (key, &i) = self.index.get_key_value(path)?;
        Some((key, &self.slots[i]))
    }

    fn spec(&self, path: &str) -> &SignalSpec {
        &self.config.catalog.signals[path]
    }
}

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
