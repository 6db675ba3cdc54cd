//! One turn's way through the sides that can answer it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cabin_nlu::{IntentCatalog, Language};
use cabin_openai_compatible::{ChatClient, ChatError, ChatRequest, Message, TokenLogprob};
use serde::Serialize;

use crate::policy::RoutingPolicy;
use crate::privacy::PrivateData;
use crate::reach::Reachability;
use crate::tools::{offer, request_of, ToolCallError, ToolRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Cloud,
    LocalLlm,
}

/// A past exchange of the conversation, and what it touched.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub user: String,
    pub reply: String,
    pub private: BTreeSet<PrivateData>,
}

/// The turn the tasks could not answer.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub text: &'a str,
    /// The classifier's best guess, and whether it was unsure.
    pub intent: &'a str,
    pub low_confidence: bool,
    /// Facts the assistant remembers about the driver, for the model's context.
    pub memory: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub side: Side,
    /// "answered", or why not.
    pub outcome: String,
    pub ms: u64,
}

/// How the turn was routed: shown in the turn's JSON, so consoles and tests can see it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteReport {
    pub answered_by: Option<Side>,
    pub private: BTreeSet<PrivateData>,
    /// Why the cloud was not asked, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_skipped: Option<String>,
    pub attempts: Vec<Attempt>,
    /// How sure the car's model was of the numbers it gave: the least log-probability of a
    /// piece with a digit in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_certainty: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The model's words, if it said any.
    pub reply: Option<String>,
    /// Tasks the model asked for, checked against what it was offered.
    pub requests: Vec<ToolRequest>,
    /// Calls that were refused before reaching any task.
    pub rejected: Vec<ToolCallError>,
    pub route: RouteReport,
}

pub(crate) struct Endpoint {
    side: Side,
    pub(crate) client: ChatClient,
    pub(crate) model: String,
    pub(crate) reach: Reachability,
}

/// Why the car's model was not asked about a turn the classifier took for an unsure command.
const UNSURE_COMMAND: &str = "an unsure car command is not the car's model's to answer";

/// Tasks that ask the car something rather than have it do something.
const QUESTIONS: &[&str] = &["vehicle.query", "vision.find_object", "memory.recall", "memory.facts"];

/// Whether `intent` is a task that does something: acting on the car, a phone or the memory.
fn acts(intent: &str) -> bool {
    is_task(intent) && !QUESTIONS.contains(&intent)
}

/// Intents a model may ask for: tasks, not dialog moves or the open chat itself.
fn is_task(intent: &str) -> bool {
    !intent.starts_with("dialog.") && intent != "chat.open"
}

/// Takes the first sentence of an answer while the rest is being made.
pub type FirstSentence<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub struct Router {
    policy: RoutingPolicy,
    intents: Arc<IntentCatalog>,
    cloud: Option<Endpoint>,
    local: Option<Endpoint>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("profile", &self.policy.profile)
            .field("cloud", &self.cloud.as_ref().map(|c| c.client.base()))
            .field("local", &self.local.as_ref().map(|c| c.client.base()))
            .finish()
    }
}

impl Router {
    pub fn new(policy: RoutingPolicy, intents: Arc<IntentCatalog>) -> Router {
        let cloud = policy.cloud.enabled.then(|| Endpoint {
            side: Side::Cloud,
            client: ChatClient::new(&policy.cloud.url, std::env::var(&policy.cloud.api_key_env).ok().filter(|k| !k.is_empty())),
            model: policy.cloud.model.clone(),
            reach: Reachability::default(),
        });
        let local = policy.local_llm.enabled.then(|| Endpoint {
            side: Side::LocalLlm,
            client: ChatClient::new(&policy.local_llm.url, None),
            model: policy.local_llm.model.clone(),
            reach: Reachability::default(),
        });
        Router { policy, intents, cloud, local }
    }

    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    pub(crate) fn cloud_endpoint(&self) -> Option<&Endpoint> {
        self.cloud.as_ref()
    }

