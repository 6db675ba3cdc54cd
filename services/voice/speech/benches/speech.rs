//! Spoken replies: prints figures, asserts nothing. Run with
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-speech --bench speech`
//! (needs `cabin models fetch piper-joe onnxruntime` and espeak-ng).

use std::time::Instant;

use cabin_bench_support::percentile;
use cabin_speech::{Espeak, Piper, PiperSettings, Voice};

/// Replies the assistant gives, one and two sentences long.
const REPLIES: &[&str] = &[
    "Done.",
    "The temperature is set to twenty one degrees.",
    "The trunk stays closed while the car is moving.",
    "Yes, I can see your cup on the rear left seat.",
    "The battery is at seventy two percent, enough for about two hundred and forty kilometres. Shall I find a charger on the way?",
    "I opened the driver's window to twenty percent. Above eighty kilometres an hour it opens no further.",
];

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// Per reply: milliseconds to synthesize it and seconds of speech.
fn time_replies(voice: &dyn Voice, rounds: usize) -> (Vec<f64>, f64, f64) {
    let (mut latencies, mut compute, mut speech) = (Vec::new(), 0.0, 0.0);
    for _ in 0..rounds {
        for reply in REPLIES {
            let started = Instant::now();
            let audio = voice.synthesize(reply).unwrap();
            let secs = started.elapsed().as_secs_f64();
            latencies.push(secs * 1000.0);
            compute += secs;
            speech += audio.duration_secs() as f64;
        }
    }
    (latencies, compute, speech)
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let models = cabin_models::ModelsDir::resolve();
    let voice_dir = models.locate("piper-joe").unwrap_or_else(|e| panic!("{e}"));
    let runtime = models.locate("onnxruntime").unwrap_or_else(|e| panic!("{e}")).join("libonnxruntime.so");
    println!("speech benchmark: {} replies, {threads} threads", REPLIES.len());

    let before = resident_mib();
    let started = Instant::now();
    let piper = Piper::load(&voice_dir, &runtime, &PiperSettings::default()).unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let loaded = resident_mib();
    let _warm = piper.synthesize(REPLIES[1]).unwrap();
    let (latencies, compute, speech) = time_replies(&piper, 3);
    println!(
        "Piper joe-medium: load {load_ms:.0} ms; resident {:.0} MiB loaded, {:.0} MiB after speaking (the process before it: {before:.0} MiB)",
        loaded - before,
        resident_mib() - before
    );
    println!(
        "Piper joe-medium: real-time factor {:.3} ({compute:.1} s for {speech:.1} s of speech); per reply p50 {:.0} ms, p95 {:.0} ms",
        compute / speech,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
    let first = REPLIES[4].split_inclusive(". ").next().unwrap();
    let started = Instant::now();
    let _ = piper.synthesize(first).unwrap();
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let _ = piper.synthesize(REPLIES[4]).unwrap();
    println!(
        "Piper joe-medium, a two-sentence reply: first sentence ready in {first_ms:.0} ms, the whole reply in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let (latencies, compute, speech) = time_replies(&Espeak::default(), 3);
    println!(
        "espeak-ng en-us (child process): real-time factor {:.3}; per reply p50 {:.0} ms, p95 {:.0} ms",
        compute / speech,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
}
