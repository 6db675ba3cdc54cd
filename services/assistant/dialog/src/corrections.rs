//! Reading a turn against the one before: a correction ("no, not Shanghai — Shenzhen", "不是上海，是深圳")
//! and what replaces, a follow-up ("and the passenger side too", "那副驾呢"), words that point
//! back ("it", "that one") or at the other side.

use std::sync::LazyLock;

use cabin_nlu::Language;
use regex::Regex;

/// Words that say "what I said before was wrong", before what replaces it.
const CORRECTION_MARKERS: &[&str] = &[
    "no",
    "nope",
    "nah",
    "wait",
    "hang on",
    "hold on",
    "oops",
    "sorry",
    "actually",
    "rather",
    "correction",
    "scratch that",
    "i meant",
    "i mean",
    "i said",
    "make that",
    "make it",
    "change that to",
    "change it to",
    "change it",
    "switch that to",
    "switch it to",
    "instead of that",
];

/// "no, twenty two" -> "twenty two"; "no wait, not shanghai, shenzhen" -> "shenzhen";
/// "shenzhen, not shanghai" -> "shenzhen"; "i meant the passenger side" -> "the passenger
/// side". `None` when the utterance is not a correction.
pub(crate) fn correction_remainder(raw: &str) -> Option<String> {
    if Language::of(raw) == Language::Chinese {
        return chinese_correction(raw);
    }
    let strip =
        |s: &str| s.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | ';' | ':' | '-' | '–' | '—')).to_string();
    let mut text = strip(&raw.trim().to_lowercase());
    let mut corrected = false;
    loop {
        // "not X, Y" / "not X but Y" / "not X - Y": what follows the rejected value.
        if let Some(rest) = text.strip_prefix("not ") {
            let after =
                [",", " but ", " - ", " – ", " — ", " it's ", " i mean "].iter().find_map(|sep| rest.split_once(sep).map(|(_, y)| y))?;
            text = strip(after);
            corrected = true;
            continue;
        }
        let marker = CORRECTION_MARKERS
            .iter()
            .find(|m| text.strip_prefix(**m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',', '.', '!', '-', '–', '—'])));
        match marker {
            Some(marker) => {
                text = strip(&text[marker.len()..]);
                corrected = true;
            }
            None => break,
        }
    }
    // "shenzhen, not shanghai": the value before the rejected one.
    if let Some((kept, _)) = text.split_once(", not ").or_else(|| text.split_once(" not ").filter(|_| corrected)) {
        text = strip(kept);
        corrected = true;
    }
    corrected.then_some(text).filter(|s| !s.is_empty())
}

/// "fifty, no, forty" -> "forty"; "to the mall, no, to the cinema" -> "to the cinema": a value
/// taken back inside the utterance. `None` when nothing is.
pub(crate) fn restated(raw: &str) -> Option<String> {
    if Language::of(raw) == Language::Chinese {
        return chinese_restated(raw);
    }
    let lower = raw.trim().to_lowercase();
    let mut last = None;
    for marker in [", no", ", sorry", ", i mean", ", i meant", ", actually", " no wait", ", or rather", " - no"] {
        if let Some(at) = lower.rfind(marker) {
            // A whole word: ", not shanghai" holds ", no" but takes nothing back.
            let whole_word = !lower[at + marker.len()..].starts_with(char::is_alphanumeric);
            if at > 0 && whole_word && last.is_none_or(|(best, _)| at > best) {
                last = Some((at, marker.len()));
            }
        }
    }
    let (at, len) = last?;
    correction_remainder(&lower[at + len..]).or_else(|| {
        let rest = lower[at + len..].trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!')).to_string();
        Some(rest).filter(|r| !r.is_empty())
    })
}

