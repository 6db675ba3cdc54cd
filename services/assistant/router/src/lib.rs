//! Where a turn is answered. Car control and vehicle questions stay with the car's tasks; what
//! the tasks cannot answer (open questions, unsure turns) goes to the cloud model when the
//! policy allows it and the cloud is reachable, else to the local LLM (not for a turn it took,
//! unsure, for a car command), else to an honest "I can't answer that offline". Both models get one persona and the same conversation, less
//! what the owner keeps in the car; their tool calls come back as task requests, so they pass
//! the same permission and interlock checks as the driver's own words.

mod look;
mod loopback;
mod policy;
mod privacy;
mod reach;
mod route;
mod tools;

pub use look::{CloudSighting, LookError, SeatPhoto};
pub use policy::{PolicyError, Profile, RoutingPolicy, Share};
pub use privacy::PrivateData;
pub use reach::Reachability;
pub use route::{Answer, Attempt, Exchange, FirstSentence, Question, RouteReport, Router, Side};
pub use tools::{tool_name, ToolCallError, ToolRequest};
