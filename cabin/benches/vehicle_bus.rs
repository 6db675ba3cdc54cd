//! Vehicle-bus figures on this machine, in one run (`cargo bench -p cabin --bench vehicle_bus`):
//! signal updates per second through the store, D-Bus `Set` -> `Changed` round trip p50/p99 against
//! a real `cabin serve vehicle-bus` on a private dbus-daemon, and that service's resident memory.
//! Anchor: Eclipse KUKSA databroker, 83,935 updates/s, p99 1.2 ms over gRPC.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cabin_private_bus::PrivateBus;
use cabin_signal_store::SignalStore;
use cabin_vehicle_bus_client::VehicleBusClient;
use cabin_vehicle_config::{embedded_catalog, embedded_overlay, Value, VehicleConfig};
use futures_util::StreamExt;

const UPDATES: usize = 1_000_000;
const ROUND_TRIPS: usize = 2_000;
const VOLUME: &str = "Vehicle.Cabin.Infotainment.Media.Volume";

fn main() {
    // `cargo bench` passes --bench; nothing to filter.
    let (alone, subscribed) = store_updates_per_second();
    println!("store updates/s (no subscriber):         {alone:>10.0}");
    println!("store updates/s (one live subscriber):   {subscribed:>10.0}");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (p50, p99, max, rss_kib) = runtime.block_on(dbus_round_trip());
    println!("D-Bus Set -> Changed round trip, {ROUND_TRIPS} sets: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms");
    println!("vehicle-bus service resident memory:      {:.1} MiB", rss_kib as f64 / 1024.0);
}

fn store_updates_per_second() -> (f64, f64) {
    let store = Arc::new(SignalStore::new(Arc::new(VehicleConfig::load(&embedded_catalog(), &[embedded_overlay()]).unwrap())));
    let values: Vec<Value> = (0..100).map(|i| Value::Float(i as f64)).collect();
    let run = |store: &SignalStore| {
        let started = Instant::now();
        for i in 0..UPDATES {
            store.update("Vehicle.Speed", &values[i % values.len()]).unwrap();
        }
        UPDATES as f64 / started.elapsed().as_secs_f64()
    };
    let alone = run(&store);
    let mut changes = store.subscribe();
    let drain = std::thread::spawn(move || {
        let mut seen = 0usize;
        while seen < UPDATES {
            match changes.blocking_recv() {
                Ok(_) => seen += 1,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => seen += n as usize,
                Err(_) => break,
            }
        }
    });
    let subscribed = run(&store);
    drain.join().unwrap();
    (alone, subscribed)
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn dbus_round_trip() -> (f64, f64, f64, u64) {
    let bus = PrivateBus::start().expect("dbus-daemon");
    let dir = tempfile::tempdir().unwrap();
    // The shipped overlay, plus actuators that move at once so the round trip is the bus's own.
    let defaults = dir.path().join("overlay.toml");
    let instant = dir.path().join("instant.toml");
    std::fs::write(&defaults, cabin_vehicle_config::DEFAULT_OVERLAY).unwrap();
    std::fs::write(&instant, "[simulator]\ninstant = true\n").unwrap();
    let overlays = format!("{}:{}", defaults.display(), instant.display());
    let service = Service(
        Command::new(env!("CARGO_BIN_EXE_cabin"))
            .args(["serve", "vehicle-bus", "--overlay", &overlays])
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .env("CABIN_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = loop {
        if let Ok(client) = VehicleBusClient::connect_to(bus.address()).await {
            if client.get(VOLUME).await.is_ok() {
                break client;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut changes = Box::pin(client.watch(VOLUME).await.unwrap());
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS + 100 {
        let target = Value::Uint((i % 2) as u64 * 50 + 10);
        let started = Instant::now();
        client.set(VOLUME, &target).await.unwrap();
        loop {
            let change = changes.next().await.expect("Changed arrives");
            if change.value.compare(&target) == Some(std::cmp::Ordering::Equal) {
                break;
            }
        }
        // The first hundred warm up connections and caches.
        if i >= 100 {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let rss = std::fs::read_to_string(format!("/proc/{}/status", service.0.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().unwrap()))
        .unwrap();
    (at(0.5), at(0.99), *samples.last().unwrap(), rss)
}