    /// What a question touches: its intent's data, and what its words mention.
    pub fn private_in(&self, intent: &str, text: &str) -> BTreeSet<PrivateData> {
        PrivateData::of_intent(intent).into_iter().chain(PrivateData::in_text(text, &self.policy.private_words)).collect()
    }

    /// Answers a question the tasks could not, with the conversation so far.
    pub async fn answer(&self, question: &Question<'_>, history: &[Exchange]) -> Answer {
        self.answer_saying(question, history, &|_| {}).await
    }

    /// As [`answer`](Self::answer), handing the first sentence of the car's own model to
    /// `first_sentence` as soon as it is complete, so that the driver hears it while the rest is
    /// made. The reply then begins with that sentence (unless the model fails after it).
    pub async fn answer_saying(&self, question: &Question<'_>, history: &[Exchange], first_sentence: FirstSentence<'_>) -> Answer {
        let mut route = RouteReport { private: self.private_in(question.intent, question.text), ..RouteReport::default() };
        let mut sides = Vec::new();
        match (&self.cloud, self.cloud_refusal(question, &route.private)) {
            (Some(cloud), None) => {
                if cloud.reach.is_up(&cloud.client).await {
                    sides.push(cloud);
                } else {
                    route.cloud_skipped = Some("not reachable".into());
                }
            }
            (_, Some(why)) => route.cloud_skipped = Some(why),
            (None, None) => route.cloud_skipped = Some("disabled".into()),
        }
        sides.extend(self.local.as_ref());

        for endpoint in sides {
            let started = Instant::now();
            if endpoint.side == Side::LocalLlm && question.low_confidence && acts(question.intent) {
                // An unsure car command ("open the driver's door" taken for the locks) is not
                // the small model's to answer: offered no tools, it said it had done it. An
                // unsure question ("how long is the great wall", taken for a vehicle query) is.
                route.attempts.push(Attempt { side: endpoint.side, outcome: UNSURE_COMMAND.into(), ms: 0 });
                continue;
            }
            if endpoint.side == Side::LocalLlm {
                // Another user's program on the model's port would be told everything.
                if let Err(error) = crate::loopback::check(endpoint.client.base()) {
                    tracing::warn!(%error, "the car's model was not asked");
                    route.attempts.push(Attempt { side: endpoint.side, outcome: error.to_string(), ms: 0 });
                    continue;
                }
            }
            let offered: Vec<&str> = match endpoint.side {
                // A small local model calls the wrong function more often than the right one.
                Side::LocalLlm => Vec::new(),
                Side::Cloud => self
                    .intents
                    .intents()
                    .iter()
                    .map(|d| d.name.as_str())
                    .filter(|i| is_task(i) && PrivateData::of_intent(i).iter().all(|k| self.policy.share.allows(*k)))
                    .collect(),
            };
            let request = self.request(endpoint, question, history, &offered);
            let timeout = match endpoint.side {
                Side::Cloud => self.policy.cloud_timeout(),
                Side::LocalLlm => self.policy.local_timeout(),
            };
            let result = match endpoint.side {
                // The driver hears two sentences at most: the car's model stops when it has said them.
                Side::LocalLlm => {
                    let handed_on = AtomicBool::new(false);
                    let enough = |content: &str, logprobs: &[TokenLogprob]| {
                        if !handed_on.load(Ordering::Relaxed) {
                            if let Some(first) = first_sentence_of(content) {
                                handed_on.store(true, Ordering::Relaxed);
                                // A number the model was unsure of is not said at all.
                                if !unsure_of_a_number(logprobs) {
                                    first_sentence(&first);
                                }
                            }
                        }
                        says_two_sentences(content)
                    };
                    endpoint.client.complete_until(&request, timeout, enough).await
                }
                Side::Cloud => endpoint.client.complete(&request, timeout).await,
            };
            let ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(response) => {
                    endpoint.reach.record(true);
                    let choice = response.choices.into_iter().next();
                    let logprobs = choice.as_ref().and_then(|c| c.logprobs.clone()).map(|l| l.content).unwrap_or_default();
                    let mut message = choice.map(|c| c.message).unwrap_or_default();
                    let unsure = endpoint.side == Side::LocalLlm && unsure_of_a_number(&logprobs);
                    if unsure {
                        // Better no answer than a wrong number said with confidence.
                        tracing::info!(said = ?message.content, "the car's model was unsure of a number it gave");
                        message.content = Some(not_sure(Language::of(question.text)).into());
                    }
                    let mut answer = Answer { route, ..Answer::default() };
                    answer.route.number_certainty = number_certainty(&logprobs);
                    for call in &message.tool_calls {
                        match request_of(call, &self.intents, &offered) {
                            Ok(request) => answer.requests.push(request),
                            Err(error) => {
                                tracing::warn!(side = ?endpoint.side, %error, "refused a tool call");
                                answer.rejected.push(error);
                            }
                        }
                    }
                    answer.reply = message.content.map(|c| speakable(&c)).filter(|c| !c.is_empty());
                    if answer.reply.is_none() && message.tool_calls.is_empty() {
                        tracing::warn!(side = ?endpoint.side, "the model answered nothing");
                        answer.route.attempts.push(Attempt { side: endpoint.side, outcome: "empty answer".into(), ms });
                        route = answer.route;
                        continue;
                    }
                    let outcome = if unsure { "answered, unsure of a number" } else { "answered" };
                    answer.route.attempts.push(Attempt { side: endpoint.side, outcome: outcome.into(), ms });
                    answer.route.answered_by = Some(endpoint.side);
                    return answer;
                }
                Err(error) => {
                    if matches!(error, ChatError::Unreachable { .. } | ChatError::Timeout { .. }) {
                        endpoint.reach.record(false);
                    }
                    tracing::warn!(side = ?endpoint.side, %error, "no answer; trying the next side");
                    route.attempts.push(Attempt { side: endpoint.side, outcome: error.to_string(), ms });
                }
            }
        }
        Answer { route, ..Answer::default() }
    }

    /// Why this question may not go to the cloud, if it may not.
    fn cloud_refusal(&self, question: &Question<'_>, private: &BTreeSet<PrivateData>) -> Option<String> {
        if !self.policy.cloud.enabled {
            return Some("disabled".into());
        }
        if let Some(kind) = private.iter().find(|k| !self.policy.share.allows(**k)) {
            return Some(format!("private: {}", serde_json::to_string(kind).unwrap_or_default().trim_matches('"')));
        }
        if question.intent != "chat.open" && question.low_confidence && !self.policy.cloud.low_confidence {
            return Some("unsure turns stay on the car".into());
        }
        None
    }

    fn request(&self, endpoint: &Endpoint, question: &Question<'_>, history: &[Exchange], offered: &[&str]) -> ChatRequest {
        let shares = |kinds: &BTreeSet<PrivateData>| endpoint.side == Side::LocalLlm || kinds.iter().all(|k| self.policy.share.allows(*k));
        let mut system = self.policy.persona.trim().to_string();
        if !question.memory.is_empty() && shares(&BTreeSet::from([PrivateData::Memory])) {
            system.push_str("\n\nWhat you know about the driver:\n");
            for fact in &question.memory {
                system.push_str(&format!("- {fact}\n"));
            }
        }
        let mut messages = vec![Message::new("system", system)];
        for exchange in history.iter().filter(|e| shares(&e.private)) {
            messages.push(Message::new("user", &exchange.user));
            messages.push(Message::new("assistant", &exchange.reply));
        }
        messages.push(Message::new("user", question.text));
        ChatRequest {
            model: endpoint.model.clone(),
            messages,
            tools: offer(&self.intents, offered),
            max_tokens: Some(self.policy.local_llm.max_tokens),
            temperature: Some(0.0),
            // How sure the car's model is of each word: see `unsure_of_a_number`.
            logprobs: (endpoint.side == Side::LocalLlm).then_some(true),
            ..ChatRequest::default()
        }
    }
}

