//! The simulated vehicle, Cabin's default backend: every signal it feeds starts at a plausible
//! value, an accepted actuation moves its signal after a realistic delay (a window travels, a lock
//! clicks), and speed, gear, distance and fuel follow a drive profile that can be changed live.

mod profile;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cabin_signal_store::{ActuationRequest, SignalStore};
use cabin_vehicle_config::{BackendKind, Datatype, PathGlob, SignalSpec, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};

pub use profile::{DriveProfile, DriveStep, ProfileError};

/// How often the drive model advances.
const TICK: Duration = Duration::from_millis(100);
/// A hybrid with a 50 l tank using 7 l/100 km.
const TANK_LITRES: f64 = 50.0;
const LITRES_PER_KM: f64 = 0.07;

/// How an actuator reaches a requested value: after a fixed delay, or travelling at a rate.
#[derive(Debug, Clone, Copy)]
enum Motion {
    After(Duration),
    /// Units per second, reported every tick on the way.
    Travel(f64),
}

fn motion_of(path: &str) -> Motion {
    const MOTIONS: &[(&str, Motion)] = &[
        ("Vehicle.Cabin.Door.*.*.Window.Position", Motion::Travel(25.0)),
        ("Vehicle.Body.Trunk.Rear.IsOpen", Motion::After(Duration::from_millis(1200))),
        ("Vehicle.**.IsLocked", Motion::After(Duration::from_millis(300))),
        ("Vehicle.Cabin.Infotainment.**", Motion::After(Duration::from_millis(50))),
    ];
    MOTIONS
        .iter()
        .find(|(glob, _)| PathGlob::new(glob).expect("valid built-in glob").matches(path))
        .map(|(_, m)| *m)
        .unwrap_or(Motion::After(Duration::from_millis(200)))
}

/// Plausible starting values for a parked car.
fn built_in_initial(path: &str) -> Option<Value> {
    Some(match path {
        "Vehicle.Speed" => Value::Float(0.0),
        "Vehicle.IsMoving" => Value::Bool(false),
        "Vehicle.TraveledDistance" => Value::Float(12_480.0),
        "Vehicle.Powertrain.Transmission.CurrentGear" => Value::Int(0),
        // VSS: 126 is Park, 127 Drive.
        "Vehicle.Powertrain.Transmission.SelectedGear" => Value::Int(126),
        "Vehicle.Powertrain.FuelSystem.RelativeLevel" => Value::Uint(64),
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current" => Value::Float(80.0),
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Displayed" => Value::Float(80.0),
        "Vehicle.Powertrain.TractionBattery.Range" => Value::Uint(48_000),
        "Vehicle.Powertrain.Type" => Value::String("HYBRID".into()),
        "Vehicle.Exterior.AirTemperature" => Value::Float(18.5),
        "Vehicle.Cabin.HVAC.AmbientAirTemperature" => Value::Float(21.0),
        "Vehicle.Cabin.Infotainment.Media.Volume" => Value::Uint(30),
        "Vehicle.VehicleIdentification.VIN" => Value::String("CABINSIM000000001".into()),
        p if p.ends_with(".Tire.Pressure") => Value::Uint(240),
        p if p.starts_with("Vehicle.Cabin.HVAC.Station.") && p.ends_with(".Temperature") => Value::Int(21),
        p if p.ends_with(".IsLocked") => Value::Bool(true),
        _ => return None,
    })
}

/// A value inside the signal's limits for anything without a better guess.
fn neutral(spec: &SignalSpec) -> Value {
    if let Some(first) = spec.allowed.as_ref().and_then(|a| a.first()) {
        return first.clone();
    }
    let zero = match spec.datatype {
        Datatype::Boolean => return Value::Bool(false),
        Datatype::String => return Value::String(String::new()),
        Datatype::Float | Datatype::Double => Value::Float(0.0),
        _ => Value::Int(0),
    };
    match &spec.min {
        Some(min) if zero.compare(min) == Some(std::cmp::Ordering::Less) => min.clone(),
        _ => zero,
    }
}

