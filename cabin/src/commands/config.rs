//! `cabin config check|print`: the OEM integrator's first stop.

use std::path::PathBuf;
use std::process::ExitCode;

use cabin_assistant_service::{load_intents_and_tasks, BrainFiles};
use cabin_can::CanMapping;
use clap::Subcommand;

use crate::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a catalog (.json) and overlays (.toml), and the DBC they map, reporting every error
    /// with file, line and field; with `--intents` and `--tasks`, an OEM's intents and tasks
    /// against them too. With no files, checks the embedded defaults.
    Check {
        /// A vss-tools JSON catalog and/or overlay TOML files, in the order they apply.
        files: Vec<PathBuf>,
        /// OEM intent files, checked with the tasks against this vehicle.
        #[arg(long = "intents", env = "CABIN_INTENTS", value_delimiter = ':')]
        intents: Vec<PathBuf>,
        /// OEM task files, checked against the intents and this vehicle's catalog and interlocks.
        #[arg(long = "tasks", env = "CABIN_TASKS", value_delimiter = ':')]
        tasks: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print an embedded default to copy and edit: `catalog` (VSS JSON) or `overlay` (TOML).
    Print {
        #[arg(value_parser = ["catalog", "overlay"])]
        what: String,
    },
}

pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Print { what } => {
            print!("{}", if what == "catalog" { cabin_vehicle_config::DEFAULT_CATALOG } else { cabin_vehicle_config::DEFAULT_OVERLAY });
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check { files, intents, tasks, json } => {
            let (catalogs, overlays): (Vec<PathBuf>, Vec<PathBuf>) =
                files.into_iter().partition(|f| f.extension().is_some_and(|e| e == "json"));
            if catalogs.len() > 1 {
                anyhow::bail!("give at most one catalog (.json); got {}", catalogs.len());
            }
            if let Some(other) = overlays.iter().find(|f| f.extension().is_none_or(|e| e != "toml")) {
                anyhow::bail!("{}: not a catalog (.json) or an overlay (.toml)", other.display());
            }
            let args = ConfigArgs { catalog: catalogs.into_iter().next(), overlays };
            let result = super::load_config(&args).and_then(|config| CanMapping::load(&config).map(|can| (config, can)));
            match result {
                Ok((config, can)) => {
                    let oem_files = !intents.is_empty() || !tasks.is_empty();
                    let files = BrainFiles { intents, tasks, ..BrainFiles::default() };
                    if let Err(error) = load_intents_and_tasks(&files, &config) {
                        if json {
                            println!("{}", serde_json::json!({ "valid": false, "errors": [{ "message": error.to_string() }] }));
                        }
                        eprintln!("error: {error}");
                        return Ok(ExitCode::FAILURE);
                    }
                    let summary = serde_json::json!({
                        "valid": true,
                        "signals": config.catalog.signals.len(),
                        "roles": config.policy.roles.len(),
                        "interlocks": config.interlocks.len(),
                        "can_mapped": config.can.as_ref().map_or(0, |c| c.signals.len()),
                    });
                    if config.policy.roles.is_empty() {
                        eprintln!("warning: no [[role]] in these overlays: nobody may read or actuate any signal (add the default roles with `cabin config print overlay`)");
                    }
                    if json {
                        println!("{summary}");
                    } else {
                        println!(
                            "valid: {} signals, {} roles, {} interlocks{}{}",
                            summary["signals"],
                            summary["roles"],
                            summary["interlocks"],
                            if can.is_some() { format!(", {} CAN-mapped signals", summary["can_mapped"]) } else { String::new() },
                            if oem_files { ", and the intents and tasks" } else { "" }
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    if json {
                        let list: Vec<_> = errors
                            .0
                            .iter()
                            .map(|e| serde_json::json!({ "file": e.file, "line": e.line, "field": e.field, "message": e.message }))
                            .collect();
                        println!("{}", serde_json::json!({ "valid": false, "errors": list }));
                    }
                    for error in &errors.0 {
                        eprintln!("{error}");
                    }
                    eprintln!("invalid: {} error{}", errors.0.len(), if errors.0.len() == 1 { "" } else { "s" });
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