/// "no wait, not shanghai", "twenty four, no sorry", "不是上海", "二十四度，不对": the words stop
/// where a correction goes on, so the driver has not finished (a pause before the new value).
pub(crate) fn stops_mid_correction(raw: &str) -> bool {
    let lower = raw.trim().to_lowercase();
    let last_clause = |pauses: &str| {
        lower.split(|c: char| pauses.contains(c)).map(str::trim).rfind(|clause| !clause.is_empty()).unwrap_or("").to_string()
    };
    if Language::of(raw) == Language::Chinese {
        let clause = last_clause("，,。.！!？?、；;：:—-");
        let clause = clause.trim_start_matches(['嗯', '呃', '额', '啊', '哦']);
        return clause == "不" || clause.starts_with("不是") || CHINESE_CORRECTION_MARKERS.contains(&clause);
    }
    let mut clause = last_clause(",.;:!?-–—");
    if clause.starts_with("not ") || clause.ends_with(" not") || clause == "not" {
        return true;
    }
    // Nothing left once its markers are gone ("no wait", "sorry", "i mean").
    while let Some(marker) =
        CORRECTION_MARKERS.iter().find(|m| clause.strip_prefix(**m).is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')))
    {
        clause = clause[marker.len()..].trim().to_string();
    }
    clause.is_empty()
}

/// Words a request does not end on: "navigate to", "call my", "lock the", "open the trunk and",
/// "导航去", "把温度调到". Words that stop on one have stopped mid-phrase.
const ENGLISH_UNFINISHED_ENDINGS: &[&str] = &[
    "a", "an", "the", "to", "my", "your", "our", "his", "her", "their", "by", "and", "or", "but", "at", "of", "for", "with", "from",
    "into", "is", "are", "level", "than", "then", "so", "um", "uh", "er",
];
const CHINESE_UNFINISHED_ENDINGS: &[&str] = &["去", "到", "把", "给", "在", "和", "跟", "成", "为", "是", "的", "调", "嗯", "呃"];

/// Whether the words stop on one that a request does not end on (see above).
pub(crate) fn stops_mid_phrase(raw: &str) -> bool {
    let trimmed = raw.trim().trim_end_matches(|c: char| c.is_ascii_punctuation() || "，。？！、…—".contains(c)).to_lowercase();
    if Language::of(raw) == Language::Chinese {
        return CHINESE_UNFINISHED_ENDINGS.iter().any(|ending| trimmed.ends_with(ending));
    }
    trimmed.split_whitespace().last().is_some_and(|last| ENGLISH_UNFINISHED_ENDINGS.contains(&last))
}

/// "twenty two", "21", "二十二": a value and nothing else, which answers a question but asks
/// for nothing on its own.
pub(crate) fn only_a_number(raw: &str) -> bool {
    const WORDS: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "point",
        "and",
        "a",
        "half",
    ];
    let lower = raw.trim().to_lowercase();
    let number_word = |w: &str| WORDS.contains(&w) || w.chars().all(|c| c.is_ascii_digit() || c == '.');
    let words: Vec<&str> =
        lower.split(|c: char| c.is_whitespace() || c == '-' || c.is_ascii_punctuation() && c != '.').filter(|w| !w.is_empty()).collect();
    let chinese = lower
        .chars()
        .filter(|c| !c.is_whitespace() && !"，。？！".contains(*c))
        .all(|c| "零一二两三四五六七八九十百点".contains(c) || c.is_ascii_digit());
    (!words.is_empty() && words.iter().all(|w| number_word(w.trim_end_matches('.')))) || (Language::of(raw) == Language::Chinese && chinese)
}

/// "close it again", "turn that off", "the other one": the utterance points back at what was
/// just done, so what it leaves out comes from there.
pub(crate) fn refers_back(text: &str) -> bool {
    text.split_whitespace().any(|w| matches!(w, "it" | "that" | "them" | "again" | "other" | "same"))
        || ["它", "那个", "这个", "再", "又", "另一", "一样", "同样"].iter().any(|w| text.contains(w))
}

/// "That's too hot", "that is still too loud": a judgement of what was just changed, whatever
/// else the words sound like (after the seat heating, "too hot" is not the cabin's).
pub(crate) fn judges_the_last(text: &str) -> bool {
    ["that's ", "that is ", "that was ", "thats "].iter().any(|opening| text.starts_with(opening))
}

/// "Undo that", "put it back", 撤销: the last change taken back. Normalised text.
pub(crate) fn asks_to_undo(text: &str) -> bool {
    const ENGLISH: &[&str] = &[
        "undo",
        "undo that",
        "undo it",
        "undo the last change",
        "put it back",
        "put them back",
        "put it back how it was",
        "put it back the way it was",
        "change it back",
        "change them back",
        "set it back",
        "revert that",
        "revert it",
        "go back to how it was",
    ];
    let text = text.strip_prefix("please ").unwrap_or(text);
    let text = text.strip_suffix(" please").unwrap_or(text);
    ENGLISH.contains(&text) || ["撤销", "恢复原样", "改回去", "改回来", "还原", "恢复原来"].iter().any(|w| text.contains(w))
}

/// "The other one", "另一边": the side across from the last one.
pub(crate) fn mentions_other(text: &str) -> bool {
    text.split_whitespace().any(|w| w == "other") || ["另一", "另外一", "对面"].iter().any(|w| text.contains(w))
}

/// "Mine", "my side", "我这边": the speaker's own seat.
pub(crate) fn names_own_seat(text: &str) -> bool {
    static OWN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bmine\b|\bmy (side|seat)\b|\bfor me\b|我的|我这边").expect("tested"));
    OWN.is_match(text)
}

