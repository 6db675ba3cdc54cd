//! Debian's headless Chromium driven through its ChromeDriver (WebDriver, by `fantoccini`), at a
//! phone's size, and a car with the phone app served for it. A machine without Chromium fails
//! the test that needs it, saying what to install.

// Shared by the tests and the benchmark, which use different parts.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value as Json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page gets to show what a test waits for (a debug build's camera look is slow).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser (empty profile) with a 390×844 window.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// A fresh browser whose camera (granted without asking) shows `video`, a Y4M file.
    pub async fn start_with_camera(video: &std::path::Path) -> Browser {
        let camera = format!("--use-file-for-fake-video-capture={}", video.display());
        Browser::start_with(&["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", &camera]).await
    }

    async fn start_with(extra_args: &[&str]) -> Browser {
        for needed in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(needed).exists(),
                "{needed} is missing: `apt-get install chromium chromium-driver` (the README's test command does)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=390,844".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra_args.iter().map(|arg| arg.to_string()));
        let options = json!({ "binary": CHROMIUM, "args": args });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => panic!("ChromeDriver did not start Chromium: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Browser { client, driver, _profile: profile }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Types `text` into the field with `id`, replacing what it held.
    pub async fn type_into(&self, id: &str, text: &str) {
        let field = self.client.wait().at_most(PATIENCE).for_element(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        let element = self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap();
        // In the middle of the screen, as a thumb would have it, clear of the sticky header.
        let arguments = vec![serde_json::to_value(&element).unwrap()];
        self.client.execute("arguments[0].scrollIntoView({ block: 'center' })", arguments).await.unwrap();
        element.click().await.unwrap();
    }

    /// The text of the element `id` once `wanted` holds for it; fails with what it showed.
    pub async fn text_when(&self, id: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Id(id)).await {
                last = element.text().await.unwrap_or_default();
                if wanted(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failed").await;
        panic!("#{id} never showed what was awaited; it showed {last:?}");
    }

    /// Whether the element `css` is shown (present and not hidden).
    pub async fn shown(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn run(&self, script: &str) -> Json {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Saves what the page shows as `<target tmp>/phone-app/<name>.png`: the screens are the
    /// product, look at them.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("phone-app");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// The page's console messages at error level so far.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A car with its phone link on mosquitto, the app served for it, and the camera on `frame`.
pub struct CarWithApp {
    pub car: Car,
    pub url: String,
    _app: Service,
    _vision: Option<Service>,
    _frames: tempfile::TempDir,
}

impl CarWithApp {
    /// `photo` on `region` in the camera's frame, when given.
    pub fn start(photo: Option<(&str, &str)>) -> CarWithApp {
        let car = Car::start(true);
        let frames = tempfile::tempdir().unwrap();
        let vision = photo.map(|(photo, region)| {
            frame_with(frames.path(), photo, region);
            tokio::task::block_in_place(|| Service::vision(&car.bus, &["--camera", frames.path().to_str().unwrap()]))
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let args = ["serve", "phone-app", "--listen", &listen, "--broker", &car.broker.url(), "--vehicle-id", VEHICLE];
        let app =
            tokio::task::block_in_place(|| Service::spawn_until(&car.bus, &args, || std::net::TcpStream::connect(listen.as_str()).is_ok()));
        CarWithApp { url: format!("http://{listen}/"), car, _app: app, _vision: vision, _frames: frames }
    }

    /// What `cabin pair` prints for `scopes`: the code, its QR code and the link it holds.
    pub fn pair_screen(&self, scopes: &str) -> String {
        let state = self.car.state.path().join("car");
        let shown = tokio::task::block_in_place(|| {
            cabin(&self.car.bus, &["pair", "--scopes", scopes, "--vehicle-id", VEHICLE, "--state-dir", state.to_str().unwrap()])
        });
        assert!(shown.status.success(), "{}", stderr(&shown));
        stdout(&shown)
    }

    pub fn code(&self, scopes: &str) -> String {
        tokio::task::block_in_place(|| pairing_code(&self.car.bus, &self.car.state.path().join("car"), scopes))
    }

    /// Opens the app in `browser`, pairs by typing the code for `scopes`, and waits until the
    /// car shows as online.
    pub async fn pair(&self, browser: &Browser, scopes: &str) {
        let code = self.code(scopes);
        browser.goto(&self.url).await;
        browser.type_into("pair-code", &code).await;
        browser.type_into("pair-car-name", "Ana's car").await;
        browser.click("#pair-form button[type=submit]").await;
        browser.text_when("link-state", |s| s == "Ana's car is online").await;
    }

    /// Waits (up to 10 s: the simulated car moves its actuators in time) for `path` to read
    /// `wanted`; fails with what it read.
    pub fn signal_becomes(&self, path: &str, wanted: serde_json::Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.signal(path);
            if now == wanted {
                return;
            }
            assert!(Instant::now() < deadline, "{path} is {now}, not {wanted}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, path: &str) -> serde_json::Value {
        let read = tokio::task::block_in_place(|| cabin(&self.car.bus, &["signals", "get", path, "--json"]));
        assert!(read.status.success(), "{}", stderr(&read));
        json(&read)["value"].clone()
    }
}

/// A camera's view of a terminal showing `screen` (what `cabin pair` printed): its QR code, read
/// back from the half-block characters, drawn black on white in a 640×480 Y4M video of two
/// frames, as a phone held up to the screen would see it.
pub fn camera_on_terminal_qr(screen: &str, dir: &std::path::Path) -> PathBuf {
    const BLOCKS: [char; 4] = [' ', '▀', '▄', '█'];
    let rows: Vec<Vec<char>> = screen
        .lines()
        .filter(|line| line.chars().count() > 20 && line.chars().all(|c| BLOCKS.contains(&c)))
        .map(|l| l.chars().collect())
        .collect();
    assert!(rows.len() > 10, "no QR code in what `cabin pair` printed:\n{screen}");
    // Each character is two modules, top and bottom; which of "ink" and "blank" is dark is
    // told by the quiet zone around the code, which is light.
    let inked: Vec<Vec<bool>> = rows
        .iter()
        .flat_map(|row| {
            let top = row.iter().map(|c| matches!(c, '▀' | '█')).collect::<Vec<_>>();
            let bottom = row.iter().map(|c| matches!(c, '▄' | '█')).collect::<Vec<_>>();
            [top, bottom]
        })
        .collect();
    let light_is_ink = inked[0][0];
    let (width, height, scale) = (640usize, 480usize, 8usize);
    let modules = inked[0].len();
    assert!(modules * scale < height, "a QR code of {modules} modules does not fit");
    let (left, top) = ((width - modules * scale) / 2, (height - inked.len() * scale) / 2);
    let mut luma = vec![255u8; width * height];
    for (y, row) in inked.iter().enumerate() {
        for (x, &ink) in row.iter().enumerate() {
            if ink != light_is_ink {
                for dy in 0..scale {
                    let start = (top + y * scale + dy) * width + left + x * scale;
                    luma[start..start + scale].fill(0);
                }
            }
        }
    }
    let mut video = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..2 {
        video.extend_from_slice(b"FRAME\n");
        video.extend_from_slice(&luma);
        video.extend(std::iter::repeat_n(128u8, width * height / 2));
    }
    let path = dir.join("qr.y4m");
    std::fs::write(&path, video).unwrap();
    path
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// ChromeDriver's own command for the console log (not in the W3C set).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}
