//! The wake phrase.
//!
//! Two stages. The first is acoustic ([`acoustic`]): openWakeWord's front end and a small head
//! trained for the phrase hear whether it was just said, cheaply, on every utterance. The
//! second is whisper's: on what the first let through, it scores this crate's
//! [`WakePhrase::spellings`] against what it would have written (cabin-asr's `PhraseFit`), then
//! writes the command on from the phrase. Without a head for the phrase (none installed,
//! or a phrase nobody trained one for) a text stage works alone: this crate decides whether a
//! transcript made with the phrase as whisper's prompt begins with the phrase.
//!
//! A phrase is written differently by whisper for different speakers ("hey cabin", "hey,
//! come in", "hay cabin"), so enrolment transcribes a few recordings of a speaker saying it
//! and keeps each spelling as a variant.
//!
//! Matching is on letters only (spaces and punctuation dropped) with a small edit
//! allowance, so "Hey, Cabin!" matches "hey cabin" and "hey Kevin" does not. In a phrase of a
//! greeting and a name, the name counts more: "Take Cabin" (the greeting misheard) wakes too.
//!
//! A phrase in Chinese characters ("你好小舱") is matched on characters, since neither it nor
//! what follows it is written with spaces, and exactly, against the phrase and its known
//! spellings: one character off is another phrase ("你好小明" greets someone else). Whisper
//! writes 舱 (cāng) as 仓, 艙 or 倉 too, so the shipped Mandarin phrase knows those spellings,
//! and enrolment learns a speaker's own.

pub mod acoustic;

use std::path::{Path, PathBuf};

use cabin_language::is_han;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const DEFAULT_PHRASE: &str = "hey cabin";
/// The wake phrase when the car listens for Mandarin, and how whisper also writes it.
pub const MANDARIN_PHRASE: &str = "你好小舱";
const MANDARIN_SPELLINGS: [&str; 5] = ["你好小仓", "你好小艙", "你好小倉", "您好小舱", "您好小仓"];
/// Names said to someone else that whisper may take for the default phrase's: it must fit
/// "hey cabin" better than each of them. Written for the wake stage, apart from the voice
/// benchmark's sentences, as an OEM would list its phrase's (`rivals` in a phrase file).
const DEFAULT_RIVALS: [&str; 8] =
    ["hey kevin", "hey calvin", "hey gavin", "hey kelvin", "hey devin", "hey karen", "hey colin", "hey caitlin"];
/// Enrolment needs this many recordings.
pub const MIN_RECORDINGS: usize = 3;

#[derive(Debug, Error)]
pub enum WakeError {
    #[error("{}: {reason}", path.display())]
    Model { path: PathBuf, reason: String },
    #[error("the wake phrase must have letters in it")]
    EmptyPhrase,
    #[error("enrolment needs at least {MIN_RECORDINGS} recordings of the phrase, got {0}")]
    TooFewRecordings(usize),
    #[error("recording {index} has no speech in it (is the microphone muted?)")]
    NoSpeech { index: usize },
    #[error("recording {index} sounds like `{heard}`, which is not close to `{phrase}`: record the phrase alone")]
    NotThePhrase { index: usize, heard: String, phrase: String },
}

/// A phrase and the spellings of it the recogniser produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WakePhrase {
    pub phrase: String,
    #[serde(default)]
    pub variants: Vec<String>,
    /// What else a speaker may say that sounds like the phrase ("hey kevin"): the phrase must
    /// fit what was heard better than each. The default phrase knows its own as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rivals: Vec<String>,
}

/// A transcript that began with the phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct WakeMatch {
    /// 1.0 for an exact spelling, lower with each edit.
    pub confidence: f32,
    /// What was said after the phrase ("open the trunk"), trimmed of punctuation.
    pub rest: String,
    /// How much of the transcript the phrase took.
    pub used: Used,
}

/// How much of a transcript a phrase took: words, or, for a phrase in characters, letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    Words(usize),
    Letters(usize),
}

/// `transcript` without what the phrase took (and the punctuation after it).
pub fn without_phrase(transcript: &str, used: Used) -> String {
    let rest = match used {
        Used::Words(words) => transcript.split_whitespace().skip(words).collect::<Vec<_>>().join(" "),
        Used::Letters(letters) => {
            let end = transcript.char_indices().filter(|(_, c)| c.is_alphanumeric()).nth(letters).map_or(transcript.len(), |(at, _)| at);
            transcript[end..].to_string()
        }
    };
    rest.trim_matches(|c: char| !c.is_alphanumeric()).to_owned()
}