/// Controls a running simulator.
#[derive(Debug, Clone)]
pub struct SimulatorHandle {
    profile: watch::Sender<DriveProfile>,
}

impl SimulatorHandle {
    /// Switches to a new drive profile, starting from the current speed.
    pub fn set_profile(&self, profile: DriveProfile) {
        self.profile.send_replace(profile);
    }
}

/// Sets initial values and starts the actuator and drive tasks on the current tokio runtime.
pub fn start(store: Arc<SignalStore>, requests: mpsc::UnboundedReceiver<ActuationRequest>, profile: DriveProfile) -> SimulatorHandle {
    let config = store.config();
    let fed: Vec<&SignalSpec> = config.catalog.signals.values().filter(|s| config.backend_of(&s.path) == BackendKind::Simulator).collect();
    for spec in &fed {
        let value = config
            .simulator
            .initial
            .get(&spec.path)
            .cloned()
            .or_else(|| built_in_initial(&spec.path))
            .or_else(|| spec.default.clone())
            .unwrap_or_else(|| neutral(spec));
        if let Err(e) = store.update(&spec.path, &value) {
            tracing::warn!(error = %e, "simulator could not set an initial value");
        }
    }
    let (profile_tx, profile_rx) = watch::channel(profile);
    let instant = config.simulator.instant;
    tokio::spawn(move_actuators(store.clone(), requests, instant));
    tokio::spawn(drive(store, profile_rx));
    SimulatorHandle { profile: profile_tx }
}

async fn move_actuators(store: Arc<SignalStore>, mut requests: mpsc::UnboundedReceiver<ActuationRequest>, instant: bool) {
    let mut moving: HashMap<Arc<str>, JoinHandle<()>> = HashMap::new();
    while let Some(request) = requests.recv().await {
        tracing::debug!(path = %request.path, value = %request.value, "simulator actuating");
        if instant {
            if let Err(e) = store.update(&request.path, &request.value) {
                tracing::warn!(error = %e, "simulator could not apply an actuation");
            }
            continue;
        }
        // A new request for the same actuator replaces the one under way, as a real motor would.
        if let Some(previous) = moving.remove(&request.path) {
            previous.abort();
        }
        moving.retain(|_, task| !task.is_finished());
        let path = request.path.clone();
        moving.insert(path, tokio::spawn(move_one(store.clone(), request)));
    }
}

async fn move_one(store: Arc<SignalStore>, request: ActuationRequest) {
    let path = &*request.path;
    let from = store.get_unchecked(path).and_then(|v| v.as_f64());
    match (motion_of(path), from, request.value.as_f64()) {
        (Motion::Travel(rate), Some(mut at), Some(target)) => {
            let step = rate * TICK.as_secs_f64();
            let mut ticks = interval(TICK);
            ticks.tick().await;
            while (target - at).abs() > f64::EPSILON {
                ticks.tick().await;
                at = if target > at { (at + step).min(target) } else { (at - step).max(target) };
                let _ = store.update(path, &Value::Float(at.round()));
            }
        }
        (motion, ..) => {
            // A travelling actuator with no numeric position to travel from simply arrives.
            let delay = match motion {
                Motion::After(delay) => delay,
                Motion::Travel(_) => TICK,
            };
            sleep(delay).await;
            if let Err(e) = store.update(path, &request.value) {
                tracing::warn!(error = %e, "simulator could not apply an actuation");
            }
        }
    }
}

