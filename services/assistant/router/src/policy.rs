//! The routing policy file: profile, persona, endpoints, and what the owner shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::privacy::PrivateData;

const EMBEDDED: &str = include_str!("../defaults/routing.toml");

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The message names the line and column, or the field.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {field}: {message}")]
    Invalid { file: String, field: &'static str, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Car,
    Phone,
    Glasses,
}

impl Profile {
    /// How long the cloud may take before the local side answers instead.
    pub fn cloud_timeout(self) -> Duration {
        match self {
            Profile::Car => Duration::from_millis(2500),
            Profile::Phone => Duration::from_millis(4000),
            Profile::Glasses => Duration::from_millis(4000),
        }
    }

    /// How long the local LLM may take: a car's SoC is slower than a cloud.
    pub fn local_timeout(self) -> Duration {
        Duration::from_secs(20)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicy {
    pub profile: Profile,
    pub persona: String,
    pub cloud: Cloud,
    pub local_llm: LocalLlm,
    pub share: Share,
    #[serde(default)]
    pub private_words: PrivateWords,
    #[serde(default)]
    pub memory: MemoryPolicy,
}

/// What the car keeps of its drivers.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryPolicy {
    /// Days what was said is kept for "what did I ask you"; 0 keeps nothing; unset, the memory's
    /// own default.
    #[serde(default)]
    pub keep_said_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    pub enabled: bool,
    pub url: String,
    pub model: String,
    pub api_key_env: String,
    pub low_confidence: bool,
    /// Overrides the profile's.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalLlm {
    pub enabled: bool,
    pub url: String,
    pub model: String,
    pub max_tokens: u32,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// What may go to the cloud.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub camera: bool,
    pub location: bool,
    pub contacts: bool,
    pub memory: bool,
    pub cabin_audio: bool,
}

impl Share {
    pub fn allows(&self, kind: PrivateData) -> bool {
        match kind {
            PrivateData::Camera => self.camera,
            PrivateData::Location => self.location,
            PrivateData::Contacts => self.contacts,
            PrivateData::Memory => self.memory,
            PrivateData::CabinAudio => self.cabin_audio,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateWords {
    #[serde(default)]
    pub camera: Vec<String>,
    #[serde(default)]
    pub location: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
    #[serde(default)]
    pub memory: Vec<String>,
}

impl RoutingPolicy {
    pub fn embedded() -> RoutingPolicy {
        RoutingPolicy::parse("defaults/routing.toml", EMBEDDED).expect("the embedded routing policy is valid")
    }

    pub fn load(path: &Path) -> Result<RoutingPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.to_path_buf(), source })?;
        RoutingPolicy::parse(&path.display().to_string(), &text)
    }

    /// `text` laid over the shipped policy: a file names only what it changes ("[share]
    /// camera = true"), and every field it leaves out keeps its shipped value.
    pub fn parse(file: &str, text: &str) -> Result<RoutingPolicy, PolicyError> {
        let policy: RoutingPolicy =
            cabin_layered_config::layered(EMBEDDED, text).map_err(|e| PolicyError::Parse { file: file.into(), message: e.to_string() })?;
        let invalid = |field, message: &str| Err(PolicyError::Invalid { file: file.into(), field, message: message.into() });
        if policy.cloud.enabled && !is_http_url(&policy.cloud.url) {
            return invalid("cloud.url", "an http:// or https:// URL with a host is needed when the cloud is enabled");
        }
        if policy.local_llm.enabled && !is_http_url(&policy.local_llm.url) {
            return invalid("local_llm.url", "an http:// or https:// URL with a host is needed when the local LLM is enabled");
        }
        if !(1..=4096).contains(&policy.local_llm.max_tokens) {
            return invalid("local_llm.max_tokens", "must be between 1 and 4096");
        }
        if policy.cloud.timeout_ms == Some(0) || policy.local_llm.timeout_ms == Some(0) {
            return invalid("timeout_ms", "must be more than 0");
        }
        if policy.memory.keep_said_days.is_some_and(|days| days > 3650) {
            return invalid("memory.keep_said_days", "must be at most 3650 (ten years)");
        }
        if policy.persona.trim().is_empty() {
            return invalid("persona", "is empty");
        }
        Ok(policy)
    }

    pub fn cloud_timeout(&self) -> Duration {
        self.cloud.timeout_ms.map(Duration::from_millis).unwrap_or_else(|| self.profile.cloud_timeout())
    }

    pub fn local_timeout(&self) -> Duration {
        self.local_llm.timeout_ms.map(Duration::from_millis).unwrap_or_else(|| self.profile.local_timeout())
    }
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_keeps_everything_private_and_the_cloud_off() {
        let policy = RoutingPolicy::embedded();
        assert!(!policy.cloud.enabled);
        assert!(policy.local_llm.enabled);
        for kind in PrivateData::ALL {
            assert!(!policy.share.allows(kind), "{kind:?} is shared by default");
        }
    }

    #[test]
    fn a_file_names_only_what_it_changes() {
        let policy = RoutingPolicy::parse(
            "owner.toml",
            "[share]\ncamera = true\n\n[cloud]\nenabled = true\nurl = \"https://llm.example/v1\"\nmodel = \"m\"\n",
        )
        .unwrap();
        assert!(policy.share.camera && !policy.share.location, "the other shares keep their shipped value");
        assert!(policy.cloud.enabled && policy.cloud.low_confidence);
        assert_eq!(policy.cloud.api_key_env, "CABIN_CLOUD_API_KEY");
        assert_eq!(policy.local_llm.max_tokens, 64);
        assert_eq!(policy.persona, RoutingPolicy::embedded().persona);
    }

    #[test]
    fn mistakes_name_the_file_and_field() {
        let text = EMBEDDED.replace(
            "[cloud]\n# Off until the owner allows it. Any OpenAI-compatible chat-completions endpoint.\nenabled = false",
            "[cloud]\nenabled = true",
        );
        let error = RoutingPolicy::parse("oem.toml", &text).unwrap_err().to_string();
        assert_eq!(error, "oem.toml: cloud.url: an http:// or https:// URL with a host is needed when the cloud is enabled");
        let error = RoutingPolicy::parse("oem.toml", "[cloud]\nenabled = true\nurl = \"https://\"\n").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml: cloud.url: "), "a URL without a host: {error}");
        let error = RoutingPolicy::parse("oem.toml", "profile = \"boat\"").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml: profile: unknown variant `boat`"), "{error}");
        let error = RoutingPolicy::parse("oem.toml", "[share]\ncamera = \"yes\"\n").unwrap_err().to_string();
        assert_eq!(error, "oem.toml: share.camera: invalid type: string \"yes\", expected a boolean");
        let error = RoutingPolicy::parse("oem.toml", "[share]\ncamra = true\n").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml: share.camra: unknown field `camra`"), "{error}");
        let error = RoutingPolicy::parse("oem.toml", "[share\ncamera = true\n").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml: line 1, column 7: "), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
        let error = RoutingPolicy::parse("oem.toml", &EMBEDDED.replace("max_tokens = 64", "max_tokens = 0")).unwrap_err().to_string();
        assert_eq!(error, "oem.toml: local_llm.max_tokens: must be between 1 and 4096");
        let error =
            RoutingPolicy::parse("oem.toml", &EMBEDDED.replace("keep_said_days = 30", "keep_said_days = 5000")).unwrap_err().to_string();
        assert_eq!(error, "oem.toml: memory.keep_said_days: must be at most 3650 (ten years)");
    }
}
