//! What the extractors and the classifier read: speech-recogniser text, lower-cased, without
//! punctuation or fillers, with numbers as digits. Mandarin has its own rules (`chinese_text`).

use crate::numbers::digits_for_words;
use cabin_language::Language;

const FILLERS: &[&str] = &["um", "umm", "uh", "uhh", "erm", "er", "hmm", "mm"];

/// Lower-cases, drops punctuation (keeping apostrophes and decimal points), fillers and
/// repeated spaces, and writes spelled-out numbers as digits.
pub fn normalise(raw: &str) -> String {
    match Language::of(raw) {
        Language::English => normalise_english(raw),
        Language::Chinese => crate::chinese_text::normalise(raw),
    }
}

fn normalise_english(raw: &str) -> String {
    let lower = raw.to_lowercase().replace('%', " percent ").replace(['’', '‘'], "'");
    // "Mm-hmm" and "uh-huh" are made of fillers, but alone they say yes.
    let sound: String = lower.chars().filter(char::is_ascii_alphabetic).collect();
    if ["mmhmm", "mhm", "mmhm", "uhhuh", "mhmm"].contains(&sound.as_str()) {
        return "yes".into();
    }
    let lower = join_hyphenated_numbers(&lower);
    let chars: Vec<char> = lower.chars().collect();
    let mut cleaned = String::with_capacity(lower.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = |i: usize| i > 0 && chars[i - 1].is_ascii_digit() && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || c == '\'' || (c == '.' && between_digits(i)) {
            cleaned.push(c);
        } else {
            cleaned.push(' ');
        }
    }
    let words: Vec<&str> =
        cleaned.split_whitespace().map(|w| w.trim_matches('\'')).filter(|w| !w.is_empty() && !FILLERS.contains(w)).collect();
    digits_for_words(&words.join(" "))
}

/// Whisper writes "twenty-one" as "20-1" now and then: tens, a hyphen, a unit is one number.
fn join_hyphenated_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let is_tens = |j: usize| j + 1 < bytes.len() && (b'2'..=b'9').contains(&bytes[j]) && bytes[j + 1] == b'0';
        if at_word_start && is_tens(i) && bytes.get(i + 2) == Some(&b'-') {
            if let Some(&unit) = bytes.get(i + 3).filter(|u| (b'1'..=b'9').contains(u)) {
                if bytes.get(i + 4).is_none_or(|next| !next.is_ascii_alphanumeric()) {
                    out.push(bytes[i] as char);
                    out.push(unit as char);
                    i += 4;
                    continue;
                }
            }
        }
        let c = text[i..].chars().next().expect("inside the text");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn punctuation_case_and_fillers_go_numbers_become_digits() {
        assert_eq!(normalise("Um, set it to Twenty-One degrees, please!"), "set it to 21 degrees please");
        assert_eq!(normalise("Open it 30%."), "open it 30 percent");
        assert_eq!(normalise("Set the temperature to 20-1 degrees."), "set the temperature to 21 degrees");
        assert_eq!(normalise("rows 20-10 and 2020-1"), "rows 20 10 and 2020 1");
        assert_eq!(normalise("It’s 22.5 on the driver's side"), "it's 22.5 on the driver's side");
        assert_eq!(normalise("Mm-hmm."), "yes");
        assert_eq!(normalise("uh huh"), "yes");
        assert_eq!(normalise("uh, hmm"), "");
    }
}