/// Words that say "what I said before was wrong" in Mandarin, before what replaces it.
const CHINESE_CORRECTION_MARKERS: &[&str] = &[
    "不对",
    "错了",
    "说错了",
    "我是说",
    "我说的是",
    "我的意思是",
    "应该是",
    "改成",
    "换成",
    "改为",
    "还是",
    "等一下",
    "等等",
    "哦不",
    "不好意思",
    "抱歉",
    "算了",
];

/// "不是上海，是深圳" -> "深圳"; "不对，二十二度" -> "二十二度"; "深圳，不是上海" -> "深圳".
fn chinese_correction(raw: &str) -> Option<String> {
    let is_pause = |c: char| c.is_whitespace() || "，,。.！!？?、；;：:—-".contains(c);
    let strip = |s: &str| s.trim_matches(is_pause).to_string();
    // Hesitation first is no part of it: "嗯不对，四十".
    let mut text = strip(raw.trim_start_matches(['嗯', '呃', '额', '啊', '哦']));
    let mut corrected = false;
    loop {
        // "不是X，是Y" / "不是X而是Y" / "不是X，改成Y": what follows the rejected value.
        if let Some(rest) = text.strip_prefix("不是") {
            let replacement = ["而是", "，是", ",是", "是", "，", ","].iter().find_map(|sep| rest.split_once(sep).map(|(_, y)| y));
            if let Some(replacement) = replacement.filter(|r| !strip(r).is_empty()) {
                text = strip(replacement);
                corrected = true;
                continue;
            }
        }
        let marker = CHINESE_CORRECTION_MARKERS.iter().find(|m| text.strip_prefix(**m).is_some_and(|rest| !rest.is_empty()));
        // A bare "不" only before a pause: "不用了" is a no, "不，深圳" a correction.
        let marker = marker.copied().or_else(|| text.strip_prefix('不').filter(|rest| rest.starts_with(is_pause)).map(|_| "不"));
        match marker {
            Some(marker) => {
                text = strip(&text[marker.len()..]);
                corrected = true;
            }
            None => break,
        }
    }
    // "不对，是深圳": the copula before the value is no part of it.
    if corrected {
        if let Some(value) = text.strip_prefix('是').filter(|rest| !rest.is_empty()) {
            text = strip(value);
        }
    }
    // "深圳，不是上海": the value before the rejected one.
    if let Some((kept, _)) =
        text.split_once("，不是").or_else(|| text.split_once(",不是")).or_else(|| text.split_once("不是").filter(|_| corrected))
    {
        text = strip(kept);
        corrected = true;
    }
    corrected.then_some(text).filter(|s| !s.is_empty())
}

/// "二十四度，不对，二十五度" -> "二十五度": a value taken back inside the utterance.
fn chinese_restated(raw: &str) -> Option<String> {
    let at = ["，不对", ",不对", "，不是", ",不是", "，我是说", ",我是说", "，说错了", "，哦不"]
        .iter()
        .filter_map(|m| raw.rfind(m).filter(|at| *at > 0))
        .max()?;
    chinese_correction(&raw[at..])
}

/// The seat or window across from `side`, for "the other one".
pub(crate) fn other_side(side: &str) -> Option<&'static str> {
    Some(match side {
        "driver" => "passenger",
        "passenger" => "driver",
        "rear_left" => "rear_right",
        "rear_right" => "rear_left",
        _ => return None,
    })
}

/// "and the passenger side too", "same for the rear", "what about the passenger".
pub(crate) fn is_follow_up(text: &str) -> bool {
    // "The passenger's too please": politeness after the words that matter.
    let text = ["please", "thanks", "thank you"].iter().find_map(|p| text.strip_suffix(p)).map_or(text, str::trim_end);
    ["and ", "also ", "same for ", "the same for ", "what about ", "how about "].iter().any(|m| text.starts_with(m))
        || text.ends_with(" too")
        || text.ends_with(" as well")
        // "副驾也一样", "后排也要", "还有副驾".
        || ["也一样", "也是", "也要", "也调", "也开", "也关", "也打开", "也关上", "也关掉", "也来", "同样"].iter().any(|m| text.contains(m))
        || ["还有", "那"].iter().any(|m| text.starts_with(m)) && text.ends_with(['呢', '吧'])
}

