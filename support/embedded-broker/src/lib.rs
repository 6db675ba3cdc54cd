//! An MQTT 5 broker on loopback, in-process, for `cabin up`: the phone link and a phone on the
//! same machine meet here. A car in service uses the OEM's broker instead.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("no free loopback port for the MQTT broker: {0}")]
    NoPort(std::io::Error),
    #[error("embedded broker configuration: {0}")]
    Config(#[from] toml::de::Error),
    #[error("the embedded MQTT broker did not start listening on {0}")]
    NotListening(SocketAddr),
}

/// Starts the broker on `127.0.0.1:port` (a free port when `port` is 0 or taken) and returns
/// where it listens. It runs on its own thread until the process ends.
pub fn start(port: u16) -> Result<SocketAddr, BrokerError> {
    let listener = TcpListener::bind(("127.0.0.1", port)).or_else(|_| TcpListener::bind(("127.0.0.1", 0))).map_err(BrokerError::NoPort)?;
    let address = listener.local_addr().map_err(BrokerError::NoPort)?;
    drop(listener);
    let config: rumqttd::Config = toml::from_str(&format!(
        r#"
        id = 0
        [router]
        id = 0
        max_connections = 1000
        max_outgoing_packet_count = 200
        max_segment_size = 10485760
        max_segment_count = 10
        [v5.1]
        name = "cabin-up"
        listen = "{address}"
        next_connection_delay_ms = 1
        [v5.1.connections]
        connection_timeout_ms = 60000
        max_payload_size = 262144
        max_inflight_count = 100
        dynamic_filters = true
        "#
    ))?;
    // rumqttd's start() blocks and builds runtimes of its own.
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(error) = rumqttd::Broker::new(config).start() {
                tracing::error!(%error, "embedded MQTT broker stopped");
            }
        })
        .map_err(BrokerError::NoPort)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(address).is_err() {
        if Instant::now() > deadline {
            return Err(BrokerError::NotListening(address));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(address)
}
