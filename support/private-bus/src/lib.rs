//! A private `dbus-daemon`, listening on a socket in a fresh temporary folder and stopped when
//! dropped. Its address goes in `DBUS_SYSTEM_BUS_ADDRESS` for whatever should use it as the
//! system bus.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum PrivateBusError {
    #[error("cannot start dbus-daemon ({0}); install the dbus-daemon package")]
    Spawn(std::io::Error),
    #[error("dbus-daemon started but printed no address: {0}")]
    NoAddress(String),
    #[error("cannot write the bus configuration: {0}")]
    Config(std::io::Error),
}

#[derive(Debug)]
pub struct PrivateBus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts a bus on which anyone may own any name, like a session bus: fine on loopback for
    /// one user, never a substitute for the system bus policy in `systemd/`.
    pub fn start() -> Result<Self, PrivateBusError> {
        Self::launch(None)
    }

    /// A bus like [`start`](Self::start) with a policy file (Cabin's `systemd/org.cabin.conf`)
    /// on top, whose socket other users may reach: for tests that call as another uid and meet
    /// the policy for real.
    pub fn with_policy(policy: &Path) -> Result<Self, PrivateBusError> {
        Self::launch(Some(policy))
    }

    fn launch(policy: Option<&Path>) -> Result<Self, PrivateBusError> {
        let dir = tempfile::Builder::new().prefix("cabin-bus-").tempdir().map_err(PrivateBusError::Config)?;
        if policy.is_some() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(PrivateBusError::Config)?;
        }
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(dir.path(), policy)).map_err(PrivateBusError::Config)?;
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // It warns about fd limits it may not raise as a normal user; failures show as no address.
            .stderr(Stdio::null())
            .spawn()
            .map_err(PrivateBusError::Spawn)?;
        let stdout = daemon.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let address = line.trim().to_string();
        if read.is_err() || address.is_empty() {
            let _ = daemon.kill();
            let status = daemon.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(PrivateBusError::NoAddress(status));
        }
        Ok(Self { daemon, address, _dir: dir })
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn bus_config(dir: &Path, policy: Option<&Path>) -> String {
    // With a policy, other users may connect and meet it; without, only this user.
    let (others, include) = match policy {
        Some(policy) => ("\n    <allow user=\"*\"/>", format!("  <include>{}</include>\n", policy.display())),
        None => ("", String::new()),
    };
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">{others}
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
{include}</busconfig>
"#,
        dir.display()
    )
}
