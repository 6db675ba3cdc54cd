//! The phone app in Debian's headless Chromium against the real car (release build, loopback):
//! the time from tapping "Ask" to the reply on screen, measured in the page (from the submit to
//! the reply's text changing), for three kinds of question; and what the app weighs to download.
//!
//! `cargo bench -p cabin --bench phone_app` (needs chromium, chromium-driver, mosquitto and
//! `cabin models fetch`).

#[path = "../../tests/support/browser.rs"]
mod browser;
#[path = "../../tests/support/mod.rs"]
mod support;

use browser::{Browser, CarWithApp};
use cabin_bench_support::percentile;

const ROUNDS: usize = 20;
const QUESTIONS: [(&str, &str); 3] = [
    ("a reading", "what's the temperature inside"),
    ("an action", "set the temperature to twenty one"),
    ("the camera", "is my cup in the car"),
];
const FILES: [&str; 7] = ["./", "app.js", "scanner.js", "style.css", "sw.js", "manifest.webmanifest", "icon.svg"];

/// Submits the question and resolves with the milliseconds until the reply is shown.
const ASK: &str = r#"
const [text, done] = arguments;
const reply = document.getElementById('ask-reply');
document.getElementById('ask-text').value = text;
const start = performance.now();
let asking = false;
const seen = new MutationObserver(() => {
  if (reply.textContent === 'Asking…') asking = true;
  else if (asking) { seen.disconnect(); done(performance.now() - start); }
});
seen.observe(reply, { childList: true, characterData: true, subtree: true });
document.getElementById('ask-form').requestSubmit();
"#;

/// Downloads each file and resolves with the bytes, raw and gzipped (the browser's gzip).
const SIZES: &str = r#"
const [files, done] = arguments;
(async () => {
const sizes = await Promise.all(files.map(async (file) => {
  const body = await (await fetch(file, { cache: 'no-store' })).arrayBuffer();
  const gzipped = await new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
  return [body.byteLength, gzipped.byteLength];
}));
done({ bytes: sizes.reduce((n, s) => n + s[0], 0), gzipped: sizes.reduce((n, s) => n + s[1], 0) });
})();
"#;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let car = CarWithApp::start(Some(("coffee.png", "rear_left")));
        let browser = Browser::start().await;
        car.pair(&browser, "read,ask,comfort,camera").await;
        println!("tap \"Ask\" to the reply on screen, {ROUNDS} rounds each (loopback, release build):");
        for (kind, question) in QUESTIONS {
            let mut times = Vec::with_capacity(ROUNDS);
            for _ in 0..ROUNDS {
                let took = browser.client.execute_async(ASK, vec![question.into()]).await.unwrap();
                times.push(took.as_f64().unwrap());
            }
            println!("  {kind:>10} (\"{question}\"): p50 {:.0} ms, p95 {:.0} ms", percentile(&times, 0.5), percentile(&times, 0.95));
        }
        let sizes = browser.client.execute_async(SIZES, vec![serde_json::json!(FILES)]).await.unwrap();
        let kib = |what: &str| sizes[what].as_f64().unwrap() / 1024.0;
        println!("the app's download, every file of the shell: {:.0} KiB ({:.0} KiB gzipped)", kib("bytes"), kib("gzipped"));
    });
}
