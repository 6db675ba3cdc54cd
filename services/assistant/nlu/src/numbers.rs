//! Spelled-out numbers, as speech recognisers write them, turned into digits:
//! "twenty two point five" -> "22.5", "twenty one and a half" -> "21.5", "fifty percent" -> "50 percent".

fn unit(word: &str) -> Option<u32> {
    Some(match word {
        "zero" | "nought" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

fn digit_value(word: &str) -> Option<u32> {
    word.parse::<u32>().ok().filter(|d| *d < 10).or_else(|| unit(word).filter(|d| *d < 10)).or((word == "oh").then_some(0))
}

/// Reads an integer below 1000 starting at `words[0]`; returns the value and words used.
fn integer(words: &[&str]) -> Option<(u32, usize)> {
    let mut value = 0;
    let mut used = 0;
    // "a hundred", "one hundred and five"
    if words.first().is_some_and(|w| *w == "a") && words.get(1).is_some_and(|w| *w == "hundred") {
        value = 100;
        used = 2;
    } else if let (Some(n), Some(&"hundred")) = (words.first().and_then(|w| unit(w)), words.get(1)) {
        value = n * 100;
        used = 2;
    }
    if used == 2 && words.get(used) == Some(&"and") && words.get(used + 1).is_some_and(|w| tens(w).or(unit(w)).is_some()) {
        used += 1;
    }
    let rest = &words[used..];
    if let Some(t) = rest.first().and_then(|w| tens(w)) {
        value += t;
        used += 1;
        // "twenty two" or "twenty-two" (split earlier)
        if let Some(u) = rest.get(1).and_then(|w| unit(w)).filter(|u| *u < 10 && *u > 0) {
            value += u;
            used += 1;
        }
    } else if let Some(u) = rest.first().and_then(|w| unit(w)) {
        value += u;
        used += 1;
    }
    (used > 0).then_some((value, used))
}

/// "One" alone is as often a pronoun ("the passenger one", "the one behind me") as a number: it
/// is a number where a value is given ("to one", "level one", "one percent", just "one").
fn is_pronoun_one(before: &[&str], after: &[&str]) -> bool {
    const GIVES_VALUE: [&str; 8] = ["to", "at", "level", "on", "by", "is", "it", "number"];
    const UNIT_OR_FRACTION: [&str; 6] = ["percent", "degree", "degrees", "point", "and", "notch"];
    let number_before = before.last().is_some_and(|w| GIVES_VALUE.contains(w));
    let number_after = after.first().is_some_and(|w| UNIT_OR_FRACTION.contains(w));
    let alone = before.is_empty() && (after.is_empty() || after == ["please"]);
    !(number_before || number_after || alone)
}

/// Replaces every spelled-out number in already lower-cased, space-separated `text` with digits.
pub fn digits_for_words(text: &str) -> String {
    let spaced = text.replace('-', " ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        // "a couple degrees warmer", "a couple of notches": two of a unit, not a pair of people.
        if words[i] == "a" && words.get(i + 1) == Some(&"couple") {
            let of = usize::from(words.get(i + 2) == Some(&"of"));
            if words
                .get(i + 2 + of)
                .is_some_and(|w| matches!(*w, "degrees" | "notches" | "levels" | "steps" | "clicks" | "points" | "percent"))
            {
                out.push("2".into());
                i += 2 + of;
                continue;
            }
        }
        let Some((whole, used)) = integer(&words[i..]) else {
            out.push(words[i].to_string());
            i += 1;
            continue;
        };
        // "a" alone is an article, not a number: only "a hundred" reached here.
        if used == 1 && words[i] == "one" && is_pronoun_one(&words[..i], &words[i + 1..]) {
            out.push(words[i].to_string());
            i += 1;
            continue;
        }
        i += used;
        let mut number = whole.to_string();
        if words.get(i) == Some(&"point") && words.get(i + 1).and_then(|w| digit_value(w)).is_some() {
            number.push('.');
            i += 1;
            while let Some(d) = words.get(i).and_then(|w| digit_value(w)) {
                number.push(char::from_digit(d, 10).unwrap_or('0'));
                i += 1;
            }
        } else if words.get(i..i + 3) == Some(&["and", "a", "half"]) {
            number.push_str(".5");
            i += 3;
        }
        out.push(number);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::digits_for_words;

    #[test]
    fn spelled_numbers_become_digits() {
        for (spoken, written) in [
            ("set it to twenty one", "set it to 21"),
            ("twenty two point five degrees", "22.5 degrees"),
            ("twenty one and a half on the passenger side", "21.5 on the passenger side"),
            ("fifty percent", "50 percent"),
            ("volume to a hundred", "volume to 100"),
            ("one hundred and five", "105"),
            ("level three", "level 3"),
            ("forty-two market street", "42 market street"),
            ("nineteen point two five", "19.25"),
            ("open a window", "open a window"),
            ("the passenger one", "the passenger one"),
            ("roll down the one behind me", "roll down the one behind me"),
            ("seat heating on one", "seat heating on 1"),
            ("one percent", "1 percent"),
            ("one", "1"),
            ("twenty one", "21"),
            ("make it a couple degrees warmer", "make it 2 degrees warmer"),
            ("a couple of notches", "2 notches"),
            ("a couple of friends", "a couple of friends"),
        ] {
            assert_eq!(digits_for_words(spoken), written, "{spoken}");
        }
    }

    #[test]
    fn digits_already_written_stay() {
        assert_eq!(digits_for_words("set it to 21.5"), "set it to 21.5");
    }
}
