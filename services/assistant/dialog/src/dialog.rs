//! The conversation: one task at a time, filled over turns, corrected, confirmed, then run.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use regex::Regex;

use cabin_nlu::{normalise, Language, SlotKind, SlotValue, Slots, UnderstandError, Understander, Understanding};
use cabin_principal::Principal;
use cabin_vehicle_config::{Catalog, Datatype, Interlock, LimitError, Value};
use serde::Serialize;

use crate::confirmations::{read_yes, Answer};
use crate::corrections::{
    asks_to_undo, correction_remainder, is_follow_up, judges_the_last, mentions_other, names_own_seat, only_a_number, only_a_value,
    other_side, refers_back, restated, stops_mid_correction, stops_mid_phrase,
};
use crate::phrases::{self, phrases, with_doing};
use crate::tasks::{boolean_word, Relative, SlotRule, Task, TaskBook};
use crate::template::{render, render_in, render_paths, render_value, scale_of};
use crate::tools::{ToolError, Tools};

/// A half-filled task is forgotten after this long without an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a finished task stays the context for "and the passenger side too" or "a bit warmer".
const CONTEXT_WINDOW: Duration = Duration::from_secs(120);
/// How soon after a change "actually no" or "cancel" takes it back, rather than answer nothing.
const TAKE_BACK_WINDOW: Duration = Duration::from_secs(15);
/// A different intent this sure interrupts a question instead of answering it...
const INTERRUPT_CONFIDENCE: f32 = 0.7;
/// ...if it also reads as a whole request: bare answers ("passenger side please") come no
/// closer than 0.73 to any intent's examples, requests 0.84 and up.
const WHOLE_REQUEST_SIMILARITY: f32 = 0.8;

