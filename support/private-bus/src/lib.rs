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
        // The daemon is stopped when our end of its shell's stdin closes: on drop, and when this
        // process ends however it ends. Killed, it left the daemon running with no one to stop it.
        let mut daemon = Command::new("sh")
            .args([
                "-c",
                r#"command -v dbus-daemon >/dev/null || exit 127
dbus-daemon "--config-file=$1" --nofork --nopidfile --print-address=1 &
daemon=$!
read -r _
kill "$daemon"
wait "$daemon""#,
                "private-bus",
            ])
            .arg(&config)
            .stdin(Stdio::piped())
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
            drop(daemon.stdin.take());
            let status = daemon.wait().ok();
            if status.and_then(|s| s.code()) == Some(127) {
                return Err(PrivateBusError::Spawn(std::io::Error::new(std::io::ErrorKind::NotFound, "no dbus-daemon on PATH")));
            }
            return Err(PrivateBusError::NoAddress(status.map(|s| s.to_string()).unwrap_or_default()));
        }
        Ok(Self { daemon, address, _dir: dir })
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        // Closing the shell's stdin stops the daemon; the shell waits for it to end.
        drop(self.daemon.stdin.take());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket a bus's address names.
    fn socket_of(address: &str) -> String {
        address.strip_prefix("unix:path=").and_then(|rest| rest.split(',').next()).expect("a unix socket address").to_string()
    }

    #[test]
    fn a_killed_owner_takes_its_daemon_with_it() {
        const CHILD: &str = "CABIN_PRIVATE_BUS_TEST_CHILD";
        if std::env::var_os(CHILD).is_some() {
            // The owner: prints its bus's address and waits to be killed.
            let bus = PrivateBus::start().unwrap();
            println!("address {}", bus.address());
            std::thread::sleep(std::time::Duration::from_secs(60));
            return;
        }
        let mut owner = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::a_killed_owner_takes_its_daemon_with_it", "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address = BufReader::new(owner.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            // The harness prints the test's name on the same line.
            .find_map(|line| line.split_once("address ").map(|(_, address)| address.to_string()))
            .expect("the owner printed its bus's address");
        let socket = socket_of(&address);
        assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok(), "the daemon listens on {socket}");
        owner.kill().unwrap();
        owner.wait().unwrap();
        // Killed, the owner removed nothing: the socket file stays, and only a daemon still
        // running would answer on it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            assert!(std::time::Instant::now() < deadline, "the daemon outlived its killed owner");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(std::path::Path::new(&socket).parent().unwrap());
    }
}