async fn drive(store: Arc<SignalStore>, mut profiles: watch::Receiver<DriveProfile>) {
    let mut profile = profiles.borrow_and_update().clone();
    let mut started = Instant::now();
    let mut start_speed = store.get_unchecked("Vehicle.Speed").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let mut speed = start_speed;
    let mut distance = store.get_unchecked("Vehicle.TraveledDistance").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let mut fuel_litres = store
        .get_unchecked("Vehicle.Powertrain.FuelSystem.RelativeLevel")
        .and_then(|v| v.as_f64())
        .map(|pct| pct / 100.0 * TANK_LITRES)
        .unwrap_or(TANK_LITRES);
    let mut ticks = interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last = Reported::new(&store);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            changed = profiles.changed() => {
                if changed.is_err() {
                    return;
                }
                profile = profiles.borrow_and_update().clone();
                started = Instant::now();
                start_speed = speed;
            }
        }
        let previous = speed;
        speed = profile.speed_at(start_speed, started.elapsed().as_secs_f64()).max(0.0);
        let km = (previous + speed) / 2.0 * TICK.as_secs_f64() / 3600.0;
        distance += km;
        fuel_litres = (fuel_litres - km * LITRES_PER_KM).max(0.0);
        last.report(&store, speed, distance, fuel_litres);
    }
}

/// What the drive model last published, so that a parked car does not chatter.
#[derive(Debug)]
struct Reported {
    /// The drive model's signals this simulator feeds.
    fed: Vec<&'static str>,
    values: HashMap<&'static str, Value>,
}

impl Reported {
    const DRIVE_SIGNALS: [&'static str; 8] = [
        "Vehicle.Speed",
        "Vehicle.IsMoving",
        "Vehicle.Powertrain.Transmission.CurrentGear",
        "Vehicle.Powertrain.Transmission.SelectedGear",
        "Vehicle.TraveledDistance",
        "Vehicle.Powertrain.FuelSystem.RelativeLevel",
        "Vehicle.Powertrain.FuelSystem.Range",
        "Vehicle.Powertrain.Range",
    ];

    fn new(store: &SignalStore) -> Self {
        let config = store.config();
        let fed = Self::DRIVE_SIGNALS
            .into_iter()
            .filter(|path| config.catalog.get(path).is_some() && config.backend_of(path) == BackendKind::Simulator)
            .collect();
        Self { fed, values: HashMap::new() }
    }

    fn report(&mut self, store: &SignalStore, speed: f64, distance: f64, fuel_litres: f64) {
        let moving = speed > 0.0;
        let fuel_pct = (fuel_litres / TANK_LITRES * 100.0).round();
        let range_m = (fuel_litres / LITRES_PER_KM * 1000.0).round();
        // The car's range is what fuel and battery together still give (a hybrid's battery is
        // not drained by this model).
        let battery_range_m = store.get_unchecked("Vehicle.Powertrain.TractionBattery.Range").and_then(|v| v.as_f64()).unwrap_or(0.0);
        let speed = (speed * 10.0).round() / 10.0;
        let gear = if moving { 1 + (speed / 25.0).floor().min(5.0) as i64 } else { 0 };
        let updates: [(&'static str, Value); 8] = [
            ("Vehicle.Speed", Value::Float(speed)),
            ("Vehicle.IsMoving", Value::Bool(moving)),
            ("Vehicle.Powertrain.Transmission.CurrentGear", Value::Int(gear)),
            ("Vehicle.Powertrain.Transmission.SelectedGear", Value::Int(if moving { 127 } else { 126 })),
            ("Vehicle.TraveledDistance", Value::Float((distance * 10.0).round() / 10.0)),
            ("Vehicle.Powertrain.FuelSystem.RelativeLevel", Value::Float(fuel_pct)),
            ("Vehicle.Powertrain.FuelSystem.Range", Value::Float(range_m)),
            ("Vehicle.Powertrain.Range", Value::Float(range_m + battery_range_m)),
        ];
        for (path, value) in updates {
            // Signals the catalog lacks, or another backend feeds, were left out at the start.
            if !self.fed.contains(&path) || self.values.get(path) == Some(&value) {
                continue;
            }
            if store.update(path, &value).is_ok() {
                self.values.insert(path, value);
            }
        }
    }
}

#[cfg(test)]
mod tests;