/// What happened in one turn: the reply and everything behind it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Turn {
    pub reply: String,
    pub intent: Option<String>,
    pub confidence: f32,
    pub low_confidence: bool,
    /// The slots understood in this utterance.
    pub slots: Slots,
    /// The task still open after this turn, if any.
    pub task: Option<TaskState>,
    pub actions: Vec<ActionTaken>,
    /// No task answers this: an open question, or a turn the classifier was unsure of. The
    /// reply says so; a model may answer it instead.
    pub open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskState {
    pub intent: String,
    pub slots: Slots,
    /// The slot asked for, or "confirmation".
    pub waiting_for: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionTaken {
    /// set | read | call | vision
    pub kind: &'static str,
    /// A signal path, a D-Bus method, or the object looked for.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Waiting {
    Slot(String),
    Confirmation,
}

#[derive(Debug, Clone)]
struct Pending {
    intent: String,
    slots: Slots,
    waiting: Waiting,
    since: Instant,
}

#[derive(Debug, Clone)]
struct Done {
    intent: String,
    slots: Slots,
    at: Instant,
    /// The signals it changed, with their values before: a correction that moves to another
    /// window or seat puts the first one back, and "undo that" all of them.
    before: Vec<(String, Value)>,
}

#[derive(Debug)]
pub struct Dialog {
    understander: Arc<Understander>,
    book: Arc<TaskBook>,
    catalog: Arc<Catalog>,
    /// The vehicle's interlocks, to refuse before asking "are you sure?" for what the vehicle
    /// bus would refuse anyway; the bus still decides.
    interlocks: Arc<Vec<Interlock>>,
    pending: Option<Pending>,
    last_done: Option<Done>,
    timeout: Duration,
    /// The language of the latest utterance: replies are given in it.
    language: Language,
}

impl Dialog {
    pub fn new(understander: Arc<Understander>, book: Arc<TaskBook>, catalog: Arc<Catalog>) -> Dialog {
        Dialog {
            understander,
            book,
            catalog,
            interlocks: Arc::default(),
            pending: None,
            last_done: None,
            timeout: DEFAULT_TIMEOUT,
            language: Language::English,
        }
    }

    pub fn with_interlocks(mut self, interlocks: Arc<Vec<Interlock>>) -> Dialog {
        self.interlocks = interlocks;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Dialog {
        self.timeout = timeout;
        self
    }

    /// One utterance in, one reply out; actions run through `tools` on the way.
    pub async fn turn<T: Tools>(&mut self, text: &str, tools: &T) -> Turn {
        let understood = self.understander.understand(text);
        self.turn_understood(text, understood, tools).await
    }

    /// The understander, for a caller that runs it away from its async threads (the sentence
    /// encoder is milliseconds of CPU) and passes the result to [`Dialog::turn_understood`].
    pub fn understander(&self) -> &Arc<Understander> {
        &self.understander
    }

    /// [`Dialog::turn`] with `text` already understood.
    pub async fn turn_understood<T: Tools>(&mut self, text: &str, understood: Result<Understanding, UnderstandError>, tools: &T) -> Turn {
        let Some(requests) = understood.as_ref().ok().and_then(|whole| self.separate_requests(text, whole)) else {
            return self.one_turn(text, understood, tools).await;
        };
        let mut turn = Turn::default();
        for (said, understood) in requests {
            let part = self.one_turn(&said, Ok(understood), tools).await;
            // Mandarin sentences follow each other without a space.
            if !turn.reply.is_empty() && !turn.reply.ends_with(['。', '？', '！']) {
                turn.reply.push(' ');
            }
            turn.reply.push_str(&part.reply);
            turn.actions.extend(part.actions);
            turn.slots.extend(part.slots);
            (turn.intent, turn.confidence, turn.task) = (part.intent, part.confidence, part.task);
        }
        turn
    }

    /// "Open the window and turn on the AC", 开窗然后把空调关了, 把空调打开，温度调到二十四度:
    /// requests joined by "and", "then" or a comma, each of which alone is a confident request
    /// to act (or not to: "don't open the window, just turn on the AC"), taken one by one, but
    /// for a statement beside a command, which gives its reason ("open my window, I'd love
    /// some fresh air"); one that needs a question goes last, so that its question is the last
    /// thing said and answered next. `None` for one request, or an "and" inside a name ("navigate to marks
    /// and spencer"). Said while a question waits, they are new requests, not its answer.
    fn separate_requests(&self, raw: &str, whole: &Understanding) -> Option<Vec<(String, Understanding)>> {
        static JOINS: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?i)[，,;；]|\s(?:and then|and also|and|then|also|plus)\s|然后|并且|同时|顺便|接着").expect("tested")
        });
        // "不是上海，是深圳", "twenty four, no sorry, twenty five": one request, corrected.
        if correction_remainder(raw).or_else(|| restated(raw)).is_some() {
            return None;
        }
        let parts: Vec<&str> =
            JOINS.split(raw).map(str::trim).filter(|part| !part.trim_matches(['.', '。', '!', '！', '?', '？']).is_empty()).collect();
        if parts.len() < 2 {
            return None;
        }
        let inside_a_name = whole.slots.values().any(|value| matches!(value, SlotValue::Text(t) if JOINS.is_match(&format!(" {t} "))));
        if inside_a_name {
            return None;
        }
        let mut requests = Vec::new();
        for part in parts {
            let understood = self.understander.understand(part).ok()?;
            if understood.low_confidence || !self.book.moves_something(&understood.intent) {
                // "Turn on the light in here, I dropped my phone": a statement asks nothing.
                if understood.statement {
                    continue;
                }
                return None;
            }
            requests.push((part.to_string(), understood));
        }
        if requests.is_empty() {
            return None;
        }
        // "Turn off the seat heating, it's getting too hot": beside a command, a statement
        // gives its reason and asks nothing more; so does one that says too little to act on
        // beside a request that says enough ("it's too dark in here, I can't see anything").
        if requests.iter().any(|(_, understood)| !understood.statement) {
            requests.retain(|(_, understood)| !understood.statement);
        } else if requests.iter().any(|(said, understood)| self.is_complete(said, understood)) {
            requests.retain(|(said, understood)| self.is_complete(said, understood));
        }
        // "Too loud, turn it down" says one thing twice.
        let said_twice = requests
            .iter()
            .enumerate()
            .any(|(i, (_, one))| requests[i + 1..].iter().any(|(_, other)| other.intent == one.intent && other.slots == one.slots));
        // "Set the temperature, 21 degrees": what one part leaves out, another of its kind says.
        let one_completes_another = requests.iter().enumerate().any(|(i, (said, one))| {
            !self.is_complete(said, one) && requests.iter().enumerate().any(|(j, (_, other))| i != j && other.intent == one.intent)
        });
        if said_twice || one_completes_another || requests.iter().all(|(_, understood)| understood.negated) {
            return None;
        }
        requests.sort_by_key(|(said, understood)| !understood.negated && !self.is_complete(said, understood));
        Some(requests)
    }

    /// One request, or the answer to a question.
    async fn one_turn<T: Tools>(&mut self, text: &str, understood: Result<Understanding, UnderstandError>, tools: &T) -> Turn {
        let now = Instant::now();
        let heard = understood.as_ref().map_or_else(|_| Language::of(text), |u| u.language);
        // "OK" said in a Mandarin conversation is answered in Mandarin.
        let yes_or_no = understood.as_ref().is_ok_and(|u| matches!(u.intent.as_str(), "dialog.confirm" | "dialog.deny"));
        let keeps_language = yes_or_no && heard == Language::English && text.split_whitespace().count() <= 2;
        self.language = if keeps_language { self.language } else { heard };
        let said = phrases(self.language);
        let mut preface = "";
        if self.pending.as_ref().is_some_and(|p| now.duration_since(p.since) > self.timeout) {
            self.pending = None;
            preface = said.gave_up_earlier;
        }
        let understood = match understood {
            Ok(u) => u,
            Err(UnderstandError::Empty) => return Turn { reply: said.not_caught.into(), ..Turn::default() },
            Err(error) => return Turn { reply: said.cannot_understand.replace("{error}", &error.to_string()), ..Turn::default() },
        };
        let mut turn = Turn {
            intent: Some(understood.intent.clone()),
            confidence: understood.confidence,
            low_confidence: understood.low_confidence,
            slots: understood.slots.clone(),
            ..Turn::default()
        };
        let reply = self.respond(text, &understood, tools, &mut turn).await;
        turn.reply = format!("{preface}{reply}");
        turn.task = self.pending_state();
        turn
    }

    /// Whether `raw`, said now, is a whole turn that needs nothing more from the driver: a task
    /// with every slot it requires, the answer to the question asked, a yes or a no to one, a
    /// correction or follow-up that names its new value, a cancel. The voice ends the turn at
    /// a short pause on it instead of waiting out the full silence. Open questions, anything
    /// the classifier is unsure of and words that stop before a correction's new value are not
    /// whole: the driver may go on. Changes nothing.
    pub fn is_complete(&self, raw: &str, understood: &Understanding) -> bool {
        let intent = understood.intent.as_str();
        let correction = correction_remainder(raw).or_else(|| restated(raw));
        if (correction.is_none() && stops_mid_correction(raw)) || stops_mid_phrase(raw) {
            return false;
        }
        let done = self.recent_done();
        if self.more_of_last(understood).is_some() {
            return true;
        }
        if done.is_some() && is_follow_up(&understood.text) {
            return false;
        }
        if intent == "dialog.cancel" {
            return true;
        }
        // A bare answer sounds like no request at all ("the passenger one"): asked first.
        match self.pending.as_ref().filter(|p| p.since.elapsed() <= self.timeout) {
            Some(Pending { waiting: Waiting::Confirmation, .. }) => return matches!(intent, "dialog.confirm" | "dialog.deny"),
            Some(Pending { intent: asking, waiting: Waiting::Slot(asked), .. }) if !self.is_new_request(asking, understood) => {
                let text = correction.as_deref().unwrap_or(&understood.text);
                let answers_asked = self.answers_asked(asking, understood);
                return !self.extract_answer(asking, text, answers_asked.then_some(asked.as_str())).is_empty();
            }
            _ => {}
        }
        // "不是上海，是深圳" sounds like no request of its own either.
        if let (Some(remainder), Some(done)) = (&correction, &done) {
            if !self.is_new_request(&done.intent, understood) {
                return !self.extract_answer(&done.intent, remainder, None).is_empty();
            }
        }
        // A bare "twenty two" asks for nothing yet: it may begin "twenty two on the passenger side".
        if understood.low_confidence || intent == "chat.open" || only_a_number(raw) {
            return false;
        }
        if matches!(intent, "dialog.confirm" | "dialog.deny") {
            return false;
        }
        let mut slots = understood.slots.clone();
        self.carry_context(intent, &understood.text, &mut slots);
        let Some(task) = self.book.select(intent, &slots) else { return false };
        task.apply_defaults(&mut slots);
        for (name, rule) in &task.slots {
            let from_last = rule.recent && done.as_ref().is_some_and(|d| d.slots.contains_key(name));
            let by_direction = task.relative.as_ref().is_some_and(|r| *name == r.slot && slots.contains_key(&r.direction));
            if from_last || by_direction {
                slots.entry(name.clone()).or_insert(SlotValue::Number(0.0));
            }
        }
        task.missing(&slots).is_none()
    }

    /// Runs a task someone else understood (a model's tool call), exactly as if the driver had
    /// asked: missing slots are asked for, confirmations asked, permissions and interlocks
    /// checked, and it becomes the context for a correction or a follow-up.
    pub async fn act<T: Tools>(&mut self, intent: &str, slots: Slots, tools: &T, turn: &mut Turn) -> String {
        if self.understander.catalog().get(intent).is_none() {
            return phrases(self.language).no_task.into();
        }
        self.pending = None;
        let reply = self.advance(intent.to_string(), slots, false, tools, turn).await;
        turn.task = self.pending_state();
        reply
    }

    fn pending_state(&self) -> Option<TaskState> {
        self.pending.as_ref().map(|p| TaskState {
            intent: p.intent.clone(),
            slots: p.slots.clone(),
            waiting_for: match &p.waiting {
                Waiting::Slot(name) => name.clone(),
                Waiting::Confirmation => "confirmation".into(),
            },
        })
    }

    async fn respond<T: Tools>(&mut self, raw: &str, understood: &Understanding, tools: &T, turn: &mut Turn) -> String {
        let intent = understood.intent.as_str();
        // "Twenty four, no sorry, twenty five": what was said last is what was meant.
        let correction = correction_remainder(raw).or_else(|| restated(raw));

        // "Undo that": the last change goes back as it was; so it does on "actually no" or
        // "cancel" said right after it, unless the words change the last task (a bare "close"
        // after opening a window closes it).
        let takes_back = matches!(intent, "dialog.cancel" | "dialog.deny")
            && correction.is_none()
            && self.last_done.as_ref().is_some_and(|done| done.at.elapsed() < TAKE_BACK_WINDOW && !done.before.is_empty())
            && self.more_of_last(understood).is_none();
        if (asks_to_undo(&understood.text) || takes_back) && self.pending.is_none() {
            let said = phrases(self.language);
            let Some(done) = self.recent_done().filter(|done| !done.before.is_empty()) else { return said.nothing_to_undo.into() };
            self.last_done = None;
            self.put_back(&done, &[], tools, turn).await;
            // The vehicle bus checks a step back as any other (locking at speed is refused).
            return match turn.actions.iter().find_map(|a| a.error.as_deref()) {
                Some(reason) => with_doing(&said.refused.replace("{reason}", reason), said.put_back),
                None => said.undone.into(),
            };
        }

        // "Cancel", and "actually, forget it": a correction that takes everything back.
        let cancels = intent == "dialog.cancel"
            && correction.as_deref().is_none_or(|rest| self.understander.understand(rest).is_ok_and(|u| u.intent == "dialog.cancel"));
        // A bare "close" after opening a window closes it; it takes nothing back.
        if cancels && (self.pending.is_some() || self.more_of_last(understood).is_none()) {
            let said = phrases(self.language);
            return if self.pending.take().is_some() { said.cancelled.into() } else { said.okay.into() };
        }

        if let Some(pending) = self.pending.take() {
            if let Some(reply) = self.continue_pending(pending, understood, correction.as_deref(), tools, turn).await {
                return reply;
            }
        }

        // "Don't open the windows": nothing is done, and nothing is left waiting.
        if understood.negated && self.book.moves_something(intent) {
            return phrases(self.language).wont.into();
        }

        // "Make it 22" corrects the last task; "make it two degrees warmer" after the volume is
        // a request of its own.
        let correctable = self.recent_done().filter(|done| !self.is_new_request(&done.intent, understood));
        if let (Some(remainder), Some(done)) = (&correction, correctable) {
            let mut corrected = self.extract_answer(&done.intent, remainder, None);
            // "No, the other one": the side across from the one just changed.
            if mentions_other(&normalise(remainder)) {
                corrected.extend(self.other_side_of(&done));
            }
            // "Set the passenger side to 20", "actually, make mine 24": another seat was named on
            // purpose, and the speaker's own is a request of its own. The passenger keeps 20.
            let named_seat = |value: &SlotValue| matches!(value, SlotValue::Text(side) if other_side(side).is_some());
            let own_seat_after_another = names_own_seat(&normalise(remainder))
                && corrected.iter().any(|(name, value)| done.slots.get(name).is_some_and(|before| before != value && named_seat(before)));
            if own_seat_after_another {
                let slots = self.changed(&done.intent, done.slots.clone(), corrected);
                return self.advance(done.intent.clone(), slots, false, tools, turn).await;
            }
            if !corrected.is_empty() {
                let slots = self.changed(&done.intent, done.slots.clone(), corrected);
                let reply = self.advance(done.intent.clone(), slots, false, tools, turn).await;
                // What was meant is set ("no, the rear left one"): what was not goes back. Nothing
                // does when the correction set nothing (refused, or asked a question).
                let meant: Vec<String> =
                    turn.actions.iter().filter(|a| a.kind == "set" && a.error.is_none()).map(|a| a.target.clone()).collect();
                if !meant.is_empty() {
                    self.put_back(&done, &meant, tools, turn).await;
                }
                return reply;
            }
        }

        if let Some((done, extra)) = self.more_of_last(understood) {
            let slots = self.changed(&done.intent, done.slots.clone(), extra);
            return self.advance(done.intent, slots, false, tools, turn).await;
        }

        match intent {
            // "The engine sounds weird" is no question to answer with "What would you like to
            // know?": a remark that names nothing the car can tell is not understood.
            _ if understood.low_confidence
                || (understood.statement && !self.book.moves_something(intent) && !self.is_complete(raw, understood)) =>
            {
                turn.open = true;
                phrases(self.language).not_understood.into()
            }
            "dialog.confirm" | "dialog.deny" => phrases(self.language).nothing_to_confirm.into(),
            _ => {
                turn.open = intent == "chat.open";
                let mut slots = understood.slots.clone();
                if let Some(meant) = restated(raw) {
                    slots.extend(self.extract_answer(intent, &meant, None));
                }
                self.carry_context(intent, &understood.text, &mut slots);
                self.advance(intent.to_string(), slots, false, tools, turn).await
            }
        }
    }

    /// More of the last task, and what changes in it: "and the passenger side too", "do the
    /// other one too", a bare "off" or "close"; with "it" and "that" ("turn it off again"),
    /// unless another task is surely meant. `None` when the words change nothing in it.
    fn more_of_last(&self, understood: &Understanding) -> Option<(Done, Slots)> {
        let text = &understood.text;
        let done = self.recent_done().filter(|done| {
            is_follow_up(text)
                || only_a_value(text)
                || judges_the_last(text)
                || (refers_back(text) && !self.is_other_request(&done.intent, understood))
        })?;
        let mut extra = self.understander.extract(&done.intent, text);
        // "The other one", "另一边也开": the side across, whatever else is said.
        if mentions_other(text) {
            extra.extend(self.other_side_of(&done));
        }
        (!extra.is_empty()).then_some((done, extra))
    }

    /// Handles an utterance while a task waits for a slot or a yes/no. `None`: the utterance is
    /// something else, and the pending task is dropped.
    async fn continue_pending<T: Tools>(
        &mut self,
        pending: Pending,
        understood: &Understanding,
        correction: Option<&str>,
        tools: &T,
        turn: &mut Turn,
    ) -> Option<String> {
        let intent = understood.intent.as_str();
        match &pending.waiting {
            Waiting::Confirmation => {
                if let Some(remainder) = correction {
                    let corrected = self.extract_answer(&pending.intent, remainder, None);
                    if !corrected.is_empty() {
                        let slots = self.changed(&pending.intent, pending.slots, corrected);
                        return Some(self.advance(pending.intent, slots, false, tools, turn).await);
                    }
                }
                // "Yes, call her", or the request again: nothing new, so a yes.
                let repeats = intent == pending.intent
                    && self.understander.extract(&pending.intent, &understood.text).iter().all(|(k, v)| pending.slots.get(k) == Some(v));
                let answer = match intent {
                    _ if understood.negated || intent == "dialog.deny" => Answer::No,
                    _ if repeats || intent == "dialog.confirm" => read_yes(self.language, &understood.text, understood.low_confidence),
                    // "What?", "yes please but only the driver's", words it cannot place: no
                    // new request, so no answer yet. "Call mom instead" asks anew.
                    _ if intent != pending.intent && !self.is_new_request(&pending.intent, understood) => Answer::Unclear,
                    _ => return None,
                };
                match answer {
                    Answer::Yes => Some(self.advance(pending.intent, pending.slots, true, tools, turn).await),
                    Answer::No => Some(phrases(self.language).wont.into()),
                    Answer::Unclear => {
                        let question = self.advance(pending.intent, pending.slots, false, tools, turn).await;
                        Some(format!("{}{question}", phrases(self.language).yes_or_no))
                    }
                }
            }
            Waiting::Slot(_) if self.is_new_request(&pending.intent, understood) => None,
            Waiting::Slot(_) if intent == "dialog.deny" && correction.is_none() => Some(phrases(self.language).never_mind.into()),
            Waiting::Slot(asked) => {
                let text = correction.unwrap_or(&understood.text);
                let answers_asked = self.answers_asked(&pending.intent, understood);
                let answer = self.extract_answer(&pending.intent, text, answers_asked.then_some(asked.as_str()));
                if !answer.is_empty() {
                    let mut slots = pending.slots;
                    slots.extend(answer);
                    return Some(self.advance(pending.intent, slots, false, tools, turn).await);
                }
                // Words it cannot place ("the sunroof" to "Which window?"): the question stays,
                // asked again, rather than being forgotten.
                if understood.low_confidence {
                    let question = self.advance(pending.intent, pending.slots, false, tools, turn).await;
                    return Some(format!("{}{question}", phrases(self.language).asked_again));
                }
                None
            }
        }
    }

    /// Whether an utterance made while `waiting_intent` waits for a slot reads as the answer to
    /// its question, so that its words may fill a free-text slot ("to Shenzhen please").
    fn answers_asked(&self, waiting_intent: &str, understood: &Understanding) -> bool {
        understood.intent == waiting_intent
            || matches!(understood.intent.as_str(), "chat.open" | "dialog.confirm")
            || understood.confidence < INTERRUPT_CONFIDENCE
    }

    /// Whether an utterance made while `waiting_intent` waits for a slot is a request of its own
    /// rather than the answer: another task, said with confidence, and either close to one of its
    /// examples ("heat the passenger seat" while asked which window) or bringing values the
    /// waiting task has no place for ("set the passenger side to 22"). "Passenger side please"
    /// is an answer, whatever task it sounds most like.
    fn is_new_request(&self, waiting_intent: &str, understood: &Understanding) -> bool {
        let intent = understood.intent.as_str();
        if intent == waiting_intent || intent == "chat.open" || understood.confidence < INTERRUPT_CONFIDENCE {
            return false;
        }
        // A yes or a no is no request of its own ("Please Please Me" to "What would you like
        // to hear?" sounds like a yes).
        if matches!(intent, "dialog.confirm" | "dialog.deny") {
            return false;
        }
        if understood.similarity >= WHOLE_REQUEST_SIMILARITY {
            return true;
        }
        let catalog = self.understander.catalog();
        let kinds = |intent: &str| catalog.get(intent).map(|def| def.slots.clone()).unwrap_or_default();
        let (waiting, own) = (kinds(waiting_intent), kinds(intent));
        understood.slots.len() >= 2
            && understood.slots.keys().filter_map(|name| own.get(name)).any(|kind| !waiting.values().any(|k| k == kind))
    }

    /// Whether words that point back at `done_intent` are surely a request of another task.
    fn is_other_request(&self, done_intent: &str, understood: &Understanding) -> bool {
        let intent = understood.intent.as_str();
        intent != done_intent && !understood.low_confidence && intent != "chat.open" && understood.confidence >= INTERRUPT_CONFIDENCE
    }

    /// The last task's seat or window slots, moved across ("the other one").
    fn other_side_of(&self, done: &Done) -> Slots {
        done.slots
            .iter()
            .filter_map(|(name, value)| match value {
                SlotValue::Text(side) => other_side(side).map(|other| (name.clone(), SlotValue::Text(other.into()))),
                _ => None,
            })
            .collect()
    }

    /// Slots for `intent` from `text`; when nothing is recognised and `free_slot` is a free-text
    /// slot, the text is its value, read as its request would read it ("Where to?" - "to
    /// Shenzhen please" is "shenzhen").
    fn extract_answer(&self, intent: &str, text: &str, free_slot: Option<&str>) -> Slots {
        let text = normalise(text);
        let mut slots = self.understander.extract(intent, &text);
        if slots.is_empty() {
            let def = self.understander.catalog().get(intent);
            let free = free_slot
                .and_then(|name| def.and_then(|d| d.slots.get_key_value(name)))
                .filter(|(_, kind)| kind.is_free_text())
                // A correction of a finished task: its first free-text slot.
                .or_else(|| def.and_then(|d| d.slots.iter().find(|(_, kind)| kind.is_free_text())));
            if let Some((name, value)) = free.and_then(|(name, kind)| Some((name.clone(), kind.extract_answer(&text)?))) {
                slots.insert(name, value);
            }
        }
        slots
    }

    /// A task's slots with a change applied. A change of direction ("make it cooler") steps
    /// from the car's value, not from the value the task had.
    fn changed(&self, intent: &str, mut slots: Slots, change: Slots) -> Slots {
        if let Some(relative) = self.book.select(intent, &slots).and_then(|task| task.relative.as_ref()) {
            if change.contains_key(&relative.direction) && !change.contains_key(&relative.slot) {
                slots.remove(&relative.slot);
            }
        }
        slots.extend(change);
        slots
    }

    /// What `done` set goes back to how it was, but for the signals in `meant`.
    async fn put_back<T: Tools>(&self, done: &Done, meant: &[String], tools: &T, turn: &mut Turn) {
        for (path, was) in done.before.iter().filter(|(path, _)| !meant.contains(path)) {
            let result = tools.set(path, was).await;
            turn.actions.push(ActionTaken {
                kind: "set",
                target: path.clone(),
                value: Some(was.clone()),
                error: result.as_ref().err().map(|e| e.to_string()),
            });
        }
    }

    fn recent_done(&self) -> Option<Done> {
        self.last_done.clone().filter(|d| d.at.elapsed() < CONTEXT_WINDOW)
    }

    /// A request for the same task as the last one keeps the qualifiers it does not change ("a
    /// bit warmer" after "passenger side to 21" warms the passenger side). What the task
    /// requires is carried only when the words point back at it ("close it again" after "open
    /// the driver's window"; "the other one" takes the other side): "set the temperature" asks
    /// again.
    fn carry_context(&self, intent: &str, text: &str, slots: &mut Slots) {
        let Some(done) = self.recent_done().filter(|d| d.intent == intent) else { return };
        let Some(task) = self.book.select(intent, &done.slots) else { return };
        let pointing_back = refers_back(text);
        let across = if mentions_other(text) { self.other_side_of(&done) } else { Slots::new() };
        for (name, value) in done.slots {
            let required = task.slots.get(&name).is_some_and(|rule| rule.required || rule.subject);
            let relative = task.relative.as_ref().is_some_and(|r| name == r.slot || name == r.direction || r.by.as_ref() == Some(&name));
            let picks_task = !required && self.book.picks_task(intent, &name);
            if relative || picks_task || (required && !pointing_back) || slots.contains_key(&name) {
                continue;
            }
            let value = across.get(&name).cloned().unwrap_or(value);
            slots.insert(name, value);
        }
    }

    /// Moves a task on: resolve a relative change, ask for what is missing, confirm, or run it.
    async fn advance<T: Tools>(&mut self, intent: String, mut slots: Slots, confirmed: bool, tools: &T, turn: &mut Turn) -> String {
        let Some(task) = self.book.select(&intent, &slots).cloned() else {
            return phrases(self.language).no_task.into();
        };
        if let Some(refusal) = self.refused_for(&task, tools.principal()) {
            return refusal;
        }
        if let Some(done) = self.recent_done() {
            for (name, rule) in &task.slots {
                if let (true, false, Some(value)) = (rule.recent, slots.contains_key(name), done.slots.get(name)) {
                    slots.insert(name.clone(), value.clone());
                }
            }
        }
        // A step starts from the car's value, not from the slot's default.
        let stepping = task.relative.as_ref().is_some_and(|r| !slots.contains_key(&r.slot));
        task.apply_defaults(&mut slots);
        if let Some(relative) = &task.relative {
            let mut step_later = false;
            if stepping {
                if let Some(direction) = slots.get(&relative.direction).map(|d| d.to_string()) {
                    let path = task.set.first().and_then(|s| render_paths(&s.signal, &slots, &self.book.zones).into_iter().next());
                    match path {
                        Some(path) => match tools.get(&path).await {
                            Ok(current) => {
                                // The signal's value in the slot's terms: seat heating 66 % is level 2.
                                let scale = task.set.first().and_then(|s| scale_of(&s.value, &relative.slot)).unwrap_or(1.0);
                                let current = current.as_f64().unwrap_or(0.0) / scale;
                                let current = if scale == 1.0 { current } else { current.round() };
                                let by = relative.by.as_ref().and_then(|by| slots.get(by)).and_then(SlotValue::as_number);
                                let step = by.unwrap_or(relative.step);
                                let step = if direction == "down" { -step } else { step };
                                let (low, high) = self.relative_range(relative, &path, scale);
                                let stepped = (current + step).min(high).max(low);
                                if stepped == current {
                                    let said = phrases(self.language);
                                    return (if step > 0.0 { said.already_highest } else { said.already_lowest }).into();
                                }
                                slots.insert(relative.slot.clone(), SlotValue::Number(stepped));
                            }
                            Err(error) => return self.failure(&error, &task),
                        },
                        // "Close the window a bit": which window is asked first, and the
                        // step taken from it once named.
                        None if task.missing(&slots).is_some() => {
                            slots.remove(&relative.slot);
                            step_later = true;
                        }
                        None => return phrases(self.language).no_task.into(),
                    }
                }
            }
            if !step_later {
                slots.remove(&relative.direction);
                if let Some(by) = &relative.by {
                    slots.remove(by);
                }
            }
        }
        // A missing value the driver told us they like is theirs without asking.
        let mut preferred = None;
        if let Some((name, Some(unit))) = task.missing(&slots).map(|(name, rule)| (name.to_string(), rule.preference.clone())) {
            if let Some(value) = tools.preference(&unit).await {
                slots.insert(name, SlotValue::Number(value));
                preferred = Some(value);
            }
        }
        if let Some((name, _)) = task.missing(&slots) {
            let question = self.book.ask(&task, name, self.language).unwrap_or(phrases(self.language).which_one);
            let question = self.say(question, &slots, &BTreeMap::new());
            self.pending = Some(Pending { intent, slots, waiting: Waiting::Slot(name.to_string()), since: Instant::now() });
            return question;
        }
        // A task chosen by `when` may differ now that the slots are complete.
        let task = self.book.select(&intent, &slots).cloned().unwrap_or(task);
        if let Some(refusal) = self.refused_for(&task, tools.principal()) {
            return refusal;
        }
        if let (Some(confirm), false) = (task.needs_confirmation(&slots), confirmed) {
            if let Some(refusal) = self.refused_by_interlock(&task, &slots, tools).await {
                return refusal;
            }
            if let Some(refusal) = self.refused_by_permission(&task, &slots, tools).await {
                return refusal;
            }
            let question = self.say(self.book.confirm(&task, confirm, self.language), &slots, &BTreeMap::new());
            self.pending = Some(Pending { intent, slots, waiting: Waiting::Confirmation, since: Instant::now() });
            return question;
        }
        // A task of several steps is checked whole first, so that one it may not take does not
        // leave the ones before it done ("open the trunk" unlocks it, then opens it).
        if task.set.len() > 1 {
            if let Some(refusal) = self.refused_by_permission(&task, &slots, tools).await {
                return refusal;
            }
        }
        let mut before = Vec::new();
        let mut reply = self.run(&task, &slots, tools, turn, &mut before).await;
        if preferred.is_some() && turn.actions.iter().all(|action| action.error.is_none()) {
            reply = format!("{}{}", reply.trim_end_matches(['.', '。']), phrases(self.language).as_you_like_it);
        }
        self.last_done = Some(Done { intent, slots, at: Instant::now(), before });
        reply
    }

    async fn run<T: Tools>(&self, task: &Task, slots: &Slots, tools: &T, turn: &mut Turn, before: &mut Vec<(String, Value)>) -> String {
        let mut readings = BTreeMap::new();
        let mut slots = slots.clone();
        self.resolve_names(&task.intent, &mut slots, tools).await;
        if let Some(limit) = task.slots.iter().find_map(|(name, rule)| slot_out_of_range(rule, slots.get(name))) {
            let reason = phrases::out_of_range(&limit, self.language);
            return with_doing(&phrases(self.language).refused.replace("{reason}", &reason), self.book.doing(task, self.language));
        }
        for set in &task.set {
            for path in render_paths(&set.signal, &slots, &self.book.zones) {
                let value = render_value(&set.value, &slots).and_then(|v| self.fit(&path, v));
                let Some(value) = value else {
                    return with_doing(phrases(self.language).value_does_not_fit, self.book.doing(task, self.language));
                };
                // The reply says what is set: 21.5 on a signal of whole degrees is 22.
                let slot = set.value.as_str().and_then(|v| v.strip_prefix('{')).and_then(|v| v.strip_suffix('}'));
                if let (Some(slot), Some(set_to)) = (slot, value.as_f64()) {
                    if matches!(slots.get(slot), Some(SlotValue::Number(said)) if *said != set_to) {
                        slots.insert(slot.to_string(), SlotValue::Number(set_to));
                    }
                }
                // Said here in the driver's language; the vehicle bus checks the range again.
                if let Some(Err(limit)) = self.catalog.signals.get(&path).map(|spec| spec.check_limits(&value)) {
                    let reason = phrases::out_of_range(&limit, self.language);
                    turn.actions.push(ActionTaken { kind: "set", target: path, value: Some(value), error: Some(limit.to_string()) });
                    return with_doing(&phrases(self.language).refused.replace("{reason}", &reason), self.book.doing(task, self.language));
                }
                // Only what changes can be taken back.
                if let Some(was) = tools.get(&path).await.ok().filter(|was| *was != value) {
                    before.push((path.clone(), was));
                }
                let result = tools.set(&path, &value).await;
                turn.actions.push(ActionTaken {
                    kind: "set",
                    target: path,
                    value: Some(value),
                    error: result.as_ref().err().map(|e| e.to_string()),
                });
                if let Err(error) = result {
                    return self.failure(&error, task);
                }
            }
        }
        for path in &task.read {
            let result = tools.get(path).await;
            turn.actions.push(ActionTaken {
                kind: "read",
                target: path.clone(),
                value: result.as_ref().ok().cloned(),
                error: result.as_ref().err().map(|e| e.to_string()),
            });
            match result {
                Ok(value) => {
                    readings.insert(path.clone(), value);
                }
                Err(error) => return self.failure(&error, task),
            }
        }
        if let Some(call) = &task.call {
            let args: Vec<String> = call.args.iter().map(|a| render(a, &slots, &BTreeMap::new())).collect();
            let result = tools.call(call, &args).await;
            turn.actions.push(ActionTaken {
                kind: "call",
                target: format!("{}.{}({})", call.interface, call.method, args.join(", ")),
                value: None,
                error: result.as_ref().err().map(|e| e.to_string()),
            });
            if let Err(error) = result {
                return self.failure(&error, task);
            }
        }
        if let Some(vision) = &task.vision {
            let object = render(&vision.object, &slots, &BTreeMap::new());
            let region = vision.region.as_ref().map(|r| render(r, &slots, &BTreeMap::new())).filter(|r| !r.is_empty());
            let result = tools.find_object(&object, region.as_deref()).await;
            turn.actions.push(ActionTaken {
                kind: "vision",
                target: object,
                value: None,
                error: result.as_ref().err().map(|e| e.to_string()),
            });
            match result {
                Ok(answer) => {
                    let said = phrases::sighting(&answer, self.book.value_words(self.language), self.language);
                    slots.insert("vision".into(), SlotValue::Text(said));
                }
                Err(error) => return self.failure(&error, task),
            }
        }
        if let Some(memory) = &task.memory {
            let text = render(&memory.text, &slots, &BTreeMap::new());
            match tools.memory(memory.action, &text).await {
                Ok(answer) => {
                    let said = phrases::recollection(&answer, self.book.value_words(self.language), self.language);
                    slots.insert("memory".into(), SlotValue::Text(said));
                }
                Err(error) => return self.failure(&error, task),
            }
        }
        self.say(self.book.done(task, self.language), &slots, &readings)
    }

    /// A template rendered for the driver, in the language they spoke.
    fn say(&self, template: &str, slots: &Slots, readings: &BTreeMap<String, Value>) -> String {
        render_in(template, slots, readings, self.book.value_words(self.language))
    }

    /// What the driver hears when an action failed, with an interlock's reason in their language.
    fn failure(&self, error: &ToolError, task: &Task) -> String {
        let reason = match error {
            ToolError::Interlock { interlock: Some(name), .. } => self.book.interlock_reason(self.language, name),
            _ => None,
        };
        phrases::failure(error, self.book.doing(task, self.language), reason, self.book.value_words(self.language), self.language)
    }

    /// The refusal, before anything is asked or done, of a task whose action needs a scope the
    /// principal lacks ("Your phone may not open the trunk.").
    fn refused_for(&self, task: &Task, principal: &Principal) -> Option<String> {
        let lacking = task.scopes_needed().into_iter().find(|scope| !principal.may(*scope))?;
        tracing::info!(intent = %task.intent, scope = lacking.name(), ?principal, "refused: scope not granted");
        Some(phrases::refusal(principal, self.book.doing(task, self.language), self.language))
    }

    /// The refusal of an interlock that holds now against the task's action, found before the
    /// driver is asked to confirm it: "Unlock all the doors?", "yes", "I can't: the car is
    /// moving" asked for nothing. A condition that cannot be read is left to the vehicle bus.
    async fn refused_by_interlock<T: Tools>(&self, task: &Task, slots: &Slots, tools: &T) -> Option<String> {
        for set in &task.set {
            for path in render_paths(&set.signal, slots, &self.book.zones) {
                let Some(value) = render_value(&set.value, slots).and_then(|v| self.fit(&path, v)) else { continue };
                for interlock in self.interlocks.iter().filter(|interlock| interlock.guards(&path, &value)) {
                    let mut holds = true;
                    for condition in &interlock.when {
                        holds &= tools.get(&condition.path).await.is_ok_and(|current| condition.comparison.holds(&current));
                    }
                    if holds {
                        let error = ToolError::Interlock { reason: interlock.reason.clone(), interlock: Some(interlock.name.clone()) };
                        return Some(self.failure(&error, task));
                    }
                }
            }
        }
        None
    }

    /// The refusal of an action the vehicle does not let the assistant take, found before the
    /// driver is asked to confirm it: "Open the trunk?", "yes", "I'm not allowed to open the
    /// trunk" asked for nothing.
    async fn refused_by_permission<T: Tools>(&self, task: &Task, slots: &Slots, tools: &T) -> Option<String> {
        for set in &task.set {
            for path in render_paths(&set.signal, slots, &self.book.zones) {
                if tools.may_actuate(&path).await == Some(false) {
                    return Some(self.failure(&ToolError::NotPermitted { reason: format!("not permitted to actuate {path}") }, task));
                }
            }
        }
        None
    }

    /// Places and people the driver named for the assistant: "drive me home" goes to the
    /// address they gave for home.
    async fn resolve_names<T: Tools>(&self, intent: &str, slots: &mut Slots, tools: &T) {
        let Some(def) = self.understander.catalog().get(intent) else { return };
        for (name, kind) in &def.slots {
            if !matches!(kind, SlotKind::Destination | SlotKind::Contact) {
                continue;
            }
            if let Some(SlotValue::Text(said)) = slots.get(name) {
                if let Some(meant) = tools.remembered(said).await {
                    slots.insert(name.clone(), SlotValue::Text(meant));
                }
            }
        }
    }

    /// How far a relative change may go, in the slot's terms: the task's own range within the
    /// signal's.
    fn relative_range(&self, relative: &Relative, path: &str, scale: f64) -> (f64, f64) {
        let spec = self.catalog.signals.get(path);
        let limit = |value: Option<&Value>| value.and_then(Value::as_f64).map(|v| v / scale);
        let low = relative.min.into_iter().chain(limit(spec.and_then(|s| s.min.as_ref()))).fold(f64::NEG_INFINITY, f64::max);
        let high = relative.max.into_iter().chain(limit(spec.and_then(|s| s.max.as_ref()))).fold(f64::INFINITY, f64::min);
        (low, high)
    }

    /// Fits a value to the signal's datatype: words to booleans, numbers rounded for integers.
    fn fit(&self, path: &str, value: Value) -> Option<Value> {
        let datatype = self.catalog.signals.get(path)?.datatype;
        match (datatype, value) {
            (Datatype::Boolean, Value::String(word)) => boolean_word(&word).map(Value::Bool),
            (Datatype::Float | Datatype::Double, value) => value.as_f64().map(Value::Float),
            (Datatype::Boolean | Datatype::String, value) => Some(value),
            (_, Value::Float(f)) => Some(Value::Int(f.round() as i64)),
            (_, value) => Some(value),
        }
    }
}

/// A number said outside its slot's range (`min`, `max` in the task file), as the limit the
/// driver hears: "5 is above the maximum 3".
fn slot_out_of_range(rule: &SlotRule, value: Option<&SlotValue>) -> Option<LimitError> {
    let Some(SlotValue::Number(said)) = value else { return None };
    let number = |n: f64| Value::Float(n);
    match (rule.min, rule.max) {
        (Some(min), _) if *said < min => Some(LimitError::BelowMin { value: number(*said), min: number(min) }),
        (_, Some(max)) if *said > max => Some(LimitError::AboveMax { value: number(*said), max: number(max) }),
        _ => None,
    }
}
