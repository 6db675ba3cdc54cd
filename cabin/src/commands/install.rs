//! `cabin install`: this binary, the systemd units, the D-Bus policy and the service users, put
//! where a car (or an image being built for one, with `--root`) runs them.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use cabin_models::{fetch, ModelsDir};
use clap::Args;

/// The units as shipped in `systemd/`, each running `cabin serve <service>`.
const UNITS: [(&str, &str); 6] = [
    ("cabin-vehicle-bus.service", include_str!("../../../systemd/cabin-vehicle-bus.service")),
    ("cabin-assistant.service", include_str!("../../../systemd/cabin-assistant.service")),
    ("cabin-voice.service", include_str!("../../../systemd/cabin-voice.service")),
    ("cabin-vision.service", include_str!("../../../systemd/cabin-vision.service")),
    ("cabin-phone-link.service", include_str!("../../../systemd/cabin-phone-link.service")),
    ("cabin-llm.service", include_str!("../../../systemd/cabin-llm.service")),
];
const DBUS_POLICY: &str = include_str!("../../../systemd/org.cabin.conf");
/// What the units need: the assistant's MiniLM, the voice's VAD, whisper and Piper voice (with
/// ONNX Runtime), the camera's classifier, the local LLM.
const MODELS: [&str; 8] =
    ["minilm", "silero-vad", "whisper-tiny.en", "piper-joe", "onnxruntime", "efficientnet-lite0", "imagenet-labels", "qwen2.5-0.5b"];
/// Where the units look for models (`CABIN_MODELS_DIR` in each).
const MODELS_DIR: &str = "var/lib/cabin/models";

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install into this folder as if it were `/` (an image being built); nothing is started
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Also fetch the models the services need into /var/lib/cabin/models
    #[arg(long)]
    models: bool,
}

pub fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let root = &args.root;
    let live = root == Path::new("/");
    let binary = std::env::current_exe().context("cannot tell where this cabin binary is")?;
    let mut written = Vec::new();
    let mut write = |relative: &str, contents: &[u8], mode: u32| -> anyhow::Result<()> {
        let path = root.join(relative);
        let folder = path.parent().expect("a file in a folder");
        std::fs::create_dir_all(folder).with_context(|| format!("{}: cannot create", folder.display()))?;
        // Into a new file, then renamed over the old one: a running binary is replaced, not overwritten.
        let partial = path.with_extension("cabin-install");
        std::fs::write(&partial, contents).with_context(|| format!("{}: cannot write", partial.display()))?;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&partial, &path).with_context(|| format!("{}: cannot write", path.display()))?;
        written.push(path);
        Ok(())
    };
    let bytes = std::fs::read(&binary).with_context(|| format!("{}: cannot read", binary.display()))?;
    write("usr/bin/cabin", &bytes, 0o755)?;
    for (name, unit) in UNITS {
        write(&format!("lib/systemd/system/{name}"), unit.as_bytes(), 0o644)?;
    }
    write("usr/share/dbus-1/system.d/org.cabin.conf", DBUS_POLICY.as_bytes(), 0o644)?;
    write("usr/lib/sysusers.d/cabin.conf", sysusers().as_bytes(), 0o644)?;
    std::fs::create_dir_all(root.join("etc/cabin"))?;
    for path in &written {
        println!("{}", path.display());
    }

    let models = ModelsDir::new(root.join(MODELS_DIR));
    if args.models {
        for name in MODELS {
            let fetched = fetch(&models, name, false)?;
            println!("{name}: {}", fetched.dir.display());
        }
    }
    if !live {
        println!("Installed into {}; the services' users come from usr/lib/sysusers.d/cabin.conf at first boot.", root.display());
        return Ok(ExitCode::SUCCESS);
    }
    // The users first: the D-Bus policy and the units name them.
    run_tool("systemd-sysusers", &[])?;
    run_tool("systemctl", &["daemon-reload"])?;
    run_tool("systemctl", &["reload", "dbus"])?;
    let services: Vec<&str> = UNITS.iter().map(|(name, _)| name.trim_end_matches(".service")).collect();
    println!("Installed. Start Cabin with: systemctl enable --now {}", services.join(" "));
    if !args.models {
        println!("The services need their models: cabin install --models (or CABIN_MODELS_DIR=/{MODELS_DIR} cabin models fetch NAME)");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_tool(tool: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(tool).args(args).status().with_context(|| format!("cannot run {tool}"))?;
    if !status.success() {
        bail!("`{tool} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// A sysusers.d file with each unit's `User=`, and its membership of `SupplementaryGroups=`.
fn sysusers() -> String {
    let mut lines = vec![
        "# Cabin's service users, one per service (written by `cabin install`).".to_owned(),
        "# Members of `cabin` may use the assistant, voice and vision on the system bus (the CLI).".to_owned(),
        "g cabin -".to_owned(),
    ];
    let mut groups = BTreeSet::new();
    for (name, unit) in UNITS {
        let setting = |key: &str| unit.lines().find_map(|line| line.strip_prefix(key)).map(str::trim);
        let Some(user) = setting("User=") else { continue };
        let description = setting("Description=").unwrap_or(name);
        lines.push(format!("u {user} - \"{description}\" /nonexistent"));
        for group in setting("SupplementaryGroups=").unwrap_or("").split_whitespace() {
            groups.insert((user.to_owned(), group.to_owned()));
        }
    }
    for (user, group) in groups {
        lines.push(format!("m {user} {group}"));
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_unit_user_is_created_and_joins_its_device_group() {
        let file = super::sysusers();
        for user in ["cabin-vehicle", "cabin-assistant", "cabin-voice", "cabin-vision", "cabin-phone", "cabin-llm"] {
            assert!(file.lines().any(|line| line.starts_with(&format!("u {user} - "))), "{user} missing:\n{file}");
        }
        assert!(file.contains("m cabin-voice audio\n"), "{file}");
        assert!(file.contains("m cabin-vision video\n"), "{file}");
        assert!(file.contains("g cabin -\n"), "the group whose members may call the assistant: {file}");
    }
}
