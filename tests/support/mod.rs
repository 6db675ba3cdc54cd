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

/// A `cabin serve ...` process, stopped when dropped.
pub struct Service {
    child: Child,
}

pub type VehicleBus = Service;

impl Service {
    /// `cabin serve vehicle-bus ARGS`, once it answers.
    pub fn start(bus: &PrivateBus, args: &[&str]) -> Service {
        Service::spawn_until(bus, &[&["serve", "vehicle-bus"], args].concat(), || {
            let probe = cabin(bus, &["signals", "get", "Vehicle.Speed"]);
            probe.status.success() || !stderr(&probe).contains("not running")
        })
    }

    /// `cabin serve assistant ARGS`, once it owns its bus name.
    pub fn assistant(bus: &PrivateBus, args: &[&str]) -> Service {
        let address = bus.address().to_string();
        Service::spawn_until(bus, &[&["serve", "assistant"], args].concat(), move || name_has_owner(&address, "org.cabin.Assistant1"))
    }

    fn spawn_until(bus: &PrivateBus, args: &[&str], ready: impl Fn() -> bool) -> Service {
        let child = Command::new(cabin_binary())
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .env("CABIN_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .expect("cabin serve starts");
        let mut service = Service { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("`cabin {}` exited early: {status}", args.join(" "));
            }
            if ready() {
                return service;
            }
            assert!(Instant::now() < deadline, "`cabin {}` did not come up", args.join(" "));
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

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn name_has_owner(address: &str, name: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let Ok(connection) = zbus::connection::Builder::address(address).unwrap().build().await else { return false };
        let Ok(dbus) = zbus::fdo::DBusProxy::new(&connection).await else { return false };
        dbus.name_has_owner(name.try_into().unwrap()).await.unwrap_or(false)
    })
}

/// Runs `cabin ARGS` with `stdin` as its input; `bus` None points it at no bus at all.
pub fn cabin_with_input(bus: Option<&PrivateBus>, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(cabin_binary())
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.map(|b| b.address().to_string()).unwrap_or_else(|| "unix:path=/nonexistent/bus".into()))
        .env("CABIN_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cabin runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Writes `text` to a file in a fresh folder that lives as long as the returned guard.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}
