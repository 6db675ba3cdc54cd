//! The car side of the phone link: paired phones send requests over MQTT 5; the car answers each
//! on the phone's response topic with its correlation data. Protocol in `../PROTOCOL.md`;
//! the MQTT session in `link.rs`, apart from what a request means (`handler.rs`).

mod guard;
mod handler;
mod link;
mod phones;

pub use handler::Handler;
pub use link::{run, LinkOptions};
pub use phones::{AuthError, PairError, Phone, Phones, PhonesError, PAIRING_TTL_S};

/// The name the phone link owns on D-Bus: the vehicle bus grants the phone-link role to it.
pub const BUS_NAME: &str = "org.cabin.PhoneLink1";
