//! The bridge to the broker serves the app's own page only: a web page elsewhere, opened in a
//! browser on the same machine, must not reach the broker through it.

use std::net::SocketAddr;

use cabin_phone_app::{serve, ThisCar};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The status line of a WebSocket handshake to `/mqtt` with these `Host` and `Origin` headers.
async fn handshake(app: SocketAddr, host: &str, origin: Option<&str>) -> String {
    let mut stream = TcpStream::connect(app).await.unwrap();
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let request = format!(
        "GET /mqtt HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_apps_own_page_reaches_the_broker() {
    // A broker that only accepts: what matters here is whether the bridge opens.
    let broker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let car = ThisCar { vehicle_id: "test-car".into(), broker: broker.local_addr().unwrap().to_string() };
    let app = serve("127.0.0.1:0".parse().unwrap(), false, car).await.unwrap();
    let own = format!("127.0.0.1:{}", app.port());

    let from = |host: String, origin: Option<String>| async move { handshake(app, &host, origin.as_deref()).await };
    assert!(from(own.clone(), Some(format!("http://{own}"))).await.contains("101"), "the app's own page");
    let localhost = format!("localhost:{}", app.port());
    assert!(from(localhost.clone(), Some(format!("http://{localhost}"))).await.contains("101"), "the same page by name");
    assert!(from(own.clone(), None).await.contains("101"), "a program that is not a browser");

    assert!(from(own.clone(), Some("http://evil.example".into())).await.contains("403"), "another site's page");
    let rebound = format!("evil.example:{}", app.port());
    assert!(from(rebound.clone(), Some(format!("http://{rebound}"))).await.contains("403"), "a site that rebinds its name to loopback");
}
