//! What the end-to-end tests start for themselves: a private dbus-daemon and real `cabin`
//! processes on it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use cabin_private_bus::PrivateBus;

pub const WINDOW: &str = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position";

pub fn cabin_binary() -> &'static str {
    env!("CARGO_BIN_EXE_cabin")
}

pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Runs `cabin ARGS` against `bus` and waits for it.
pub fn cabin(bus: &PrivateBus, args: &[&str]) -> Output {
    Command::new(cabin_binary())
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .env("CABIN_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .expect("cabin runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `cabin serve vehicle-bus ARGS`, stopped when dropped.
pub struct VehicleBus {
    child: Child,
}

impl VehicleBus {
    /// Starts the service and waits until it owns its bus name.
    pub fn start(bus: &PrivateBus, args: &[&str]) -> VehicleBus {
        let child = Command::new(cabin_binary())
            .args(["serve", "vehicle-bus"])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .env("CABIN_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .expect("cabin serve starts");
        let mut service = VehicleBus { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("the vehicle bus exited early: {status}");
            }
            let probe = cabin(bus, &["signals", "get", "Vehicle.Speed"]);
            if probe.status.success() || !stderr(&probe).contains("not running") {
                return service;
            }
            assert!(Instant::now() < deadline, "the vehicle bus did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` for the service to exit by itself.
    pub fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for VehicleBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` to a file in a fresh folder that lives as long as the returned guard.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}
