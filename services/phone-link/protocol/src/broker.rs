//! Where the broker is and how to reach it: `mqtt://` or `mqtts://` (TLS with rustls), a
//! username and password, the broker's CA and a client certificate. Car and phone build their
//! MQTT options here, so both reach a broker the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::MqttOptions;
use rumqttc::{NetworkOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;

/// The largest MQTT packet either end accepts.
pub const MAX_PACKET_BYTES: u32 = 1024 * 1024;

/// `mqtt[s]://[user:password@]host[:port]`, with its TLS settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
    pub tls: Option<Tls>,
}

/// A rustls client configuration: the roots the broker's certificate must chain to, and the
/// client certificate, if the broker asks for one.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    /// Where the roots came from, for messages: a CA file, or the public web roots.
    roots: String,
    client_certificate: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("roots", &self.roots).field("client_certificate", &self.client_certificate).finish()
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Tls) -> bool {
        self.roots == other.roots && self.client_certificate == other.client_certificate
    }
}

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("broker `{0}`: expected mqtt://[user:password@]host[:port] or mqtts://...")]
    Malformed(String),
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("broker `{0}`: a CA or client certificate needs TLS: use mqtts://")]
    NotTls(String),
    #[error("TLS: {0}")]
    Tls(String),
}

fn file_error(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> BrokerError + '_ {
    move |error| BrokerError::File { path: path.to_path_buf(), reason: error.to_string() }
}

fn tls_config(ca: Option<&Path>, client: Option<(&Path, &Path)>) -> Result<Tls, BrokerError> {
    let mut roots = RootCertStore::empty();
    let described = match ca {
        Some(path) => {
            for certificate in CertificateDer::pem_file_iter(path).map_err(file_error(path))? {
                roots
                    .add(certificate.map_err(file_error(path))?)
                    .map_err(|e| BrokerError::File { path: path.to_path_buf(), reason: format!("not a usable CA certificate: {e}") })?;
            }
            if roots.is_empty() {
                return Err(BrokerError::File { path: path.to_path_buf(), reason: "no PEM certificate in it".into() });
            }
            path.display().to_string()
        }
        None => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            "the public web roots".into()
        }
    };
    // ring, the provider the rest of Cabin's TLS (the cloud client) already uses.
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| BrokerError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain =
                CertificateDer::pem_file_iter(cert).map_err(file_error(cert))?.collect::<Result<Vec<_>, _>>().map_err(file_error(cert))?;
            if chain.is_empty() {
                return Err(BrokerError::File { path: cert.to_path_buf(), reason: "no PEM certificate in it".into() });
            }
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(file_error(key))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| BrokerError::File { path: key.to_path_buf(), reason: format!("does not fit the client certificate: {e}") })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Tls { config: Arc::new(config), roots: described, client_certificate: client.is_some() })
}

impl Broker {
    /// Trusts the CA in `ca` (PEM) instead of the public web roots, and presents `client`
    /// (certificate chain and private key, PEM) when the broker asks who we are.
    pub fn with_tls_files(mut self, url: &str, ca: Option<&Path>, client: Option<(&Path, &Path)>) -> Result<Broker, BrokerError> {
        if ca.is_none() && client.is_none() {
            return Ok(self);
        }
        if self.tls.is_none() {
            return Err(BrokerError::NotTls(url.into()));
        }
        self.tls = Some(tls_config(ca, client)?);
        Ok(self)
    }

    /// MQTT options for this broker: address, TLS, credentials, and small packets sent at once.
    pub fn mqtt_options(&self, client_id: impl Into<String>) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        options.set_keep_alive(Duration::from_secs(5));
        // Told to the broker at CONNECT, so it drops anything larger instead of sending it: a
        // packet over rumqttc's default 10 KiB would otherwise break the connection, and a kept
        // session would get the same packet again on every reconnect. Up to this size the car
        // reads a request and answers "too large" itself; a phone needs room for snapshots.
        options.set_max_packet_size(Some(MAX_PACKET_BYTES));
        // Requests and answers are small: Nagle's algorithm would hold each back for an ACK.
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        options.set_network_options(network);
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.config.clone())));
        }
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user, password);
        }
        options
    }
}

impl std::str::FromStr for Broker {
    type Err = BrokerError;

    fn from_str(url: &str) -> Result<Broker, BrokerError> {
        let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, Some(tls_config(None, None)?), 8883)
        } else {
            (url.strip_prefix("mqtt://").ok_or_else(|| BrokerError::Malformed(url.into()))?, None, 1883)
        };
        let (credentials, host_port) = match rest.rsplit_once('@') {
            Some((user_pass, host_port)) => {
                let (user, pass) = user_pass.split_once(':').ok_or_else(|| BrokerError::Malformed(url.into()))?;
                (Some((user.to_string(), pass.to_string())), host_port)
            }
            None => (None, rest),
        };
        let (host, port) = match host_port.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| BrokerError::Malformed(url.into()))?),
            None => (host_port.trim_end_matches('/'), default_port),
        };
        if host.is_empty() {
            return Err(BrokerError::Malformed(url.into()));
        }
        Ok(Broker { host: host.to_string(), port, credentials, tls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            "mqtt://localhost".parse::<Broker>().unwrap(),
            Broker { host: "localhost".into(), port: 1883, credentials: None, tls: None }
        );
        let with_user: Broker = "mqtt://car:secret@10.0.0.2:8883".parse().unwrap();
        assert_eq!((with_user.port, with_user.credentials), (8883, Some(("car".into(), "secret".into()))));
        assert!("localhost:1883".parse::<Broker>().is_err());
        let tls: Broker = "mqtts://broker.example".parse().unwrap();
        assert_eq!(tls.port, 8883);
        assert!(tls.tls.is_some());
    }

    #[test]
    fn tls_files_are_checked_and_named() {
        let dir = std::env::temp_dir().join(format!("cabin-broker-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("ca.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let plain: Broker = "mqtt://localhost".parse().unwrap();
        let error = plain.with_tls_files("mqtt://localhost", Some(&not_pem), None).unwrap_err().to_string();
        assert_eq!(error, "broker `mqtt://localhost`: a CA or client certificate needs TLS: use mqtts://");
        let tls: Broker = "mqtts://localhost".parse().unwrap();
        let error = tls.clone().with_tls_files("mqtts://localhost", Some(&not_pem), None).unwrap_err().to_string();
        assert_eq!(error, format!("{}: no PEM certificate in it", not_pem.display()));
        let missing = dir.join("missing.pem");
        let error = tls.with_tls_files("mqtts://localhost", Some(&missing), None).unwrap_err().to_string();
        assert!(error.starts_with(&missing.display().to_string()), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
