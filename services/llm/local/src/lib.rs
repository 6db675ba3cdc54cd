//! A chat model on the car's own CPU: a GGUF file (Qwen2 or Llama architecture) run by candle,
//! its tokenizer built from the file's own metadata, prompts in ChatML with Qwen's tool-call
//! convention, and generation streamed token by token.

mod block_product;
mod chat;
mod dequantize;
mod model;
mod tokenizer;
mod transformer;

pub use chat::{parse_reply, render_prompt, ChatMessage, ParsedReply, Role, ToolCall, ToolSpec};
pub use model::{Finish, GenerateError, Generation, LoadError, LocalLlm, Sampling, TokenScore};
pub use tokenizer::{tokenizer_from_gguf, TokenizerError};