/// "Off", "close it", "关掉": words that say how, and name no thing, so mean the thing just
/// changed. Normalised text.
pub(crate) fn only_a_value(text: &str) -> bool {
    const ENGLISH: &[&str] = &[
        "on", "off", "open", "close", "closed", "shut", "halfway", "half", "way", "all", "the", "fully", "up", "down", "a", "bit",
        "little", "more", "less", "it", "please", "now", "again", "back", "then", "only", "just", "turn", "switch", "put", "higher",
        "lower", "warmer", "cooler", "hotter", "colder", "brighter", "dimmer",
    ];
    // 太亮了，关掉吧 and 开一半就行 say no more than a value, and how the last one felt.
    const CHINESE: &str = "开关打掉上闭了吧一点些再高低热冷亮暗半全部都请把它大小多少太就行";
    let words: Vec<&str> = text.split_whitespace().collect();
    !words.is_empty()
        && words.iter().all(|word| ENGLISH.contains(word) || word.chars().all(|c| CHINESE.contains(c) || matches!(c, '，' | '。' | '！')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_that_stop_before_the_new_value_are_not_finished() {
        for unfinished in
            ["No wait, not Shanghai.", "set the temperature to twenty four, no sorry", "no, I mean", "不是上海", "二十四度，不对"]
        {
            assert!(stops_mid_correction(unfinished), "{unfinished}");
        }
        for finished in
            ["no wait, not shanghai, shenzhen", "set the temperature to twenty two", "不是上海，是深圳", "二十四度，不对，二十五度"]
        {
            assert!(!stops_mid_correction(finished), "{finished}");
        }
    }

    #[test]
    fn words_that_stop_on_a_joining_word_are_not_finished() {
        for unfinished in ["navigate to", "call my", "open the trunk and", "lock the", "导航去", "把温度调到"] {
            assert!(stops_mid_phrase(unfinished), "{unfinished}");
        }
        for finished in ["navigate to the airport", "call my sister", "lock the doors", "导航去深圳", "把温度调到二十二度", "turn it on"]
        {
            assert!(!stops_mid_phrase(finished), "{finished}");
        }
        for bare in ["twenty two", "21", "Twenty-one.", "二十二"] {
            assert!(only_a_number(bare), "{bare}");
        }
        for request in ["twenty two degrees", "set it to 21", "二十二度", "play track two"] {
            assert!(!only_a_number(request), "{request}");
        }
    }

    #[test]
    fn corrections_keep_what_replaces() {
        assert_eq!(correction_remainder("No, twenty two").as_deref(), Some("twenty two"));
        assert_eq!(correction_remainder("not Shanghai, Shenzhen").as_deref(), Some("shenzhen"));
        assert_eq!(correction_remainder("not shanghai but shenzhen").as_deref(), Some("shenzhen"));
        assert_eq!(correction_remainder("actually make it nineteen").as_deref(), Some("nineteen"));
        assert_eq!(correction_remainder("no wait, not shanghai, shenzhen").as_deref(), Some("shenzhen"));
        assert_eq!(correction_remainder("shenzhen, not shanghai").as_deref(), Some("shenzhen"));
        assert_eq!(correction_remainder("sorry, call maria instead").as_deref(), Some("call maria instead"));
        assert_eq!(correction_remainder("no"), None);
        assert_eq!(correction_remainder("north please"), None);
        assert_eq!(restated("twenty four, no sorry, twenty five").as_deref(), Some("twenty five"));
        assert_eq!(restated("to the mall, no, to the cinema").as_deref(), Some("to the cinema"));
        assert_eq!(restated("set it to twenty"), None);
        assert_eq!(correction_remainder("set it to twenty"), None);
    }

    #[test]
    fn mandarin_corrections_keep_what_replaces() {
        assert_eq!(correction_remainder("不是上海，是深圳").as_deref(), Some("深圳"));
        assert_eq!(correction_remainder("不是上海是深圳").as_deref(), Some("深圳"));
        assert_eq!(correction_remainder("不对，二十二度").as_deref(), Some("二十二度"));
        assert_eq!(correction_remainder("深圳，不是上海").as_deref(), Some("深圳"));
        assert_eq!(correction_remainder("改成副驾").as_deref(), Some("副驾"));
        assert_eq!(correction_remainder("不是主驾，改成副驾").as_deref(), Some("副驾"));
        assert_eq!(correction_remainder("嗯不对，调到四十吧").as_deref(), Some("调到四十吧"));
        assert_eq!(correction_remainder("不用了"), None);
        assert_eq!(correction_remainder("导航去上海"), None);
        assert_eq!(restated("二十四度，不对，二十五度").as_deref(), Some("二十五度"));
        assert!(is_follow_up("副驾也一样"));
        assert!(!is_follow_up("打开后备箱"));
    }

    #[test]
    fn follow_ups_are_recognised() {
        assert!(is_follow_up("and the passenger side too"));
        assert!(is_follow_up("the passenger side as well"));
        assert!(!is_follow_up("open the trunk"));
    }
}
