//! The phone link from both ends: `cabin serve phone-link` and `cabin pair` / `cabin phones` in
//! the car; `cabin phone ...`, the reference phone client, on the owner's side.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use base64::Engine;
use cabin_phone_client::PhoneClient;
use cabin_phone_link_service::{Handler, LinkOptions, Outbox, Phones, PAIRING_TTL_S};
use cabin_phone_protocol::{random_hex, Broker, Paired, RequestBody, Scope, Scopes};
use cabin_vehicle_bus_client::VehicleBusClient;
use cabin_vehicle_config::Value;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

/// Where the car's phone link keeps paired phones.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Folder for paired phones and pairing codes [default: $XDG_STATE_HOME/cabin/phone-link]
    #[arg(long, env = "CABIN_PHONE_STATE")]
    state_dir: Option<PathBuf>,
}

impl StateArgs {
    fn dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| xdg_dir("XDG_STATE_HOME", ".local/state").join("cabin/phone-link"))
    }

    pub fn phones(&self) -> Phones {
        Phones::new(self.dir())
    }

    /// Events waiting for the broker, kept across restarts.
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.dir().join("outbox"))
    }
}

/// What the car tells phones unasked.
#[derive(Debug, Clone, Args)]
pub struct EventArgs {
    /// Objects looked for when the car is locked, each seen one sent as a `left_behind` event
    /// (comma-separated; `none` for no events)
    #[arg(long, env = "CABIN_LEFT_BEHIND", value_delimiter = ',', default_value = "phone,wallet,bag,laptop,sunglasses,umbrella,dog,cat")]
    left_behind: Vec<String>,
}

impl EventArgs {
    /// Starts the lock watcher and the outbox's delivery.
    pub fn start(&self, link: &LinkOptions, phones: Phones, vehicle: VehicleBusClient, outbox: Outbox) {
        let objects: Vec<String> = self.left_behind.iter().filter(|o| !o.is_empty() && o.as_str() != "none").cloned().collect();
        if !objects.is_empty() {
            tokio::spawn(cabin_phone_link_service::watch_locks(vehicle, objects, outbox.clone()));
        }
        tokio::spawn(cabin_phone_link_service::deliver(link.clone(), phones, outbox));
    }
}

fn xdg_dir(variable: &str, fallback: &str) -> PathBuf {
    std::env::var_os(variable)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(fallback)))
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
}

/// TLS to the broker (mqtts:// only).
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct TlsArgs {
    /// The broker's CA certificate (PEM) [default: the public web roots]
    #[arg(long, env = "CABIN_BROKER_CA", global = true)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    broker_ca: Option<PathBuf>,
    /// Our certificate chain (PEM), for brokers that ask who connects
    #[arg(long, env = "CABIN_CLIENT_CERT", requires = "client_key", global = true)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_cert: Option<PathBuf>,
    /// The private key of --client-cert (PEM)
    #[arg(long, env = "CABIN_CLIENT_KEY", requires = "client_cert", global = true)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_key: Option<PathBuf>,
}

impl TlsArgs {
    fn broker(&self, url: &str) -> anyhow::Result<Broker> {
        let broker: Broker = url.parse()?;
        let client = self.client_cert.as_deref().zip(self.client_key.as_deref());
        Ok(broker.with_tls_files(url, self.broker_ca.as_deref(), client)?)
    }

