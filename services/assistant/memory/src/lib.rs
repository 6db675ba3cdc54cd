//! What the assistant remembers about each driver, kept in one embedded database file (redb)
//! in the car's state directory: facts and preferences the driver asked it to keep ("my home is
//! 42 Market Street", "I like 21 degrees"), and what was said, so "what did I ask you this
//! morning" has an answer. Nothing here leaves the car; the router decides what a model sees.

mod phrasing;
mod store;

pub use phrasing::{period_of, Fact, Period};
pub use store::{Memory, MemoryError, Said, KEEP_SAID_DAYS};
