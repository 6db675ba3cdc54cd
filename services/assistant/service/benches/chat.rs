//! Text to vehicle action: a driver's sentence through understanding, the dialog and the vehicle
//! bus over D-Bus (private dbus-daemon), until the bus has accepted the set; and the resident
//! memory of an assistant with its model loaded.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-assistant-service --bench chat`

use std::time::{Duration, Instant};

use cabin_assistant_service::{connect, Brain, BrainFiles};
use cabin_models::ModelsDir;
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus_service::{serve, ServeOptions};
use cabin_vehicle_config::VehicleConfig;

const UTTERANCES: &[&str] = &[
    "set the temperature to twenty one",
    "could you set the passenger side to twenty two point five please",
    "open the rear left window halfway",
    "turn the seat heating on high",
    "set the volume to thirty",
];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let bus = PrivateBus::start().unwrap();
        let options = ServeOptions { bus_address: Some(bus.address().to_string()), ..ServeOptions::default() };
        let _vehicle = serve(VehicleConfig::embedded(), options).await.unwrap();
        let loading = Instant::now();
        let brain =
            Brain::load(&ModelsDir::resolve(), &BrainFiles::default(), &VehicleConfig::embedded()).unwrap_or_else(|e| panic!("{e}"));
        let load = loading.elapsed();
        let (tools, _) = connect(Some(bus.address()), None).await.unwrap();
        let mut dialog = brain.dialog();

        let mut samples: Vec<Duration> = Vec::new();
        for round in 0..40 {
            for text in UTTERANCES {
                let started = Instant::now();
                let turn = dialog.turn(text, &tools).await;
                let took = started.elapsed();
                assert!(!turn.actions.is_empty() && turn.actions.iter().all(|a| a.error.is_none()), "{text}: {turn:?}");
                if round > 0 {
                    samples.push(took);
                }
            }
        }
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
        let rss_kib = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok()))
            })
            .unwrap_or(0);
        println!("text -> vehicle action accepted ({} turns): p50 {:.2} ms, p99 {:.2} ms", samples.len(), at(0.5), at(0.99));
        println!("assistant load (model + examples + tasks):    {:.2} s", load.as_secs_f64());
        println!("resident memory (assistant + vehicle bus):    {:.1} MiB", rss_kib as f64 / 1024.0);
    });
}