    /// These flags where given, else `saved`.
    fn or(&self, saved: &TlsArgs) -> TlsArgs {
        TlsArgs {
            broker_ca: self.broker_ca.clone().or_else(|| saved.broker_ca.clone()),
            client_cert: self.client_cert.clone().or_else(|| saved.client_cert.clone()),
            client_key: self.client_key.clone().or_else(|| saved.client_key.clone()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServePhoneLinkArgs {
    /// The MQTT broker: mqtt[s]://[user:password@]host[:port]
    #[arg(long, env = "CABIN_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    #[command(flatten)]
    tls: TlsArgs,
    /// This car's id in topics (cabin/v1/<vehicle-id>/...)
    #[arg(long, env = "CABIN_VEHICLE_ID", default_value = "cabin-demo")]
    vehicle_id: String,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    events: EventArgs,
}

pub async fn serve_phone_link(args: ServePhoneLinkArgs) -> anyhow::Result<ExitCode> {
    let broker = args.tls.broker(&args.broker)?;
    let vehicle = cabin_phone_link_service::connect_vehicle(None).await?;
    let connection = vehicle.connection().clone();
    let link = LinkOptions::new(broker, &args.vehicle_id);
    args.events.start(&link, args.state.phones(), vehicle.clone(), args.state.outbox());
    let handler = Arc::new(Handler::new(args.vehicle_id.clone(), args.state.phones(), vehicle));
    cabin_phone_link_service::serve_bus(&connection, handler.clone()).await.context("cannot serve org.cabin.PhoneLink1 on D-Bus")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(vehicle = %args.vehicle_id, "phone link serving");
    tokio::select! {
        _ = cabin_phone_link_service::run(link, handler) => {}
        _ = super::serve::wait_for_shutdown() => {}
        lost = cabin_vehicle_bus_client::connection_lost(&connection, std::time::Duration::from_secs(1)) => {
            bail!("lost the D-Bus connection, stopping: {lost}");
        }
        _ = super::serve::watchdog(connection.clone()) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// For trying the app and for tests: a browser speaks MQTT only over WebSocket, and the bridge
/// carries it to a broker that has only plain MQTT (Debian's mosquitto 2.0.11 opens no WebSocket
/// listener). A car in service gives its own broker a WebSocket listener with TLS (`wss://`;
/// mosquitto: `listener 8083` + `protocol websockets` + `certfile`/`keyfile`, built with
/// libwebsockets) and serves the app from the web; the app's pairing form takes that address.
#[derive(Debug, Args)]
pub struct ServePhoneAppArgs {
    /// Where the app is served
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The broker's plain MQTT listener: mqtt://host[:port]
    #[arg(long, env = "CABIN_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    /// This car's id, offered to the pairing form
    #[arg(long, env = "CABIN_VEHICLE_ID", default_value = "cabin-demo")]
    vehicle_id: String,
}

pub async fn serve_phone_app(args: ServePhoneAppArgs) -> anyhow::Result<ExitCode> {
    let broker: Broker = args.broker.parse()?;
    if broker.tls.is_some() {
        bail!("--broker {}: the bridge reaches a plain MQTT listener (mqtt://); TLS is the WebSocket side's job", args.broker);
    }
    let car = cabin_phone_app::ThisCar { vehicle_id: args.vehicle_id, broker: format!("{}:{}", broker.host, broker.port) };
    let address = cabin_phone_app::serve(args.listen, false, car).await?;
    println!("The phone app: http://{address}");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    super::serve::wait_for_shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PairArgs {
    /// What the phone may do: read, ask, comfort (climate, seats, media), access (doors, locks,
    /// windows, trunk), camera, memory (the driver's), comma-separated
    #[arg(long, value_delimiter = ',', default_value = "read,ask")]
    scopes: Vec<String>,
    /// The broker the phone should use, for the QR code
    #[arg(long, env = "CABIN_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    /// This car's id, for the QR code
    #[arg(long, env = "CABIN_VEHICLE_ID", default_value = "cabin-demo")]
    vehicle_id: String,
    /// Leave out the QR code
    #[arg(long)]
    no_qr: bool,
    #[command(flatten)]
    state: StateArgs,
}

pub fn pair(args: PairArgs) -> anyhow::Result<ExitCode> {
    let scopes: Scopes = args
        .scopes
        .iter()
        .map(|s| Scope::parse(s.trim()).with_context(|| format!("unknown scope `{s}` (known: read, ask, comfort, access, camera, memory)")))
        .collect::<anyhow::Result<_>>()?;
    let code = args.state.phones().start_pairing(scopes.clone())?;
    let names: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
    println!("Pairing code: {code}");
    println!("On the phone: cabin phone pair {code}   (valid {} minutes; grants: {})", PAIRING_TTL_S / 60, names.join(", "));
    if !args.no_qr {
        // What a phone app scans: everything it needs to pair, in one line.
        let uri = format!("cabin://pair?broker={}&vehicle={}&code={code}", args.broker, args.vehicle_id);
        let qr = qrcode::QrCode::new(uri.as_bytes())?;
        println!("{}", qr.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build());
        println!("{uri}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum PhonesCommand {
    /// The paired phones and what each may do.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke a phone (by id or name): its key stops working at once.
    Revoke {
        phone: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

pub fn phones(command: PhonesCommand) -> anyhow::Result<ExitCode> {
    match command {
        PhonesCommand::List { json, state } => {
            let phones = state.phones().list()?;
            if json {
                // Never the keys: they stay in the car's state folder.
                let shown: Vec<serde_json::Value> = phones
                    .iter()
                    .map(|p| serde_json::json!({ "id": p.id, "name": p.name, "scopes": p.scopes, "paired_at": p.paired_at }))
                    .collect();
                println!("{}", serde_json::to_string(&shown)?);
            } else if phones.is_empty() {
                println!("no paired phones (pair one with `cabin pair`)");
            }
            for phone in phones.iter().filter(|_| !json) {
                let scopes: Vec<&str> = phone.scopes.iter().map(|s| s.name()).collect();
                println!("{}  {:<20} {}", phone.id, phone.name, scopes.join(","));
            }
        }
        PhonesCommand::Revoke { phone, state } => {
            for revoked in state.phones().revoke(&phone)? {
                println!("revoked {} ({})", revoked.name, revoked.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the reference phone keeps after pairing.
#[derive(Debug, Serialize, Deserialize)]
struct PhoneConfig {
    broker: String,
    vehicle_id: String,
    paired: Paired,
    #[serde(default)]
    tls: TlsArgs,
    /// The name the broker keeps `watch`'s session under: random, since a stranger who knew it
    /// (the phone id is in every request) could take the session and what waits in it.
    #[serde(default)]
    session: Option<String>,
}

/// Writes the phone's pairing file: its key signs this phone's requests, so owner-only from
/// the first byte.
fn save_config(path: &Path, config: &PhoneConfig) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(config)?)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct PhoneArgs {
    /// The phone's pairing file [default: $XDG_CONFIG_HOME/cabin/phone.json]
    #[arg(long, env = "CABIN_PHONE_CONFIG")]
    config: Option<PathBuf>,
    /// Print the car's answer as JSON
    #[arg(long, global = true)]
    json: bool,
    /// TLS files; given at pairing, they are kept with the pairing
    #[command(flatten)]
    tls: TlsArgs,
    #[command(subcommand)]
    command: PhoneCommand,
}

#[derive(Debug, Subcommand)]
pub enum PhoneCommand {
    /// Pair with the code `cabin pair` shows in the car.
    Pair {
        code: String,
        #[arg(long, env = "CABIN_BROKER", default_value = "mqtt://127.0.0.1:1883")]
        broker: String,
        #[arg(long, env = "CABIN_VEHICLE_ID", default_value = "cabin-demo")]
        vehicle_id: String,
        /// How the car lists this phone
        #[arg(long, default_value = "phone")]
        name: String,
    },
    /// Ask the car in words ("is my hat in the car?").
    Ask { text: Vec<String> },
    /// Read a vehicle signal.
    Get { path: String },
    /// Set a vehicle signal (needs the comfort scope; the car's interlocks apply).
    Set { path: String, value: String },
    /// Is the car there?
    Ping,
    /// Save a JPEG of a seat region (needs the camera scope, and the owner's consent in the car).
    Snapshot {
        /// driver, passenger, rear_left, ... [default: the whole frame]
        #[arg(long)]
        region: Option<String>,
        #[arg(long, default_value = "snapshot.jpg")]
        out: PathBuf,
    },
    /// Print the car's status and events as they come.
    Watch {
        /// Stop after this many messages
        #[arg(long)]
        count: Option<usize>,
    },
}

pub async fn phone(args: PhoneArgs) -> anyhow::Result<ExitCode> {
    let config_path = args.config.clone().unwrap_or_else(|| xdg_dir("XDG_CONFIG_HOME", ".config").join("cabin/phone.json"));
    if let PhoneCommand::Pair { code, broker, vehicle_id, name } = &args.command {
        let client = PhoneClient::connect(&args.tls.broker(broker)?, vehicle_id);
        let paired = client.pair(code, name).await?;
        let session = Some(random_hex(12));
        let config = PhoneConfig { broker: broker.clone(), vehicle_id: vehicle_id.clone(), paired, tls: args.tls.clone(), session };
        save_config(&config_path, &config)?;
        let scopes: Vec<&str> = config.paired.scopes.iter().map(|s| s.name()).collect();
        println!("paired with {} as {} (may: {}); saved in {}", vehicle_id, name, scopes.join(", "), config_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("{}: not paired yet (run `cabin phone pair CODE`)", config_path.display()))?;
    let mut config: PhoneConfig =
        serde_json::from_str(&text).with_context(|| format!("{}: not a phone pairing file", config_path.display()))?;
    let broker = args.tls.or(&config.tls).broker(&config.broker)?;
    if let PhoneCommand::Watch { count } = args.command {
        // A session the broker keeps: events sent while no one watched arrive now.
        let session = match config.session.clone() {
            Some(session) => session,
            None => {
                let session = random_hex(12);
                config.session = Some(session.clone());
                save_config(&config_path, &config)?;
                session
            }
        };
        let client = PhoneClient::connect_persistent(&broker, &config.vehicle_id, &session);
        let mut notices = client.notices();
        let mut seen = 0;
        // Delivery is at least once, and a signed event can be sent again by anyone: each once.
        let mut events_seen = std::collections::HashSet::new();
        while count.is_none_or(|c| seen < c) {
            let notice = notices.recv().await?;
            if !notice.is_from_car(&config.paired) {
                tracing::warn!(topic = %notice.topic, "not signed by the car for this phone: ignored");
                continue;
            }
            let event_id = notice.payload["id"].as_str().map(str::to_owned);
            if event_id.is_some_and(|id| !events_seen.insert(id)) {
                continue;
            }
            println!("{} {}", notice.topic, notice.payload);
            seen += 1;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let client = PhoneClient::connect(&broker, &config.vehicle_id);
    let body = match args.command {
        PhoneCommand::Ask { text } => RequestBody::Ask { text: text.join(" ") },
        PhoneCommand::Get { path } => RequestBody::SignalsGet { path },
        PhoneCommand::Set { path, value } => RequestBody::SignalsSet { path, value: serde_json::to_value(Value::from_text(&value))? },
        PhoneCommand::Ping => RequestBody::Ping,
        PhoneCommand::Snapshot { region, out } => {
            let result = client.request(&config.paired, RequestBody::VisionSnapshot { region }).await?;
            let encoded = result.get("jpeg_base64").and_then(|j| j.as_str()).context("the car sent no image")?;
            let jpeg = base64::engine::general_purpose::STANDARD.decode(encoded).context("the car sent an unreadable image")?;
            std::fs::write(&out, &jpeg).with_context(|| format!("{}: cannot write", out.display()))?;
            println!("{} bytes written to {}", jpeg.len(), out.display());
            return Ok(ExitCode::SUCCESS);
        }
        PhoneCommand::Pair { .. } | PhoneCommand::Watch { .. } => unreachable!("handled above"),
    };
    let result = client.request(&config.paired, body).await?;
    if args.json {
        println!("{result}");
    } else if let Some(reply) = result.get("reply").and_then(|r| r.as_str()) {
        println!("{reply}");
    } else if let (Some(path), Some(value)) = (result.get("path"), result.get("value").or(result.get("accepted"))) {
        println!("{} = {value}", path.as_str().unwrap_or_default());
    } else {
        println!("{result}");
    }
    Ok(ExitCode::SUCCESS)
}
