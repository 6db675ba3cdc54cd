//! Mandarin text as Kokoro-82M (v1.0) reads it: misaki's Chinese path, in Rust. Each
//! character's pinyin (the `pinyin` crate: its most common reading, so a character read
//! otherwise in a word may be said wrong) is split into initial and final, each written in
//! IPA as misaki writes it, and the tone becomes an arrow after the vowel (→ first, ↗ second,
//! ↓ third, ↘ fourth, nothing for the neutral tone). Chinese punctuation becomes the ASCII
//! marks Kokoro knows; other text is left out.

use pinyin::ToPinyin;

/// `text` in Kokoro's Mandarin phonemes, clauses kept apart by their punctuation.
pub fn mandarin_phonemes(text: &str) -> String {
    let mut phonemes = String::new();
    for c in text.chars() {
        if let Some(reading) = c.to_pinyin() {
            phonemes.push_str(&syllable(reading.with_tone_num_end()));
            continue;
        }
        let mark = match c {
            '，' | '、' | ',' => ", ",
            '。' | '．' | '.' => ". ",
            '？' | '?' => "? ",
            '！' | '!' => "! ",
            '：' | ':' => ": ",
            '；' | ';' => "; ",
            _ if c.is_whitespace() => " ",
            _ => continue,
        };
        if !phonemes.is_empty() && !phonemes.ends_with(' ') {
            phonemes.push_str(mark);
        }
    }
    phonemes.trim_end().to_owned()
}

/// Initials longest first, so "zh" is not read as "z".
const INITIALS: &[(&str, &str)] = &[
    ("zh", "ꭧ"),
    ("ch", "ꭧʰ"),
    ("sh", "ʂ"),
    ("b", "p"),
    ("p", "pʰ"),
    ("m", "m"),
    ("f", "f"),
    ("d", "t"),
    ("t", "tʰ"),
    ("n", "n"),
    ("l", "l"),
    ("g", "k"),
    ("k", "kʰ"),
    ("h", "x"),
    ("j", "ʨ"),
    ("q", "ʨʰ"),
    ("x", "ɕ"),
    ("r", "ɻ"),
    ("z", "ʦ"),
    ("c", "ʦʰ"),
    ("s", "s"),
];

/// Finals as pinyin's strict spelling has them (after y/w are undone): the IPA before the
/// tone and after it.
const FINALS: &[(&str, &str, &str)] = &[
    ("a", "a", ""),
    ("ai", "ai", ""),
    ("an", "a", "n"),
    ("ang", "a", "ŋ"),
    ("ao", "au", ""),
    ("e", "ɤ", ""),
    ("ei", "ei", ""),
    ("en", "ə", "n"),
    ("eng", "ə", "ŋ"),
    ("er", "ɚ", ""),
    ("i", "i", ""),
    ("ia", "ja", ""),
    ("ian", "jɛ", "n"),
    ("iang", "ja", "ŋ"),
    ("iao", "jau", ""),
    ("ie", "je", ""),
    ("in", "i", "n"),
    ("iou", "jou", ""),
    ("ing", "i", "ŋ"),
    ("iong", "jʊ", "ŋ"),
    ("ong", "ʊ", "ŋ"),
    ("ou", "ou", ""),
    ("u", "u", ""),
    ("uei", "wei", ""),
    ("ua", "wa", ""),
    ("uai", "wai", ""),
    ("uan", "wa", "n"),
    ("uen", "wə", "n"),
    ("uang", "wa", "ŋ"),
    ("ueng", "wə", "ŋ"),
    ("uo", "wo", ""),
    ("o", "wo", ""),
    ("ü", "y", ""),
    ("üe", "ɥe", ""),
    ("üan", "ɥɛ", "n"),
    ("ün", "y", "n"),
];

/// One syllable in pinyin with its tone number at the end ("tiao2", "de5" or "de").
fn syllable(pinyin: &str) -> String {
    let (letters, tone) = match pinyin.char_indices().last() {
        Some((at, digit @ '1'..='5')) => (&pinyin[..at], digit),
        _ => (pinyin, '5'),
    };
    let arrow = match tone {
        '1' => "→",
        '2' => "↗",
        '3' => "↓",
        '4' => "↘",
        _ => "",
    };
    let (initial, ipa_initial) = INITIALS.iter().find(|(i, _)| letters.starts_with(i)).map_or(("", ""), |(i, ipa)| (*i, *ipa));
    let final_part = strict_final(initial, &letters[initial.len()..]);
    // zhi, chi, shi, ri and zi, ci, si have no vowel of their own.
    if final_part == "i" && matches!(initial, "zh" | "ch" | "sh" | "r" | "z" | "c" | "s") {
        return format!("{ipa_initial}ɨ{arrow}");
    }
    match FINALS.iter().find(|(f, ..)| *f == final_part) {
        Some((_, vowel, coda)) => format!("{ipa_initial}{vowel}{arrow}{coda}"),
        // Interjections (m, n, ng, hm): said as spelt.
        None => format!("{ipa_initial}{final_part}{arrow}"),
    }
}

/// The final as pinyin's tables list it: y- and w- spellings undone, the ü written as u after
/// j, q, x and y restored, and the contracted iu, ui, un expanded.
fn strict_final(initial: &str, rest: &str) -> String {
    let rest = rest.replace('v', "ü");
    if initial.is_empty() {
        if let Some(after_y) = rest.strip_prefix('y') {
            return match after_y {
                "u" | "ue" | "uan" | "un" => format!("ü{}", &after_y[1..]),
                _ if after_y.starts_with('i') => after_y.to_owned(),
                "ou" => "iou".into(),
                _ => format!("i{after_y}"),
            };
        }
        if let Some(after_w) = rest.strip_prefix('w') {
            return match after_w {
                "u" => "u".into(),
                "ei" => "uei".into(),
                "en" => "uen".into(),
                _ => format!("u{after_w}"),
            };
        }
        return rest;
    }
    if matches!(initial, "j" | "q" | "x") && rest.starts_with('u') {
        return format!("ü{}", &rest[1..]);
    }
    match rest.as_str() {
        "iu" => "iou".into(),
        "ui" => "uei".into(),
        "un" => "uen".into(),
        _ => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_are_written_as_misaki_writes_them() {
        // As misaki's `ZHG2P.py2ipa` gives them.
        assert_eq!(syllable("ni3"), "ni↓");
        assert_eq!(syllable("hao3"), "xau↓");
        assert_eq!(syllable("shen1"), "ʂə→n");
        assert_eq!(syllable("zhen4"), "ꭧə↘n");
        assert_eq!(syllable("qu4"), "ʨʰy↘");
        assert_eq!(syllable("yue4"), "ɥe↘");
        assert_eq!(syllable("shi2"), "ʂɨ↗");
        assert_eq!(syllable("zi4"), "ʦɨ↘");
        assert_eq!(syllable("wen1"), "wə→n");
        assert_eq!(syllable("you3"), "jou↓");
        assert_eq!(syllable("gui4"), "kwei↘");
        assert_eq!(syllable("er4"), "ɚ↘");
        assert_eq!(syllable("de5"), "tɤ");
    }

    #[test]
    fn a_sentence_keeps_its_clauses() {
        assert_eq!(mandarin_phonemes("你好，小舱。"), "ni↓xau↓, ɕjau↓ʦʰa→ŋ.");
        assert_eq!(mandarin_phonemes("OK 打开"), "ta↓kʰai→");
    }
}
