//! The task agent: tasks as data, and a dialog that fills them over several turns, takes
//! corrections, confirms what is risky and acts through [`Tools`].

mod confirmations;
mod corrections;
mod dialog;
mod phrases;
pub use phrases::SURE_SIGHTING;
mod tasks;
mod template;
mod tools;

pub use dialog::{ActionTaken, Dialog, TaskState, Turn, DEFAULT_TIMEOUT};
pub use tasks::{
    Condition, Confirm, MemoryTask, MethodCall, Relative, SetSignal, SlotRule, Task, TaskBook, TaskFileError, TaskWords, Values,
    VisionQuery, DEFAULT_TASKS, DEFAULT_TASKS_ZH,
};
pub use tools::{MemoryAction, Recollection, Sighting, ToolError, Tools};
