//! "Is my red scarf in the car?" when the car's own models cannot say (a word they do not
//! know, or nothing found): the seat photos go to the cloud's vision-language model, in the
//! chat-completions format with image parts that GPT-4o, GLM-4V and Qwen-VL servers accept.
//! Only when the owner shares the camera with the cloud; the vision service separately refuses
//! to hand out frames unless the owner lets frames leave the car, and blurs faces first.

use serde::Deserialize;
use thiserror::Error;

use cabin_openai_compatible::{ChatError, ChatRequest, Message};

use crate::privacy::PrivateData;
use crate::route::Router;

/// One seat's photo, as the vision service cropped it.
#[derive(Debug, Clone)]
pub struct SeatPhoto {
    pub seat: String,
    pub jpeg: Vec<u8>,
}

/// What the cloud's model saw.
#[derive(Debug, Clone, PartialEq)]
pub enum CloudSighting {
    /// On this seat ("" when the model did not say which).
    Seen {
        seat: String,
    },
    NotSeen,
}

#[derive(Debug, Error)]
pub enum LookError {
    #[error("no cloud model is set up")]
    NoCloud,
    /// The owner's policy keeps this away from the cloud: the reason, said to the driver.
    #[error("{0}")]
    NotAllowed(String),
    #[error("the cloud is not reachable")]
    Unreachable,
    #[error("the cloud model: {0}")]
    Failed(String),
}

impl LookError {
    /// Why the cloud did not look, as the driver should hear it (the full error is logged).
    pub fn for_the_driver(&self) -> String {
        match self {
            LookError::NoCloud => "no cloud model is set up".into(),
            LookError::NotAllowed(why) => why.clone(),
            LookError::Unreachable => "it is not reachable".into(),
            LookError::Failed(_) => "it did not answer".into(),
        }
    }
}

/// A look at several photos takes a vision-language model longer than a sentence: this long at
/// least, or the policy's cloud timeout when that is longer.
const LOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

/// The answer asked for; anything else is a failure, never a guess.
#[derive(Deserialize)]
struct Verdict {
    found: bool,
    #[serde(default)]
    photo: Option<usize>,
}

const INSTRUCTIONS: &str = "You look at photos from the cabin camera of a car, one photo per seat, to find \
something the driver left behind. Answer with JSON only: {\"found\": true, \"photo\": N} with the number of the \
photo it is in, or {\"found\": false}.";

impl Router {
    /// Whether the cloud may look at the camera's photos: `Err` says why not, in words.
    pub fn cloud_may_look(&self) -> Result<(), LookError> {
        let policy = self.policy();
        if !policy.cloud.enabled {
            return Err(LookError::NoCloud);
        }
        if !policy.share.allows(PrivateData::Camera) {
            return Err(LookError::NotAllowed("the owner's policy keeps camera pictures from the cloud".into()));
        }
        Ok(())
    }

    /// Asks the cloud's vision-language model whether `object` is in any of `photos`.
    pub async fn look(&self, object: &str, photos: &[SeatPhoto]) -> Result<CloudSighting, LookError> {
        self.cloud_may_look()?;
        let cloud = self.cloud_endpoint().ok_or(LookError::NoCloud)?;
        if !cloud.reach.is_up(&cloud.client).await {
            return Err(LookError::Unreachable);
        }
        let listed: Vec<String> =
            photos.iter().enumerate().map(|(n, photo)| format!("Photo {}: the {} seat.", n + 1, photo.seat.replace('_', " "))).collect();
        let question = format!("Is there a {object} in any of these photos? {}", listed.join(" "));
        let request = ChatRequest {
            model: cloud.model.clone(),
            messages: vec![Message::new("system", INSTRUCTIONS), Message::with_jpegs(question, photos.iter().map(|p| p.jpeg.as_slice()))],
            max_tokens: Some(32),
            temperature: Some(0.0),
            ..ChatRequest::default()
        };
        let timeout = self.policy().cloud_timeout().max(LOOK_TIMEOUT);
        let response = cloud.client.complete(&request, timeout).await.map_err(|error| {
            if matches!(error, ChatError::Unreachable { .. } | ChatError::Timeout { .. }) {
                cloud.reach.record(false);
            }
            LookError::Failed(error.to_string())
        })?;
        cloud.reach.record(true);
        let said = response.choices.into_iter().next().and_then(|c| c.message.content).unwrap_or_default();
        let verdict = verdict_in(&said).ok_or_else(|| LookError::Failed(format!("an answer that is not the JSON asked for: {said:?}")))?;
        Ok(match verdict {
            Verdict { found: false, .. } => CloudSighting::NotSeen,
            Verdict { found: true, photo } => CloudSighting::Seen {
                seat: photo.and_then(|n| n.checked_sub(1)).and_then(|n| photos.get(n)).map(|p| p.seat.clone()).unwrap_or_default(),
            },
        })
    }
}

/// The JSON object in a model's answer, which may come wrapped in words or a code fence.
fn verdict_in(said: &str) -> Option<Verdict> {
    let (start, end) = (said.find('{')?, said.rfind('}')?);
    serde_json::from_str(said.get(start..=end)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_is_read_from_json_and_nothing_else() {
        let found = verdict_in("```json\n{\"found\": true, \"photo\": 2}\n```").unwrap();
        assert!(found.found && found.photo == Some(2));
        assert!(!verdict_in("{\"found\": false}").unwrap().found);
        assert!(verdict_in("Yes, it is on the back seat.").is_none());
        assert!(verdict_in("{\"seen\": \"yes\"}").is_none());
    }
}