/// What the car says instead of a number its model was unsure of, in the question's language.
pub fn not_sure(language: Language) -> &'static str {
    match language {
        Language::English => "I'm not sure about that.",
        Language::Chinese => "这个我不太确定。",
    }
}

/// The least log-probability (p = 0.30) the car's model may have given a piece of a number it
/// states. Measured on 40 open questions with SmolLM2 and Qwen2.5 (`cargo bench -p cabin --bench
/// open_answers`): of the 16 answers whose numbers fell under it, 12 were wrong (and 2 more had
/// a wrong number beside the right name); of the 14 above it, 13 were right.
const NUMBER_SURE_ENOUGH: f64 = -1.2;

/// The least log-probability of a piece of a number, if any: a piece with a digit, or one of
/// Chinese numerals alone ("三千", "十二"), as Qwen writes numbers in Chinese answers. A lone
/// "一" is left out: it is as often "a" ("一种") as one.
fn number_certainty(logprobs: &[TokenLogprob]) -> Option<f64> {
    logprobs.iter().filter(|piece| is_a_number_piece(piece.token.trim())).map(|piece| piece.logprob).reduce(f64::min)
}

fn is_a_number_piece(piece: &str) -> bool {
    const CHINESE_NUMERALS: &str = "零一二两三四五六七八九十百千万亿";
    piece.chars().any(|c| c.is_ascii_digit()) || (piece != "一" && !piece.is_empty() && piece.chars().all(|c| CHINESE_NUMERALS.contains(c)))
}