impl Default for WakePhrase {
    fn default() -> Self {
        WakePhrase::new(DEFAULT_PHRASE).expect("the default phrase has letters")
    }
}

impl WakePhrase {
    pub fn new(phrase: &str) -> Result<WakePhrase, WakeError> {
        if letters(phrase).is_empty() {
            return Err(WakeError::EmptyPhrase);
        }
        Ok(WakePhrase { phrase: phrase.trim().to_lowercase(), variants: Vec::new(), rivals: Vec::new() })
    }

    /// The shipped phrase for a language code (`zh`: 你好小舱, with the spellings whisper gives
    /// it; anything else, `auto` included: "hey cabin").
    pub fn for_language(language: &str) -> WakePhrase {
        match language {
            "zh" => {
                WakePhrase { phrase: MANDARIN_PHRASE.into(), variants: MANDARIN_SPELLINGS.map(String::from).to_vec(), rivals: Vec::new() }
            }
            _ => WakePhrase::default(),
        }
    }

    /// Whether the phrase is written in characters (你好小舱), not words.
    pub fn in_characters(&self) -> bool {
        self.phrase.chars().any(is_han)
    }

    pub fn load(path: &Path) -> Result<WakePhrase, WakeError> {
        let model_error = |reason: String| WakeError::Model { path: path.into(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| model_error(e.to_string()))?;
        let phrase: WakePhrase = serde_json::from_str(&text).map_err(|e| model_error(e.to_string()))?;
        if letters(&phrase.phrase).is_empty() {
            return Err(model_error("`phrase` has no letters".into()));
        }
        Ok(phrase)
    }

    pub fn save(&self, path: &Path) -> Result<(), WakeError> {
        let json = serde_json::to_string_pretty(self).expect("a phrase serialises");
        std::fs::write(path, json + "\n").map_err(|e| WakeError::Model { path: path.into(), reason: e.to_string() })
    }

    /// The prompt that biases whisper towards writing the phrase as a name: "Hey Cabin."
    pub fn prompt(&self) -> String {
        if self.in_characters() {
            return format!("{}。", self.phrase);
        }
        format!("{}.", title_case(&self.phrase))
    }

    /// The ways whisper may write the phrase (or a learnt spelling) at the start of a
    /// transcript, to score against what it heard: "Hey Cabin", "Hey cabin", "Hey, Cabin", ...
    pub fn spellings(&self) -> Vec<String> {
        written_ways(std::iter::once(&self.phrase).chain(&self.variants))
    }

    /// The ways whisper may write a rival of the phrase ("Hey Kevin", "Hey, Kevin"): the
    /// phrase file's, and the default phrase's own.
    pub fn rival_spellings(&self) -> Vec<String> {
        let defaults = DEFAULT_RIVALS.iter().filter(|_| self.phrase == DEFAULT_PHRASE).map(|rival| rival.to_string());
        written_ways(self.rivals.iter().cloned().chain(defaults).collect::<Vec<_>>().iter())
    }

    /// Learns how the recogniser spells the phrase for a speaker from transcripts of
    /// recordings of it. Every transcript must be close to the phrase or a known spelling:
    /// a recording of something else is refused rather than learnt.
    pub fn enrol(&mut self, transcripts: &[String]) -> Result<usize, WakeError> {
        if transcripts.len() < MIN_RECORDINGS {
            return Err(WakeError::TooFewRecordings(transcripts.len()));
        }
        let mut learnt = 0;
        for (index, heard) in transcripts.iter().enumerate() {
            let spelling = letters(heard);
            if spelling.is_empty() {
                return Err(WakeError::NoSpeech { index });
            }
            // Lenient here (two letters in three may differ: "car being" for "hey cabin"):
            // this is the speaker saying the phrase on request, and the spelling is what we
            // are here to learn. Something else entirely is still refused.
            // In letters, not bytes: a character of 你好小舱 is three bytes.
            if letter_distance(&spelling, &letters(&self.phrase)) > letters(&self.phrase).chars().count() * 2 / 3 {
                return Err(WakeError::NotThePhrase { index, heard: heard.clone(), phrase: self.phrase.clone() });
            }
            let variant = if self.in_characters() { letters(heard) } else { words_only(heard) };
            if variant != self.phrase && !self.variants.contains(&variant) {
                self.variants.push(variant);
                learnt += 1;
            }
        }
        tracing::info!(phrase = %self.phrase, learnt, variants = self.variants.len(), "wake phrase enrolled");
        Ok(learnt)
    }

    /// Whether `transcript` begins with the phrase (or a learnt spelling of it).
    pub fn matches(&self, transcript: &str) -> Option<WakeMatch> {
        if self.in_characters() {
            return self.matches_characters(transcript);
        }
        let words: Vec<&str> =
            transcript.split_whitespace().filter(|w| !letters(w).is_empty() || w.chars().any(char::is_numeric)).collect();
        let mut best: Option<(f32, usize)> = None; // (confidence, words used)
        for spelling in std::iter::once(&self.phrase).chain(&self.variants) {
            let spelling_words: Vec<&str> = spelling.split_whitespace().collect();
            let candidates =
                [spelling_match(&words, &letters(spelling), spelling_words.len()), greeting_then_name(&words, &spelling_words)];
            for (confidence, used) in candidates.into_iter().flatten() {
                if best.is_none_or(|(c, _)| confidence > c) {
                    best = Some((confidence, used));
                }
            }
        }
        let (confidence, used) = best?;
        let rest = words[used..].join(" ");
        let rest = rest.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
        Some(WakeMatch { confidence, rest, used: Used::Words(used) })
    }

    /// The transcript's first letters, exactly one of the phrase's spellings.
    fn matches_characters(&self, transcript: &str) -> Option<WakeMatch> {
        let heard = letters(transcript);
        let spelling = std::iter::once(&self.phrase).chain(&self.variants).map(|s| letters(s)).find(|s| heard.starts_with(s.as_str()))?;
        let used = Used::Letters(spelling.chars().count());
        let confidence = if spelling == letters(&self.phrase) { 1.0 } else { 0.9 };
        Some(WakeMatch { confidence, rest: without_phrase(transcript, used), used })
    }
}

/// The transcript's first words, letter for letter, against a whole spelling of the phrase.
fn spelling_match(words: &[&str], target: &str, phrase_words: usize) -> Option<(f32, usize)> {
    // One edit in six letters: "hei cabin" is the phrase, "hey can" is not.
    let allowance = (target.chars().count() / 6).max(1);
    let mut best: Option<(usize, usize)> = None; // (edits, words used)
                                                 // Whisper may split or join words ("hey cabin" / "heycabin" / "hey ca bin").
    for used in phrase_words.saturating_sub(1).max(1)..=phrase_words + 1 {
        if used > words.len() {
            break;
        }
        let heard: String = words[..used].iter().map(|w| letters(w)).collect();
        let edits = letter_distance(&heard, target);
        if edits <= allowance && best.is_none_or(|(e, _)| edits < e) {
            best = Some((edits, used));
        }
    }
    best.map(|(edits, used)| (1.0 - edits as f32 / (allowance + 1) as f32, used))
}

/// A phrase of a short greeting and a name ("hey cabin") also counts when the name is heard,
/// exactly, after any short word: whisper often writes the unstressed greeting as another one
/// ("Take Cabin", "Say Cabin", "A cabin"), while the name is what tells the phrase from other
/// speech. Exactly, because "the car in front" is one letter from "the cabin". Chosen on the
/// enrolment voices' transcripts (false rejects 15 % to 10 %, no false accept on ordinary
/// chatter); see `examples/wake_transcripts.rs` in the voice service.
fn greeting_then_name(words: &[&str], spelling_words: &[&str]) -> Option<(f32, usize)> {
    const GREETING_LETTERS: usize = 4;
    let (greeting, name) = spelling_words.split_first()?;
    let (first, heard) = words.split_first()?;
    if name.is_empty() || letters(greeting).chars().count() > GREETING_LETTERS || letters(first).chars().count() > GREETING_LETTERS {
        return None;
    }
    let said_name = heard.len() >= name.len() && heard.iter().zip(name).all(|(heard, name)| letters(heard) == letters(name));
    // Less sure than the phrase heard whole.
    said_name.then_some((0.5, name.len() + 1))
}

fn letters(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn words_only(text: &str) -> String {
    text.split_whitespace().map(letters).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Each way whisper may write a phrase at the start of a transcript: title case ("Hey Cabin"),
/// sentence case ("Hey cabin"), each with a comma after the first word, each once.
fn written_ways<'a>(phrases: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut spellings = Vec::new();
    for spelling in phrases {
        let titled = title_case(spelling);
        let sentence = title_case(spelling.split_whitespace().next().unwrap_or_default())
            + &spelling.split_whitespace().skip(1).map(|w| format!(" {w}")).collect::<String>();
        for cased in [titled, sentence] {
            let comma = cased.split_once(' ').map(|(first, rest)| format!("{first}, {rest}"));
            for written in std::iter::once(cased).chain(comma) {
                if !spellings.contains(&written) {
                    spellings.push(written);
                }
            }
        }
    }
    spellings
}

fn title_case(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Levenshtein distance between two sequences: letters here, words for a word error rate.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut diagonal = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let substitution = diagonal + usize::from(a[i - 1] != b[j - 1]);
            diagonal = row[j];
            row[j] = substitution.min(row[j] + 1).min(row[j - 1] + 1);
        }
    }
    row[b.len()]
}

