//! The owner's phone app, served on loopback: the web app's files (built from `web/` and
//! embedded in the binary) and `/mqtt`, a WebSocket that carries MQTT to the car's broker.
//!
//! Why a bridge: a browser speaks MQTT only over WebSocket. rumqttd's WebSocket listener speaks
//! MQTT 3.1.1 only and Debian's mosquitto 2.0.11 opens none, while the phone protocol needs
//! MQTT 5 (response topics, correlation data, user properties). The bridge copies bytes both
//! ways and reads none of them, so what the broker and the car check is unchanged. A car in
//! service gives its own broker a WebSocket listener (with TLS) and serves the app from the web.
//!
//! A browser lets any web page open a WebSocket to loopback, so the bridge serves only the
//! app's own page: a handshake that names a host other than the address served on (or a
//! loopback name for it) is refused, which also stops a page that rebinds its own name to
//! 127.0.0.1, and so is one whose `Origin` is not that host. A handshake without `Origin` is
//! not a browser's, and any local program reaches the broker itself.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the phone app cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// What the page is told about the car that serves it, so pairing needs only the code.
#[derive(Debug, Clone)]
pub struct ThisCar {
    pub vehicle_id: String,
    /// Where the bridge reaches the broker's plain MQTT listener: `host:port`.
    pub broker: String,
}

/// What the bridge needs to know: the car, and where the app is served.
#[derive(Debug, Clone)]
struct Served {
    car: ThisCar,
    address: SocketAddr,
}

impl Served {
    /// Whether a WebSocket handshake comes from the app's own page (or from no browser).
    fn is_the_apps_own_page(&self, headers: &HeaderMap) -> bool {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let port = self.address.port();
        let own = |host: &str| {
            let ip = self.address.ip();
            let mut names = vec![ip.to_string(), format!("[{ip}]")];
            if ip.is_loopback() {
                names.extend(["127.0.0.1", "[::1]", "localhost"].map(String::from));
            }
            names.iter().any(|name| host == format!("{name}:{port}"))
        };
        match (header(HOST), header(ORIGIN)) {
            (Some(host), None) => own(host),
            (Some(host), Some(origin)) => {
                own(host) && origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
            }
            (None, _) => false,
        }
    }
}

/// The app's files: (path, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../web/public/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_bytes!("../web/dist/app.js")),
    ("/scanner.js", "text/javascript; charset=utf-8", include_bytes!("../web/dist/scanner.js")),
    ("/style.css", "text/css; charset=utf-8", include_bytes!("../web/public/style.css")),
    ("/sw.js", "text/javascript; charset=utf-8", include_bytes!("../web/public/sw.js")),
    ("/manifest.webmanifest", "application/manifest+json", include_bytes!("../web/public/manifest.webmanifest")),
    ("/icon.svg", "image/svg+xml", include_bytes!("../web/public/icon.svg")),
];

/// Serves the app on `listen` until the process ends; returns where. With `any_port`, a taken
/// port gives way to a free one.
pub async fn serve(listen: SocketAddr, any_port: bool, car: ThisCar) -> Result<SocketAddr, AppError> {
    let listener = match TcpListener::bind(listen).await {
        Err(_) if any_port => TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await,
        bound => bound,
    }
    .map_err(|e| AppError::Listen(listen, e))?;
    let address = listener.local_addr().map_err(|e| AppError::Listen(listen, e))?;
    let mut router = Router::new().route("/mqtt", get(bridge)).route("/car.json", get(this_car));
    for &(path, content_type, bytes) in FILES {
        router = router.route(path, get(move || async move { ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], bytes) }));
    }
    let router = router.with_state(Served { car, address });
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the phone app stopped serving");
        }
    });
    Ok(address)
}

async fn this_car(State(served): State<Served>) -> Response {
    ([(CONTENT_TYPE, "application/json")], serde_json::json!({ "vehicle": served.car.vehicle_id, "broker": "/mqtt" }).to_string())
        .into_response()
}

async fn bridge(upgrade: WebSocketUpgrade, headers: HeaderMap, State(served): State<Served>) -> Response {
    if !served.is_the_apps_own_page(&headers) {
        tracing::warn!(host = ?headers.get(HOST), origin = ?headers.get(ORIGIN), "phone app: refused a WebSocket from another page");
        return (StatusCode::FORBIDDEN, "only the phone app's own page may reach the broker").into_response();
    }
    let car = served.car;
    upgrade.protocols(["mqtt"]).on_upgrade(move |socket| async move {
        match TcpStream::connect(car.broker.as_str()).await {
            Ok(broker) => carry(socket, broker).await,
            // Closing the WebSocket is how the page learns the broker is unreachable.
            Err(error) => tracing::warn!(%error, broker = %car.broker, "phone app: cannot reach the MQTT broker"),
        }
    })
}

/// Copies MQTT bytes between the page and the broker until either side closes.
async fn carry(socket: WebSocket, broker: TcpStream) {
    let (mut to_page, mut from_page) = socket.split();
    let (mut from_broker, mut to_broker) = broker.into_split();
    let upstream = async {
        while let Some(Ok(message)) = from_page.next().await {
            match message {
                Message::Binary(bytes) if to_broker.write_all(&bytes).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match from_broker.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_page.send(Message::Binary(buffer[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to_page.send(Message::Close(None)).await;
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
