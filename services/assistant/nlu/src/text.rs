//! What the extractors and the classifier read: speech-recogniser text, lower-cased, without
//! punctuation or fillers, with numbers as digits.

use crate::numbers::digits_for_words;

const FILLERS: &[&str] = &["um", "umm", "uh", "uhh", "erm", "er", "hmm", "mm"];

/// Lower-cases, drops punctuation (keeping apostrophes and decimal points), fillers and
/// repeated spaces, and writes spelled-out numbers as digits.
pub fn normalise(raw: &str) -> String {
    let lower = raw.to_lowercase().replace('%', " percent ").replace(['’', '‘'], "'");
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

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn punctuation_case_and_fillers_go_numbers_become_digits() {
        assert_eq!(normalise("Um, set it to Twenty-One degrees, please!"), "set it to 21 degrees please");
        assert_eq!(normalise("Open it 30%."), "open it 30 percent");
        assert_eq!(normalise("It’s 22.5 on the driver's side"), "it's 22.5 on the driver's side");
    }
}
