//! The backends that feed signals (the simulator, CAN) and what the overlay says to each: which
//! CAN frame carries a signal, and how the simulated car starts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::value::Value;

/// Which backend feeds a signal and receives its actuation requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    Simulator,
    Can,
}

impl BackendKind {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "simulator" => Some(Self::Simulator),
            "can" => Some(Self::Can),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Simulator => "simulator",
            Self::Can => "can",
        }
    }
}

/// One VSS signal carried in a CAN frame, as the overlay maps it. Checked against the DBC by the
/// CAN backend, which owns the DBC.
#[derive(Debug, Clone, PartialEq)]
pub struct CanSignalMap {
    pub path: String,
    pub message: String,
    pub signal: String,
    pub values: BTreeMap<String, i64>,
    /// The frame and signal that carry actuation requests, for actuators.
    pub command: Option<CanCommandMap>,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CanCommandMap {
    pub message: String,
    pub signal: String,
    /// VSS value -> raw code of the command; empty means the status signal's codes.
    pub values: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanConfig {
    pub interface: Option<String>,
    /// Resolved against the overlay's folder.
    pub dbc: Option<PathBuf>,
    /// Where `dbc` was named, for errors about the DBC file.
    pub dbc_origin: (String, usize),
    pub signals: Vec<CanSignalMap>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulatorConfig {
    /// A built-in profile name or a file, resolved against the overlay's folder.
    pub drive_profile: Option<String>,
    /// Actuators reach their target at once instead of after a realistic delay (benchmarks).
    pub instant: bool,
    pub initial: BTreeMap<String, Value>,
}

pub(crate) fn unknown_backend(name: &str) -> String {
    format!("unknown backend '{name}' (expected simulator or can)")
}