fn letter_distance(a: &str, b: &str) -> usize {
    edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_phrase_knows_its_rivals_and_another_phrase_takes_them_from_its_file() {
        let rivals = WakePhrase::default().rival_spellings();
        assert!(rivals.contains(&"Hey Kevin".to_string()) && rivals.contains(&"Hey, Kevin".to_string()), "{rivals:?}");
        assert!(!rivals.iter().any(|rival| rival.to_lowercase().contains("cabin")), "the phrase is no rival of itself: {rivals:?}");
        assert!(WakePhrase::new("hello aurora").unwrap().rival_spellings().is_empty());
        let dir = std::env::temp_dir().join(format!("cabin-wake-rivals-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("phrase.json");
        std::fs::write(&file, r#"{ "phrase": "hello aurora", "rivals": ["hello laura"] }"#).unwrap();
        let phrase = WakePhrase::load(&file).unwrap();
        assert_eq!(phrase.rival_spellings(), ["Hello Laura", "Hello, Laura", "Hello laura", "Hello, laura"]);
        // An enrolled phrase saved again keeps them; one without rivals writes none.
        phrase.save(&file).unwrap();
        assert_eq!(WakePhrase::load(&file).unwrap(), phrase);
        WakePhrase::default().save(&file).unwrap();
        assert!(!std::fs::read_to_string(&file).unwrap().contains("rivals"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_spellings_to_score_are_cased_and_punctuated_as_whisper_writes_a_name() {
        let mut phrase = WakePhrase::default();
        assert_eq!(phrase.spellings(), ["Hey Cabin", "Hey, Cabin", "Hey cabin", "Hey, cabin"]);
        phrase.variants.push("take cabin".into());
        assert_eq!(phrase.spellings().len(), 8);
        assert_eq!(WakePhrase::for_language("zh").spellings()[0], "你好小舱");
    }

    #[test]
    fn the_phrase_matches_however_it_is_punctuated_and_gives_the_rest() {
        let wake = WakePhrase::default();
        let found = wake.matches("Hey, Cabin! Open the trunk.").unwrap();
        assert_eq!(found.rest, "Open the trunk");
        assert_eq!(found.confidence, 1.0);
        assert_eq!(wake.matches("hey cabin").unwrap().rest, "");
        assert!(wake.matches("Hei Cabin, open the trunk.").is_some(), "one letter off is still the phrase");
        assert!(wake.matches("Heycabin open the trunk").is_some());
    }

    #[test]
    fn similar_speech_does_not_wake() {
        let wake = WakePhrase::default();
        for said in
            ["Hey Kevin, how are you?", "Hey, can you pass me the water?", "The cabinet needs a hinge.", "Open the trunk.", "", "cabin hey"]
        {
            assert!(wake.matches(said).is_none(), "{said}");
        }
    }

    #[test]
    fn the_greeting_may_be_misheard_when_the_name_is_not() {
        let wake = WakePhrase::default();
        for said in ["Take Cabin. Lock the doors.", "Say cabin, lock the doors", "A cabin, lock the doors.", "They Cabin lock the doors"] {
            let found = wake.matches(said).unwrap_or_else(|| panic!("{said}"));
            assert_eq!(found.rest.to_lowercase(), "lock the doors", "{said}");
            assert!(found.confidence < 1.0, "{said}");
        }
        for said in
            ["Hey Kevin, lock the doors", "Taken cabin", "Please, cabin, lock the doors", "My cousin's cabin is nice", "The car in front"]
        {
            assert!(wake.matches(said).is_none(), "{said}");
        }
        // A one-word phrase has no greeting to mishear.
        assert!(WakePhrase::new("aurora").unwrap().matches("Hey Aurora").is_none());
    }

    #[test]
    fn the_phrase_must_come_first() {
        assert!(WakePhrase::default().matches("I said hey cabin").is_none());
    }

    #[test]
    fn enrolment_learns_a_speakers_spelling() {
        let mut wake = WakePhrase::default();
        assert!(wake.matches("Hey, come in. Open the trunk.").is_none());
        let learnt = wake.enrol(&["Hey, come in.".into(), "Hey cabin.".into(), "hey come in".into()]).unwrap();
        assert_eq!(learnt, 1);
        assert_eq!(wake.matches("Hey, come in. Open the trunk.").unwrap().rest, "Open the trunk");
    }

    #[test]
    fn enrolment_refuses_a_recording_of_something_else() {
        let mut wake = WakePhrase::default();
        let error = wake.enrol(&["hey cabin".into(), "what is the weather like".into(), "hey cabin".into()]).unwrap_err();
        assert!(matches!(error, WakeError::NotThePhrase { index: 1, .. }), "{error}");
        assert!(matches!(wake.enrol(&["hey cabin".into()]), Err(WakeError::TooFewRecordings(1))));
    }

    #[test]
    fn a_custom_phrase_works_the_same_way() {
        let wake = WakePhrase::new("Hello Aurora").unwrap();
        assert_eq!(wake.matches("Hello, Aurora. Set the fan to three.").unwrap().rest, "Set the fan to three");
        assert!(wake.matches("Hello there").is_none());
        assert_eq!(wake.prompt(), "Hello Aurora.");
    }

    #[test]
    fn the_mandarin_phrase_wakes_on_its_characters_and_nothing_like_them() {
        let wake = WakePhrase::for_language("zh");
        assert_eq!(wake.prompt(), "你好小舱。");
        let found = wake.matches("你好小舱，把温度调到二十二度。").unwrap();
        assert_eq!((found.rest.as_str(), found.confidence, found.used), ("把温度调到二十二度", 1.0, Used::Letters(4)));
        assert_eq!(wake.matches("你好，小舱！打开后备箱").unwrap().rest, "打开后备箱");
        assert_eq!(wake.matches("你好小仓 导航去深圳").unwrap().rest, "导航去深圳", "whisper's other spelling");
        assert_eq!(wake.matches("你好小艙").unwrap().rest, "", "traditional characters");
        for said in ["你好小明，吃饭了吗", "你好，我想去上海", "小舱你好", "我说你好小舱", "Hey cabin", ""] {
            assert!(wake.matches(said).is_none(), "{said}");
        }
        assert_eq!(WakePhrase::for_language("en"), WakePhrase::default());
        assert_eq!(without_phrase("你好小舱。打开车窗", Used::Letters(4)), "打开车窗");
    }

    #[test]
    fn a_mandarin_phrase_is_enrolled_as_characters() {
        let mut wake = WakePhrase::new(MANDARIN_PHRASE).unwrap();
        assert!(wake.matches("你好小苍，打开车窗").is_none());
        assert_eq!(wake.enrol(&["你好，小苍。".into(), "你好小舱".into(), "你好小苍".into()]).unwrap(), 1);
        assert_eq!(wake.matches("你好小苍，打开车窗").unwrap().rest, "打开车窗");
        assert!(wake.enrol(&["你好小舱".into(), "今天天气怎么样".into(), "你好小舱".into()]).is_err(), "something else is refused");
    }

    #[test]
    fn a_saved_phrase_loads_back_and_a_broken_file_is_named() {
        let dir = std::env::temp_dir().join(format!("cabin-wake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wake.json");
        let mut wake = WakePhrase::default();
        wake.variants.push("hey come in".into());
        wake.save(&path).unwrap();
        assert_eq!(WakePhrase::load(&path).unwrap(), wake);
        std::fs::write(&path, "{\"phrase\": 3}").unwrap();
        let error = WakePhrase::load(&path).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.to_string().contains("wake.json"), "{error}");
    }
}