/// Whether the model gave a number it was unsure of: a piece with a digit whose least likely
/// token had a log-probability under [`NUMBER_SURE_ENOUGH`].
fn unsure_of_a_number(logprobs: &[TokenLogprob]) -> bool {
    number_certainty(logprobs).is_some_and(|certainty| certainty < NUMBER_SURE_ENOUGH)
}

/// A full stop, question or exclamation mark with more text after it ("3.5" and "e.g." in the
/// middle of a word are not ends). Chinese ends its sentences with full-width marks and goes on
/// without a space.
fn ends_sentence(text: &str, at: usize, c: char) -> bool {
    let after = &text[at + c.len_utf8()..];
    match c {
        '.' | '!' | '?' => after.starts_with(char::is_whitespace),
        '。' | '！' | '？' => !after.is_empty(),
        _ => false,
    }
}

fn is_sentence_mark(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

/// The first sentence of a streamed answer, as the driver will hear it, once it is over.
fn first_sentence_of(text: &str) -> Option<String> {
    let (at, c) = text.char_indices().find(|(at, c)| ends_sentence(text, *at, *c))?;
    Some(speakable(&text[..at + c.len_utf8()])).filter(|s| !s.is_empty())
}

/// Whether a streamed answer has said two sentences, all the driver will hear.
fn says_two_sentences(text: &str) -> bool {
    text.char_indices().filter(|(at, c)| ends_sentence(text, *at, *c)).count() >= 2
}

/// What the driver hears of a model's answer: plain sentences, at most two, none said twice.
/// The persona asks for that; small models do not always listen.
fn speakable(text: &str) -> String {
    let plain: String = text.replace(['*', '#', '`'], "").split_whitespace().collect::<Vec<_>>().join(" ");
    let mut sentences: Vec<&str> = Vec::new();
    let mut start = 0;
    for (at, c) in plain.char_indices() {
        let end = at + c.len_utf8();
        if ends_sentence(&plain, at, c) || (is_sentence_mark(c) && end == plain.len()) {
            let sentence = plain[start..end].trim();
            if !sentence.is_empty() && !sentences.contains(&sentence) {
                sentences.push(sentence);
            }
            start = end;
            if sentences.len() == 2 {
                return joined(&sentences);
            }
        }
    }
    let rest = plain[start..].trim();
    if sentences.is_empty() || (!rest.is_empty() && sentences.len() < 2 && !sentences.contains(&rest)) {
        sentences.push(rest);
    }
    joined(&sentences).trim().to_string()
}

/// Sentences one after the other: a space after an English one, none after a Chinese one.
fn joined(sentences: &[&str]) -> String {
    let mut text = String::new();
    for sentence in sentences {
        if text.ends_with(|c: char| c.is_ascii_punctuation() || c.is_alphanumeric()) {
            text.push(' ');
        }
        text.push_str(sentence);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{first_sentence_of, says_two_sentences, speakable, unsure_of_a_number, TokenLogprob};

    #[test]
    fn a_number_said_with_little_probability_makes_the_answer_unsure() {
        let pieces = |said: &[(&str, f64)]| -> Vec<TokenLogprob> {
            said.iter().map(|(token, logprob)| TokenLogprob { token: token.to_string(), logprob: *logprob }).collect()
        };
        assert!(unsure_of_a_number(&pieces(&[("The moon is ", -0.1), ("2,198", -1.4), (" miles away.", -0.2)])));
        assert!(!unsure_of_a_number(&pieces(&[("A spider has ", -0.3), ("8", -0.21), (" legs.", -0.1)])));
        assert!(!unsure_of_a_number(&pieces(&[("Perhaps", -3.0), (" Paris.", -0.5)])), "only numbers are checked");
        assert!(unsure_of_a_number(&pieces(&[("月球离地球约", -0.2), ("三十八", -1.6), ("万公里。", -0.3)])), "numbers in characters");
        assert!(!unsure_of_a_number(&pieces(&[("蜘蛛有", -0.2), ("八", -0.1), ("条腿。", -0.1)])));
        assert!(!unsure_of_a_number(&pieces(&[("这是", -0.2), ("一", -2.5), ("种发动机。", -0.1)])), "一 alone is often \"a\"");
    }

    #[test]
    fn two_sentences_are_said_once_the_third_begins() {
        assert!(!says_two_sentences("It is 3.5 km away. Turn"));
        assert!(!says_two_sentences("It is 3.5 km away. Turn left."), "the second may not be over");
        assert!(says_two_sentences("It is 3.5 km away. Turn left. Then"));
    }

    #[test]
    fn the_first_sentence_is_handed_on_once_it_is_over_as_the_reply_will_begin() {
        assert_eq!(first_sentence_of("It is 3.5 km"), None);
        assert_eq!(first_sentence_of("It is 3.5 km away."), None, "it may go on");
        assert_eq!(first_sentence_of("It is **3.5 km** away. Turn").as_deref(), Some("It is 3.5 km away."));
        let whole = "It is **3.5 km** away. Turn left. Then stop.";
        assert!(speakable(whole).starts_with(&first_sentence_of(whole).unwrap()));
    }

    #[test]
    fn answers_are_cut_to_two_sentences_said_once() {
        assert_eq!(speakable("I'm right here. I'm right here. I'm right here."), "I'm right here.");
        assert_eq!(
            speakable("**Paris** is the capital. It is in France. It has 2.1 million people."),
            "Paris is the capital. It is in France."
        );
        assert_eq!(speakable("It is 3.5 km away"), "It is 3.5 km away");
    }

    #[test]
    fn a_chinese_answer_ends_its_sentences_with_full_width_marks() {
        assert_eq!(first_sentence_of("北京是中国的首都。它"), Some("北京是中国的首都。".to_string()));
        assert_eq!(first_sentence_of("北京是中国的首都。"), None, "it may go on");
        assert_eq!(first_sentence_of("大约3.5公里"), None);
        assert!(says_two_sentences("北京是首都。人口很多！还有"));
        assert_eq!(speakable("北京是首都。人口很多！还有很多公园。"), "北京是首都。人口很多！");
        assert_eq!(speakable("好的。好的。好的。"), "好的。");
    }
}
