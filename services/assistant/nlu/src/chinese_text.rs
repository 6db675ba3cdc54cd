//! What the extractors and the classifier read of Mandarin: speech-recogniser text in simplified
//! characters (whisper writes traditional ones now and then), with full-width forms folded, punctuation and fillers dropped, and numbers in characters written
//! as digits ("二十一点五度" -> "21.5度", "百分之五十" -> "50%"). Words are not separated: the
//! extractors read characters, and the sentence encoder has its own segmentation.

use std::sync::LazyLock;

use cabin_language::is_han;
use regex::Regex;

/// Hesitations a recogniser writes, never part of a request.
const FILLERS: &[char] = &['嗯', '呃', '额', '唔'];
/// Filler words at the start only: "那个" later in a sentence is "that".
const LEADING_FILLERS: &[&str] = &["那个", "就是", "然后", "这个"];

pub fn normalise(raw: &str) -> String {
    let simplified = fast2s::convert(raw);
    let mut folded = String::with_capacity(raw.len());
    for c in simplified.chars() {
        let c = match c {
            // Full-width ASCII forms, as Chinese input methods write them.
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        let keep = c.is_alphanumeric() || c == '%' || c == '.' || c == '\'';
        if FILLERS.contains(&c) {
            continue;
        }
        folded.extend(if keep { c.to_lowercase().collect::<Vec<_>>() } else { vec![' '] });
    }
    let joined = join_words(&folded);
    let mut text = joined.as_str();
    while let Some(rest) = LEADING_FILLERS.iter().find_map(|f| text.strip_prefix(f)).filter(|rest| !rest.is_empty()) {
        text = rest;
    }
    digits_for_numerals(&english_words_in_mandarin(text)).replace("度半", ".5度")
}

/// English words drivers say inside Mandarin ("开一下trunk", "把volume调小一点"), put as the
/// Mandarin the extractors and the encoder know. Names ("导航去Starbucks") stay as they are.
const SAID_IN_ENGLISH: &[(&str, &str)] = &[
    ("air conditioning", "空调"),
    ("aircon", "空调"),
    ("a c", "空调"),
    ("ac", "空调"),
    ("trunk", "后备箱"),
    ("boot", "后备箱"),
    ("windows", "车窗"),
    ("window", "车窗"),
    ("volume", "音量"),
    ("music", "音乐"),
    ("temperature", "温度"),
    ("seat heating", "座椅加热"),
    ("doors", "车门"),
    ("door", "车门"),
    ("lights", "灯"),
    ("light", "灯"),
    ("fan", "风量"),
];

fn english_words_in_mandarin(text: &str) -> String {
    static LATIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[a-z]+(?: [a-z]+)*").expect("tested"));
    if !text.chars().any(is_han) {
        return text.to_string();
    }
    LATIN
        .replace_all(text, |run: &regex::Captures| {
            let run = &run[0];
            match SAID_IN_ENGLISH.iter().find(|(english, _)| *english == run) {
                Some((_, mandarin)) => mandarin.to_string(),
                None => run
                    .split(' ')
                    .map(|word| SAID_IN_ENGLISH.iter().find(|(e, _)| *e == word).map_or(word, |(_, m)| m))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .into_owned()
}

/// Spaces stay only between two Latin words or numbers ("打开 a c" would not read as "ac", but
/// "play 周杰伦" keeps nothing it needs); a '.' stays only between digits.
fn join_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = out.chars().last();
        let after = chars[i + 1..].iter().find(|c| **c != ' ').copied();
        match c {
            ' ' => {
                let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                if latin(before) && latin(after) && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            '.' if !(before.is_some_and(|b| b.is_ascii_digit() || is_numeral(b))
                && chars.get(i + 1).is_some_and(|a| a.is_ascii_digit() || is_numeral(*a))) => {}
            _ => out.push(c),
        }
    }
    out.trim().to_string()
}

fn digit(c: char) -> Option<u64> {
    "零一二三四五六七八九".chars().position(|d| d == c).map(|d| d as u64).or(match c {
        '〇' => Some(0),
        '两' => Some(2),
        _ => None,
    })
}

fn unit(c: char) -> Option<u64> {
    match c {
        '十' => Some(10),
        '百' => Some(100),
        '千' => Some(1000),
        '万' => Some(10_000),
        _ => None,
    }
}

fn is_numeral(c: char) -> bool {
    digit(c).is_some() || unit(c).is_some()
}

/// The value of a run of numeral characters: "二十二" 22, "一百零五" 105, "十五" 15; a run
/// without units is read digit by digit ("一二三" 123).
fn value(run: &[char]) -> Option<u64> {
    if !run.iter().any(|c| unit(*c).is_some()) {
        return run.iter().try_fold(0u64, |n, c| Some(n * 10 + digit(*c)?));
    }
    let (mut total, mut section, mut number) = (0, 0, None::<u64>);
    for &c in run {
        if let Some(d) = digit(c) {
            number = Some(d);
        } else if c == '万' {
            total += (section + number.take().unwrap_or(0)) * 10_000;
            section = 0;
        } else {
            section += number.take().unwrap_or(1) * unit(c)?;
        }
    }
    Some(total + section + number.unwrap_or(0))
}

/// Characters that make a lone numeral a value: a unit after it, or a verb of setting before it.
const UNIT_AFTER: &[char] = &['度', '档', '级', '格', '%', '个', '号', '首', '位', '成', '米', '公'];
const SETTING_BEFORE: &[char] = &['到', '为', '成', '至', '第', '是', '开', '调'];
/// "一下", "一点", "一些": "a bit", not the number one.
const NOT_A_NUMBER_AFTER_ONE: &[char] =
    &['个', '下', '点', '些', '会', '直', '样', '起', '定', '边', '切', '般', '共', '路', '半', '条', '句', '首', '遍', '声'];

/// Writes the numbers in `text` that are said in characters as digits.
pub fn digits_for_numerals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // "百分之五十": a percentage, said before its number.
        if chars[i..].starts_with(&['百', '分', '之']) {
            let (number, used) = number_at(&chars, i + 3);
            if let Some(number) = number {
                out.push_str(&number);
                out.push('%');
                i += 3 + used;
                continue;
            }
        }
        if !is_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (number, used) = number_at(&chars, i);
        let run = &chars[i..i + used];
        let next = chars.get(i + used).copied();
        let before = i.checked_sub(1).map(|b| chars[b]);
        let lone = used == 1;
        let is_value = match number {
            None => false,
            Some(_) if !lone => true,
            Some(_) if run[0] == '一' && next.is_some_and(|n| NOT_A_NUMBER_AFTER_ONE.contains(&n)) => false,
            Some(_) if run[0] == '两' || run[0] == '一' => {
                next.is_some_and(|n| UNIT_AFTER.contains(&n)) || before.is_some_and(|b| SETTING_BEFORE.contains(&b) && b != '开')
            }
            Some(_) => next.is_none_or(|n| UNIT_AFTER.contains(&n) || !is_han(n)) || before.is_some_and(|b| SETTING_BEFORE.contains(&b)),
        };
        match number {
            Some(number) if is_value => out.push_str(&number),
            _ => out.extend(run),
        }
        i += used;
    }
    out
}

/// The number that starts at `start` (numerals, with a decimal part after "点"), in digits, and
/// how many characters it took.
fn number_at(chars: &[char], start: usize) -> (Option<String>, usize) {
    if chars.get(start).is_some_and(char::is_ascii_digit) {
        let used = chars[start..].iter().take_while(|c| c.is_ascii_digit() || **c == '.').count();
        return (Some(chars[start..start + used].iter().collect()), used);
    }
    let whole = chars[start..].iter().take_while(|c| is_numeral(**c)).count();
    let Some(integer) = value(&chars[start..start + whole]) else { return (None, whole.max(1)) };
    let mut number = integer.to_string();
    let mut used = whole;
    if chars.get(start + used) == Some(&'点') {
        let decimals: String =
            chars[start + used + 1..].iter().map_while(|c| digit(*c)).map(|d| char::from_digit(d as u32, 10).unwrap_or('0')).collect();
        if !decimals.is_empty() {
            number.push('.');
            number.push_str(&decimals);
            used += 1 + decimals.chars().count();
        }
    }
    (Some(number), used.max(1))
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn numbers_in_characters_become_digits() {
        for (said, read) in [
            ("把温度调到二十二度", "把温度调到22度"),
            ("二十一点五度", "21.5度"),
            ("调高两度", "调高2度"),
            ("音量调到百分之五十", "音量调到50%"),
            ("座椅加热开到三档", "座椅加热开到3档"),
            ("音量调到三十", "音量调到30"),
            ("一百零五", "105"),
            ("二十二度半", "22.5度"),
        ] {
            assert_eq!(normalise(said), read, "{said}");
        }
    }

    #[test]
    fn a_bit_and_one_of_are_no_numbers() {
        for said in ["调高一点", "等一下", "打开一些", "两边都打开", "开一条缝", "车窗开一半"] {
            assert_eq!(normalise(said), said, "{said}");
        }
    }

    #[test]
    fn english_words_said_in_mandarin_are_its_own_and_names_stay() {
        assert_eq!(normalise("开一下trunk"), "开一下后备箱");
        assert_eq!(normalise("把AC打开"), "把空调打开");
        assert_eq!(normalise("把seat heating关了"), "把座椅加热关了");
        assert_eq!(normalise("导航去Starbucks"), "导航去starbucks");
        assert_eq!(normalise("open the trunk"), "open the trunk", "English alone is not Mandarin's to change");
    }

    #[test]
    fn punctuation_width_and_fillers_go() {
        assert_eq!(normalise("嗯，不是上海，是深圳！"), "不是上海是深圳");
        assert_eq!(normalise("那个，把ＡＣ打开"), "把空调打开");
        assert_eq!(normalise("播放 Taylor Swift 的歌"), "播放taylor swift的歌");
        assert_eq!(normalise("调到22.5度。"), "调到22.5度");
        assert_eq!(normalise("打開車窗，溫度調到二十二度"), "打开车窗温度调到22度");
    }
}
