//! What the dialog acts through. The assistant service implements it over D-Bus (vehicle bus,
//! vision, head unit); tests and `cabin chat` use that same implementation on a private bus.

use std::future::Future;

use cabin_principal::Principal;
use cabin_vehicle_config::Value;
use thiserror::Error;

use crate::tasks::MethodCall;

/// The driver, for tools that do not say whom they act for.
static DRIVER: Principal = Principal::Driver;

pub trait Tools {
    /// On whose behalf these tools act: the dialog refuses, in words, a task whose action needs
    /// a scope this principal lacks.
    fn principal(&self) -> &Principal {
        &DRIVER
    }

    fn set(&self, path: &str, value: &Value) -> impl Future<Output = Result<Value, ToolError>>;
    /// Whether the vehicle would let these tools actuate `path`, when it can say before trying
    /// (to refuse before asking "Open the trunk?"); `None` leaves it to the set.
    fn may_actuate(&self, path: &str) -> impl Future<Output = Option<bool>> {
        let _ = path;
        async { None }
    }
    fn get(&self, path: &str) -> impl Future<Output = Result<Value, ToolError>>;
    fn call(&self, call: &MethodCall, args: &[String]) -> impl Future<Output = Result<(), ToolError>>;
    /// Whether and where the object was seen; for an empty object, what the camera sees (in
    /// `region`, or anywhere). The dialog says it in the driver's language.
    fn find_object(&self, object: &str, region: Option<&str>) -> impl Future<Output = Result<Sighting, ToolError>>;

    /// Remembers, forgets or recalls for the driver; what was done, for the dialog to say.
    fn memory(&self, action: MemoryAction, text: &str) -> impl Future<Output = Result<Recollection, ToolError>> {
        let _ = (action, text);
        async { Err(ToolError::Unavailable { what: "my memory".into(), reason: "no memory here".into() }) }
    }

    /// The number in the driver's latest remembered preference for `unit` ("i like 21
    /// degrees": 21 for `degrees`), if they said one.
    fn preference(&self, unit: &str) -> impl Future<Output = Option<f64>> {
        let _ = unit;
        async { None }
    }

    /// What a name the driver gave ("home", "work") stands for, if they said.
    fn remembered(&self, name: &str) -> impl Future<Output = Option<String>> {
        let _ = name;
        async { None }
    }
}

/// What the cabin camera answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Sighting {
    /// `object` (the driver's word) seen in `region` ("" for somewhere in the frame), this sure (0-1).
    Seen {
        object: String,
        region: String,
        confidence: f64,
    },
    /// Not seen on the car, and, when a cloud is set up, why it was not asked.
    NotSeen {
        object: String,
        why_not_cloud: Option<String>,
    },
    /// What the cloud's vision-language model saw in the seat photos, when the car could not
    /// tell: `region` "" when it did not say which seat.
    SeenByCloud {
        object: String,
        region: String,
    },
    NotSeenByCloud {
        object: String,
    },
    /// A word the camera has no picture of, and, when a cloud is set up, why it was not asked.
    UnknownObject {
        object: String,
        why_not_cloud: Option<String>,
    },
    /// What the camera sees in `region`, or anywhere: (the detector's label, the region) pairs.
    Cabin {
        region: Option<String>,
        seen: Vec<(String, String)>,
    },
    /// A region the camera does not cover.
    OutOfView {
        region: String,
    },
}

/// What a memory task did. Facts are in the driver's words, turned to the listener ("your").
#[derive(Debug, Clone, PartialEq)]
pub enum Recollection {
    Remembered {
        fact: String,
    },
    Forgotten {
        fact: String,
    },
    NothingToForget,
    NothingAbout {
        text: String,
    },
    Facts(Vec<String>),
    /// What was asked in `period` ("this morning"): the last few, and how many in all.
    Asked {
        period: String,
        asked: Vec<String>,
        total: usize,
    },
}

/// What a memory task does with its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryAction {
    /// Keep the fact in the text.
    Remember,
    /// Forget the fact the text names, or the latest one.
    Forget,
    /// Say what was asked in the period the text names.
    Recall,
    /// Say everything remembered.
    Facts,
}

/// Why an action did not happen, in the terms the driver hears.
#[derive(Debug, Clone, Error)]
pub enum ToolError {
    /// `interlock` names the rule, so its reason can be said in the driver's language.
    #[error("{reason}")]
    Interlock { reason: String, interlock: Option<String> },
    #[error("{reason}")]
    OutOfRange { reason: String },
    #[error("{reason}")]
    NotPermitted { reason: String },
    /// A service or device that is not there: the vehicle bus, the vision service, the head unit.
    #[error("{what} is not available ({reason})")]
    Unavailable { what: String, reason: String },
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// The sentence the driver hears, in English, when `doing` failed.
    pub fn spoken(&self, doing: &str) -> String {
        crate::phrases::failure(self, doing, None, None, cabin_nlu::Language::English)
    }
}
