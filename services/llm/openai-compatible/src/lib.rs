//! The chat-completions wire format that OpenAI, GLM, vLLM, Ollama and `cabin serve llm` all
//! speak (the subset Cabin uses: messages, tools and tool calls, streaming chunks, errors), and
//! a client for it.

mod client;
mod wire;

pub use client::{ChatClient, ChatError};
pub use wire::*;
