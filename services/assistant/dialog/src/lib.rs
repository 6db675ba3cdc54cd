//! The task agent: tasks as data, and a dialog that fills them over several turns, takes
//! corrections, confirms what is risky and acts through [`Tools`].

mod dialog;
mod tasks;
mod template;
mod tools;

pub use dialog::{ActionTaken, Dialog, TaskState, Turn, DEFAULT_TIMEOUT};
pub use tasks::{
    Condition, Confirm, MemoryTask, MethodCall, Relative, SetSignal, SlotRule, Task, TaskBook, TaskFileError, VisionQuery, DEFAULT_TASKS,
};
pub use tools::{MemoryAction, ToolError, Tools};
