//! The CAN backend. Frames decoded through the DBC and the overlay's mapping become VSS values in
//! the store; accepted actuation requests become command frames. Frames come from a SocketCAN
//! interface or from a `candump -L` log replayed through the same decoder.

mod bits;
mod candump;
mod mapping;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cabin_signal_store::{ActuationRequest, SignalStore};
use cabin_vehicle_config::BackendKind;
use socketcan::{CanFrame, EmbeddedFrame, ExtendedId, Id, StandardId};
use tokio::sync::mpsc;

pub use bits::{BitLayout, Order};
pub use candump::{parse_log, LogError, LoggedFrame};
pub use mapping::{CanMapping, EncodeError, FrameId};

/// How long to wait before opening a missing or failed interface again.
const REOPEN_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}: cannot read CAN log: {1}")]
    Read(String, std::io::Error),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Feeds the store from one decoded frame; returns how many signals it updated.
pub fn apply_frame(mapping: &CanMapping, store: &SignalStore, frame: FrameId, data: &[u8]) -> usize {
    let mut applied = 0;
    for (path, value) in mapping.decode(frame, data) {
        match store.update(&path, &value) {
            Ok(()) => applied += 1,
            Err(e) => tracing::warn!(error = %e, "CAN value refused by the catalog"),
        }
    }
    applied
}

/// Replays a `candump -L` log into the store, pacing frames by their timestamps when `paced`.
/// Returns how many signal values were applied.
pub async fn replay_log(mapping: &CanMapping, store: &SignalStore, log: &Path, paced: bool) -> Result<usize, ReplayError> {
    let name = log.display().to_string();
    let text = std::fs::read_to_string(log).map_err(|e| ReplayError::Read(name.clone(), e))?;
    let frames = parse_log(&name, &text)?;
    let mut applied = 0;
    let mut previous: Option<f64> = None;
    for frame in frames {
        if paced {
            if let Some(before) = previous {
                let gap = (frame.timestamp_s - before).clamp(0.0, 10.0);
                tokio::time::sleep(Duration::from_secs_f64(gap)).await;
            }
            previous = Some(frame.timestamp_s);
        }
        applied += apply_frame(mapping, store, FrameId { id: frame.id, extended: frame.extended }, &frame.data);
    }
    Ok(applied)
}

/// Runs the backend on a SocketCAN interface until the request channel closes: frames in, commands
/// out. A missing or failing interface is logged and reopened; meanwhile the store refuses
/// actuation of CAN signals, and a request already queued is dropped: a stale command must not
/// fire later.
pub async fn run_socketcan(
    interface: String,
    mut mapping: CanMapping,
    store: Arc<SignalStore>,
    mut requests: mpsc::UnboundedReceiver<ActuationRequest>,
) {
    loop {
        let socket = match socketcan::tokio::CanSocket::open(&interface) {
            Ok(socket) => socket,
            Err(e) => {
                store.set_backend_online(BackendKind::Can, false);
                tracing::error!(interface, error = %e, "cannot open CAN interface; retrying");
                if drain_for(&mut requests, REOPEN_AFTER).await.is_none() {
                    return;
                }
                continue;
            }
        };
        tracing::info!(interface, "CAN interface open");
        store.set_backend_online(BackendKind::Can, true);
        loop {
            tokio::select! {
                frame = socket.read_frame() => match frame {
                    Ok(frame) => {
                        let id = match frame.id() {
                            Id::Standard(id) => FrameId { id: id.as_raw().into(), extended: false },
                            Id::Extended(id) => FrameId { id: id.as_raw(), extended: true },
                        };
                        apply_frame(&mapping, &store, id, frame.data());
                    }
                    Err(e) => {
                        store.set_backend_online(BackendKind::Can, false);
                        tracing::error!(interface, error = %e, "CAN read failed; reopening");
                        break;
                    }
                },
                request = requests.recv() => {
                    let Some(request) = request else { return };
                    match mapping.encode(&request.path, &request.value).map(|(id, data)| to_frame(id, &data)) {
                        Ok(Some(frame)) => {
                            if let Err(e) = socket.write_frame(frame).await {
                                tracing::error!(interface, path = %request.path, error = %e, "CAN command not sent");
                            }
                        }
                        Ok(None) => tracing::error!(path = %request.path, "CAN command frame could not be built"),
                        Err(e) => tracing::error!(error = %e, "CAN command not encoded"),
                    }
                }
            }
        }
    }
}

fn to_frame(id: FrameId, data: &[u8]) -> Option<CanFrame> {
    let id: Id = if id.extended { ExtendedId::new(id.id)?.into() } else { StandardId::new(id.id as u16)?.into() };
    CanFrame::new(id, data)
}

/// Waits `period`, dropping requests that arrive meanwhile. `None` when the channel closed.
async fn drain_for(requests: &mut mpsc::UnboundedReceiver<ActuationRequest>, period: Duration) -> Option<()> {
    let deadline = tokio::time::sleep(period);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Some(()),
            request = requests.recv() => match request {
                Some(request) => tracing::warn!(path = %request.path, "CAN interface down; actuation request dropped"),
                None => return None,
            },
        }
    }
}
