//! `cabin install` into a folder standing in for a car's root: the binary runs from where the
//! units expect it, the units and the D-Bus policy are in place, and systemd's own tools accept
//! what was written.

mod support;

use std::process::Command;

use support::*;

#[test]
fn install_lays_out_a_root_that_systemd_accepts() {
    let root = tempfile::tempdir().unwrap();
    let output = Command::new(cabin_binary()).args(["install", "--root", root.path().to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let installed = root.path().join("usr/bin/cabin");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(stdout(&version).starts_with("cabin "), "{}", stdout(&version));
    for unit in ["vehicle-bus", "assistant", "voice", "vision", "phone-link", "llm"] {
        let text = std::fs::read_to_string(root.path().join(format!("lib/systemd/system/cabin-{unit}.service"))).unwrap();
        assert!(text.contains(&format!("ExecStart=/usr/bin/cabin serve {unit}")), "{text}");
    }
    assert!(std::fs::read_to_string(root.path().join("usr/share/dbus-1/system.d/org.cabin.conf"))
        .unwrap()
        .contains("org.cabin.VehicleBus1"));

    // systemd-sysusers creates every unit's user, in the groups for its devices.
    let sysusers = Command::new("systemd-sysusers").arg("--root").arg(root.path()).output().unwrap();
    assert!(sysusers.status.success(), "{}", stderr(&sysusers));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let group = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
    for (name, unit) in [("cabin-vehicle", "vehicle-bus"), ("cabin-voice", "voice"), ("cabin-phone", "phone-link")] {
        assert!(passwd.lines().any(|line| line.starts_with(&format!("{name}:"))), "{name} for {unit}:\n{passwd}");
    }
    assert!(group.lines().any(|line| line.starts_with("audio:") && line.ends_with("cabin-voice")), "{group}");
    assert!(group.lines().any(|line| line.starts_with("video:") && line.ends_with("cabin-vision")), "{group}");

    // Installing again replaces what is there, and a root that cannot be written is one clear line.
    let again = Command::new(&installed).args(["install", "--root", root.path().to_str().unwrap()]).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let blocked = root.path().join("not-a-folder");
    std::fs::write(&blocked, "").unwrap();
    let refused = Command::new(cabin_binary()).args(["install", "--root", blocked.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success());
    assert_eq!(stderr(&refused).lines().count(), 1, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("not-a-folder/usr/bin: cannot create"), "{}", stderr(&refused));
}
