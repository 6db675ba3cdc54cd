//! The car side of the phone link: paired phones send requests over MQTT 5; the car answers each
//! on the phone's response topic with its correlation data. Protocol in `../PROTOCOL.md`;
//! the MQTT session in `link.rs`, apart from what a request means (`handler.rs`).

mod bus;
mod events;
mod guard;
mod handler;
mod handoffs;
mod link;
mod pairing;
mod phones;

pub use bus::{
    serve as serve_bus, FromPhoneStream, HandOffAnsweredStream, PhoneLinkError, PhoneLinkInterfaceProxy as PhoneLinkProxy, OBJECT_PATH,
};
pub use events::{deliver, watch_locks, Outbox, LEFT_BEHIND, LOCK_SIGNALS};
pub use handler::{Answered, Handler, Reply};
pub use handoffs::{AnswerError, HandOffAnswered, HandOffError, HandOffs};
pub use link::{run, LinkOptions};
pub use phones::{AuthError, PairError, Phone, Phones, PhonesError, LOCKOUT_S, PAIRING_TTL_S, WRONG_CODES_ALLOWED};

/// The name the phone link owns on D-Bus: the vehicle bus grants the phone-link role to it.
pub const BUS_NAME: &str = "org.cabin.PhoneLink1";

/// The vehicle bus, reached as `org.cabin.PhoneLink1` on the system bus or the bus at `address`.
pub async fn connect_vehicle(
    address: Option<&str>,
) -> Result<cabin_vehicle_bus_client::VehicleBusClient, cabin_vehicle_bus_client::ClientError> {
    match address {
        None => cabin_vehicle_bus_client::VehicleBusClient::connect_as(BUS_NAME).await,
        Some(address) => {
            let connect =
                |source| cabin_vehicle_bus_client::ClientError::Connect { address: address.to_string(), source: Box::new(source) };
            let connection = zbus::connection::Builder::address(address)
                .and_then(|b| b.name(BUS_NAME))
                .map_err(connect)?
                .build()
                .await
                .map_err(connect)?;
            cabin_vehicle_bus_client::VehicleBusClient::on(connection).await
        }
    }
}
