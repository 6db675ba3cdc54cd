//! `cabin serve llm`: the local LLM as an OpenAI-compatible endpoint on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cabin_llm_server::LlmEndpoint;
use cabin_local_llm::LocalLlm;
use cabin_models::ModelsDir;
use clap::Args;

#[derive(Debug, Args)]
pub struct ServeLlmArgs {
    /// An installed model (`cabin models list`) or a GGUF file
    #[arg(long, env = "CABIN_LLM_MODEL", default_value = "qwen2.5-0.5b")]
    model: String,
    /// Address to listen on. The endpoint has no authentication: keep it on loopback
    #[arg(long, env = "CABIN_LLM_LISTEN", default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// Append every request, as one JSON line, to this file (an audit of what was asked)
    #[arg(long, env = "CABIN_LLM_RECORD")]
    record: Option<PathBuf>,
}

pub async fn serve_llm(args: ServeLlmArgs) -> anyhow::Result<ExitCode> {
    let is_file = Path::new(&args.model).is_file();
    let path = if is_file { PathBuf::from(&args.model) } else { ModelsDir::resolve().locate(&args.model)? };
    let id = model_id(&args.model, is_file);
    let started = std::time::Instant::now();
    let llm = tokio::task::spawn_blocking(move || LocalLlm::load(&path)).await??;
    tracing::info!(model = llm.name(), id, ms = started.elapsed().as_millis() as u64, "LLM loaded");
    let mut endpoint = LlmEndpoint::new(llm, &id);
    if let Some(record) = &args.record {
        endpoint = endpoint.recording_to(record)?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!("LLM serving http://{address}/v1");
    // The one line a caller that asked for port 0 needs.
    println!("listening on http://{address}/v1");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let (stopped, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cabin_llm_server::serve(endpoint, listener, async {
        let _ = stop.await;
    }));
    tokio::select! {
        _ = super::serve::wait_for_shutdown() => {}
        _ = http_watchdog(address) => {}
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stopped.send(());
    server.await?.context("serving the LLM")?;
    Ok(ExitCode::SUCCESS)
}

/// The id clients name: an installed model's name ("qwen2.5-0.5b", dots and all), or a file's
/// name without `.gguf`.
fn model_id(model: &str, is_file: bool) -> String {
    match Path::new(model).file_name().and_then(|name| name.to_str()) {
        Some(name) if is_file => name.trim_end_matches(".gguf").to_string(),
        _ => model.to_string(),
    }
}

/// For `cabin up`: the local LLM where the shipped routing policy looks for it, when a model
/// is installed. `None` without a model; an error when the address is taken or the model is bad.
pub async fn start_for_up(models: &ModelsDir) -> anyhow::Result<Option<String>> {
    let Some((name, path)) = ["qwen2.5-0.5b", "smollm2-135m"].into_iter().find_map(|name| models.locate(name).ok().map(|p| (name, p)))
    else {
        return Ok(None);
    };
    let url = cabin_router::RoutingPolicy::embedded().local_llm.url;
    let address = url.trim_start_matches("http://").trim_end_matches("/v1");
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    let llm = tokio::task::spawn_blocking(move || LocalLlm::load(&path)).await??;
    tokio::spawn(cabin_llm_server::serve(LlmEndpoint::new(llm, name), listener, std::future::pending()));
    Ok(Some(url))
}

/// Keep-alives for systemd's watchdog, each after the endpoint answered `GET /v1/models`.
/// That request does not wait for the model, which may be busy with a long answer for good.
async fn http_watchdog(address: SocketAddr) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return std::future::pending().await;
    };
    let client = cabin_openai_compatible::ChatClient::new(&format!("http://{address}/v1"), None);
    let every = period / 3;
    loop {
        tokio::time::sleep(every).await;
        match client.models(every).await {
            Ok(_) => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            Err(error) => tracing::warn!(%error, "no answer from our own endpoint: no watchdog keep-alive"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::model_id;

    #[test]
    fn models_are_named_as_installed_and_files_without_their_extension() {
        assert_eq!(model_id("qwen2.5-0.5b", false), "qwen2.5-0.5b");
        assert_eq!(model_id("/opt/models/my.model.v2.gguf", true), "my.model.v2");
    }
}
