//! The extractors for English: regular expressions over lower-cased words, numbers as digits.

use std::sync::LazyLock;

use regex::Regex;

use super::{first_of, re, FreeText, SlotKind, SlotValue};

pub(super) fn extract(kind: SlotKind, text: &str) -> Option<SlotValue> {
    let word = |s: &str| Some(SlotValue::Text(s.to_string()));
    match kind {
        SlotKind::Temperature => temperature(text).map(SlotValue::Number),
        SlotKind::Zone => zone(text).and_then(word),
        SlotKind::OpenPercent => open_percent(text).map(SlotValue::Number),
        SlotKind::HeatLevel => heat_level(text).map(SlotValue::Number),
        SlotKind::VolumeLevel => volume_level(text).map(SlotValue::Number),
        SlotKind::Step => step(text).map(SlotValue::Number),
        SlotKind::Warmth => warmth(text).and_then(word),
        SlotKind::Loudness => loudness(text).and_then(word),
        SlotKind::HeatStep => first_of(&HEAT_STEP, text).and_then(word),
        SlotKind::OpenStep => open_step(text).and_then(word),
        SlotKind::Closing => has(&CLOSING, text).then(|| SlotValue::Text("closed".into())),
        SlotKind::Switch => switch(text).and_then(word),
        SlotKind::LockState => lock_state(text).and_then(word),
        SlotKind::VehicleSignal => vehicle_signal(text).and_then(word),
        SlotKind::Region => region(text).and_then(word),
        SlotKind::MediaAction => media_action(text).and_then(word),
        SlotKind::Destination => DESTINATION.value(&PHONE_AS_RECIPIENT.replace(text, "")),
        // "Call someone", "call her": nobody named (the dialog knows who "her" is).
        SlotKind::Contact => CONTACT.value(text).filter(|v| !is_vague(&v.to_string())),
        SlotKind::Object => OBJECT.value(text),
        // "Play something" names nothing to play: the car asks what.
        SlotKind::MediaQuery => MEDIA_QUERY.value(text).filter(|v| !is_vague(&v.to_string())),
        SlotKind::Fact => fact(text).map(SlotValue::Text),
        SlotKind::Reminder => REMINDER.value(&ON_THE_PHONE.replace(text, "")),
        SlotKind::Period => period(text).and_then(word),
    }
}

/// The answer inside a request of its kind, for the kinds whose patterns need one.
pub(super) fn as_request(kind: SlotKind, answer: &str) -> Option<String> {
    match kind {
        SlotKind::Destination => Some(format!("navigate {answer}")),
        SlotKind::Contact => Some(format!("call {answer}")),
        // "is my X in the car": the object's pattern wants the question around it.
        SlotKind::Object => Some(format!("is my {answer} in the car")),
        SlotKind::MediaQuery => Some(format!("play {answer}")),
        SlotKind::Reminder if ["to ", "about ", "of "].iter().any(|word| answer.starts_with(word)) => Some(format!("remind me {answer}")),
        SlotKind::Reminder => Some(format!("remind me to {answer}")),
        _ => None,
    }
}

pub(super) fn is_no_value(value: &str) -> bool {
    value.is_empty() || TRAILING.contains(&value) || matches!(value, "yes" | "yeah" | "yep" | "sure" | "ok" | "okay" | "no")
}

fn has(pattern: &LazyLock<Regex>, text: &str) -> bool {
    pattern.is_match(text)
}

/// The numbers said as values, with where they start; the sizes of steps are left out.
fn numbers(text: &str) -> impl Iterator<Item = (usize, f64)> + '_ {
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d+(?:\.\d+)?\b"));
    let steps: Vec<std::ops::Range<usize>> = STEP.find_iter(text).map(|m| m.range()).collect();
    NUMBER
        .find_iter(text)
        .filter(move |m| !steps.iter().any(|step| step.contains(&m.start())))
        .filter_map(|m| m.as_str().parse().ok().map(|n| (m.start(), n)))
}

/// "2 degrees cooler", "10 percent louder", "up by 3", "down 10": a number that says how far.
static STEP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(\d+(?:\.\d+)?) ?(?:degrees? |percent |points? |notches? |steps? )?(?:warmer|cooler|hotter|colder|higher|lower|louder|quieter|softer|more|less|up|down)\b|\b(?:up|down|warmer|cooler|louder|quieter|raise it|lower it) by (\d+(?:\.\d+)?)\b|\b(?:up|down) (\d+(?:\.\d+)?)\b",
    )
});

fn step(text: &str) -> Option<f64> {
    let captures = STEP.captures(text)?;
    (1..=3).find_map(|group| captures.get(group)).and_then(|m| m.as_str().parse().ok())
}

fn temperature(text: &str) -> Option<f64> {
    static FAHRENHEIT: LazyLock<Regex> = LazyLock::new(|| re(r"\bfahrenheit\b"));
    // A value set outright ("to 34"), outside a cabin's usual range: kept, for the vehicle bus
    // to refuse in words rather than the car asking again and again.
    static SET_TO: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:to|at) (\d+(?:\.\d+)?)\b"));
    let usual = numbers(text).find_map(|(_, n)| {
        if (10.0..=32.0).contains(&n) && !has(&FAHRENHEIT, text) {
            Some(n)
        } else if (50.0..=90.0).contains(&n) {
            // A Fahrenheit setting: the car's HVAC works in Celsius, to the half degree.
            Some(((n - 32.0) * 5.0 / 9.0 * 2.0).round() / 2.0)
        } else {
            None
        }
    });
    usual.or_else(|| SET_TO.captures(text)?.get(1)?.as_str().parse().ok().filter(|n| (0.0..=100.0).contains(n)))
}

fn zone(text: &str) -> Option<&'static str> {
    // The one speaking is the driver: "behind me" is behind the driver.
    static REAR_LEFT: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b(rear|back)( on the)? left\b|\bleft (rear|back)\b|\bbehind (the driver|me)\b"));
    static REAR_RIGHT: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b(rear|back)( on the)? right\b|\bright (rear|back)\b|\bbehind the passenger\b"));
    // Both seats of a row, for the task to run on each.
    static REAR: LazyLock<Regex> = LazyLock::new(|| {
        re(r"\b(rear|back) (seats|windows|row|passengers|ones|fans?)\b|\b(in|for) the back\b|\bbackseat|\bback seat\b|\brear seat\b")
    });
    static FRONT: LazyLock<Regex> = LazyLock::new(|| re(r"\bfront (seats|windows|row|ones|fans?)\b|\b(in|for) the front\b"));
    static PASSENGER: LazyLock<Regex> = LazyLock::new(|| re(r"\bpassenger"));
    static DRIVER: LazyLock<Regex> =
        LazyLock::new(|| re(r"\bdriver|\bmy (side|seat|window|fan)\b|\bmine\b|\bfor me\b|\b(next to|beside) me\b"));
    static ALL: LazyLock<Regex> = LazyLock::new(|| {
        re(r"\b(all|every|both)\b|\beveryone\b|\beverybody\b|\beverywhere\b|\bwindows\b|\bseats\b|\bheaters\b|\ball round\b")
    });
    // "all the way" is how far, not which.
    static HOW_FAR: LazyLock<Regex> = LazyLock::new(|| re(r"\ball the way\b|\ball of it\b|\bat all\b"));
    let text = &HOW_FAR.replace_all(text, " ");
    if has(&REAR_LEFT, text) {
        Some("rear_left")
    } else if has(&REAR_RIGHT, text) {
        Some("rear_right")
    } else if has(&REAR, text) {
        Some("rear")
    } else if has(&FRONT, text) {
        Some("front")
    } else if has(&PASSENGER, text) {
        Some("passenger")
    } else if has(&DRIVER, text) {
        Some("driver")
    } else if has(&ALL, text) {
        Some("all")
    } else {
        None
    }
}

/// The first number said. Out-of-range values are kept: the vehicle bus knows each signal's
/// range and refuses in words the driver hears.
fn percent_number(text: &str) -> Option<f64> {
    numbers(text).map(|(_, n)| n).next()
}

/// Closing words, for a window: "close", "roll it up", "raise it", a bare "up"; and not wanting
/// it open.
static WINDOW_CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(close|closed|shut|raise|lift|roll (it |them )?up|wind (it |them )?up|put .*\bup)\b|\bup\b|\b(don't|do not|dont) want\b")
});

/// "I don't want the seat heating", "I don't need the AC": off.
static UNWANTED: LazyLock<Regex> = LazyLock::new(|| re(r"\b(don't|do not|dont) (want|need)\b|\bno longer (want|need)\b"));

/// "Three quarters", "a third", "two thirds" open, as percent (the digits are already there).
fn fraction(text: &str) -> Option<f64> {
    static FRACTIONS: LazyLock<Vec<(f64, Regex)>> = LazyLock::new(|| {
        vec![(75.0, re(r"\b3 quarters?\b")), (67.0, re(r"\b2 thirds\b")), (33.0, re(r"\b(a|1) third\b")), (25.0, re(r"\b(a|1) quarter\b"))]
    });
    FRACTIONS.iter().find(|(_, pattern)| pattern.is_match(text)).map(|(percent, _)| *percent)
}

/// A window moved by some more than it is: a comparative ("more", "further", "less"), or
/// closing "a little", which from wide open is not a hand's width.
fn open_step(text: &str) -> Option<&'static str> {
    static COMPARATIVE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(more|further|wider|narrower|less)\b"));
    static A_LITTLE: LazyLock<Regex> = LazyLock::new(|| re(r"\ba (little|bit|touch|tad)\b|\bslightly\b"));
    static FEWER: LazyLock<Regex> = LazyLock::new(|| re(r"\b(narrower|less)\b"));
    static HOW_FAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b(all the way|fully|completely|half ?way|half|a quarter)\b"));
    if percent_number(text).is_some()
        || has(&HOW_FAR, text)
        || !(has(&COMPARATIVE, text) || (has(&A_LITTLE, text) && has(&WINDOW_CLOSING, text)))
    {
        return None;
    }
    Some(if has(&WINDOW_CLOSING, text) || has(&FEWER, text) { "down" } else { "up" })
}

fn open_percent(text: &str) -> Option<f64> {
    static HALF: LazyLock<Regex> = LazyLock::new(|| re(r"\bhalf ?way\b|\bhalf\b"));
    static QUARTER: LazyLock<Regex> = LazyLock::new(|| re(r"\ba quarter\b"));
    static OPEN: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b(open|opening|roll (it |them )?down|wind .*\bdown|lower|down|all the way|fully|completely)\b"));
    if let Some(n) = fraction(text).or_else(|| percent_number(text)) {
        return Some(n);
    }
    if open_step(text).is_some() {
        return None;
    }
    // "Crack the window", "lower it a little": open a hand's width, not all the way.
    static A_LITTLE: LazyLock<Regex> = LazyLock::new(|| {
        re(r"\bcrack\b|\ba (little|bit|touch|crack)\b|\bslightly\b|\ban inch\b|\ba few (inches|centimetres|centimeters)\b")
    });
    if has(&HALF, text) {
        Some(50.0)
    } else if has(&QUARTER, text) {
        Some(25.0)
    } else if has(&A_LITTLE, text) && !has(&WINDOW_CLOSING, text) {
        Some(20.0)
    } else if has(&WINDOW_CLOSING, text) {
        Some(0.0)
    } else if has(&OPEN, text) {
        Some(100.0)
    } else {
        None
    }
}

fn heat_level(text: &str) -> Option<f64> {
    // A number said alone is a level only where a level is expected: "no, 3" after "level 1".
    static LEVEL: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:level|speed|to|on|at) (\d+)\b|^(\d+)$"));
    static OFF: LazyLock<Regex> = LazyLock::new(|| re(r"\b(off|kill)\b"));
    static LOW: LazyLock<Regex> = LazyLock::new(|| re(r"\b(low|lowest|minimum|gentle)\b"));
    static MEDIUM: LazyLock<Regex> = LazyLock::new(|| re(r"\b(medium|mid|middle)\b"));
    static HIGH: LazyLock<Regex> = LazyLock::new(|| re(r"\b(high|highest|max|maximum|full)\b"));
    if let Some(level) = LEVEL.captures(text).and_then(|c| c.get(1).or(c.get(2))?.as_str().parse().ok()) {
        Some(level)
    } else if has(&OFF, text) || has(&UNWANTED, text) {
        Some(0.0)
    } else if has(&LOW, text) {
        Some(1.0)
    } else if has(&MEDIUM, text) {
        Some(2.0)
    } else if has(&HIGH, text) {
        Some(3.0)
    } else {
        None
    }
}

fn volume_level(text: &str) -> Option<f64> {
    static MUTE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(mute|silence)\b"));
    static MAX: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b(max|maximum|full) (volume|blast)\b|\bvolume (to |at )?(the )?(max|maximum|full|loudest)\b"));
    static HALF: LazyLock<Regex> = LazyLock::new(|| re(r"\b(to|at) (half|halfway|the middle)\b|\bhalf (volume|way)\b"));
    if has(&MUTE, text) {
        Some(0.0)
    } else if has(&MAX, text) {
        Some(100.0)
    } else if let Some(n) = percent_number(text) {
        Some(n)
    } else {
        has(&HALF, text).then_some(50.0)
    }
}

fn warmth(text: &str) -> Option<&'static str> {
    static UP: LazyLock<Regex> = LazyLock::new(|| {
        re(r"\b(warmer|hotter|warm (it|things) up|heat (it )?up|cold|colder|freezing|chilly|frozen|up|increase|raise|higher)\b")
    });
    static DOWN: LazyLock<Regex> = LazyLock::new(|| {
        re(r"\b(cooler|cool (it|things)? ?down|hot|warm|boiling|roasting|stuffy|sweating|down|lower|lowering|decrease|reduce)\b")
    });
    // Comparatives say the wanted direction outright; feelings say the opposite of what is felt.
    static COMPARATIVE_UP: LazyLock<Regex> = LazyLock::new(|| re(r"\b(warmer|hotter|warm (it|things|her|him|them)? ?up|heat (it )?up)\b"));
    static COMPARATIVE_DOWN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(cooler|colder|cool (it|things)? ?down)\b"));
    if has(&COMPARATIVE_UP, text) {
        Some("up")
    } else if has(&COMPARATIVE_DOWN, text) {
        Some("down")
    } else if has(&UP, text) {
        Some("up")
    } else if has(&DOWN, text) {
        Some("down")
    } else {
        None
    }
}

fn loudness(text: &str) -> Option<&'static str> {
    static UP: LazyLock<Regex> = LazyLock::new(|| re(r"\b(louder|up|increase|raise|too quiet|can't hear|cannot hear|boost|more)\b"));
    static DOWN: LazyLock<Regex> = LazyLock::new(|| {
        re(
            r"\b(quieter|softer|down|lower|decrease|reduce|(too|so|way too|really|very|pretty) loud|hear myself think|deafening|blasting|less)\b",
        )
    });
    if has(&DOWN, text) && !text.contains("too quiet") {
        Some("down")
    } else if has(&UP, text) {
        Some("up")
    } else {
        None
    }
}

static HEAT_STEP: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        (
            "down",
            re(
                r"\b(cooler|colder|lower|less heat|turn (\w+ ){0,3}down|down a (level|notch|bit)|decrease|reduce|too (hot|warm)|burning|too (loud|noisy|strong|hard)|slow (\w+ ){0,2}down|slower|weaker|less air)\b",
            ),
        ),
        (
            "up",
            re(
                r"\b(warmer|hotter|higher|more heat|turn (\w+ ){0,3}up|crank (\w+ ){0,3}up|up a (level|notch|bit)|increase|raise|boost|faster|stronger|more air)\b",
            ),
        ),
    ]
});

static CLOSING: LazyLock<Regex> = LazyLock::new(|| re(r"\b(close|closed|closing|shut)\b"));

fn switch(text: &str) -> Option<&'static str> {
    static OFF: LazyLock<Regex> = LazyLock::new(|| re(r"\b(off|kill|disable|deactivate|stop|shut)\b"));
    static ON: LazyLock<Regex> = LazyLock::new(|| re(r"\b(on|enable|activate|start|running)\b"));
    if has(&OFF, text) || has(&UNWANTED, text) {
        Some("off")
    } else if has(&ON, text) {
        Some("on")
    } else {
        None
    }
}

fn media_action(text: &str) -> Option<&'static str> {
    static PREVIOUS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(previous|go back|back (a|one)|last (song|track))\b"));
    static NEXT: LazyLock<Regex> = LazyLock::new(|| re(r"\b(next|skip)\b"));
    static PAUSE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(pause|stop|turn off|switch off|hold)\b"));
    // "Don't stop, carry on" is a resume.
    static RESUME: LazyLock<Regex> = LazyLock::new(|| re(r"\b(resume|continue|carry on|keep (playing|going)|un-?pause|pick up where)\b"));
    if has(&PREVIOUS, text) {
        Some("previous")
    } else if has(&NEXT, text) {
        Some("next")
    } else if has(&RESUME, text) {
        Some("resume")
    } else if has(&PAUSE, text) {
        Some("pause")
    } else {
        None
    }
}

fn lock_state(text: &str) -> Option<&'static str> {
    static UNLOCK: LazyLock<Regex> = LazyLock::new(|| re(r"\bunlock|\bopen (up )?the (doors|car)\b|\brelease\b"));
    static LOCK: LazyLock<Regex> = LazyLock::new(|| re(r"\block|\bsecure\b"));
    if has(&UNLOCK, text) {
        Some("unlocked")
    } else if has(&LOCK, text) {
        Some("locked")
    } else {
        None
    }
}

fn vehicle_signal(text: &str) -> Option<&'static str> {
    static TABLE: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
        vec![
            ("trunk_lock_state", re(r"\b(trunk|boot|tailgate)\b.*\block|\block.*\b(trunk|boot|tailgate)\b")),
            ("lock_state", re(r"\block")),
            ("seat_heating_state", re(r"\bseats?\b.*\b(heat|warm)|\b(heated|heating|warm) seats?\b")),
            ("volume", re(r"\b(volume|how loud)\b")),
            ("window_state", re(r"\bwindows?\b")),
            ("trunk_state", re(r"\b(trunk|boot|tailgate)\b")),
            ("ac_state", re(r"\b(ac|a/c|a c|aircon|air con|air conditioning|air conditioner)\b")),
            ("light_state", re(r"\b(lights?|lamps?)\b")),
            ("tire_pressure", re(r"\b(tire|tyre|tires|tyres)\b|\bpressure\b")),
            (
                "range",
                re(r"\brange\b|\bhow far\b|\bhow many (miles|kilometers|kilometres|km)\b|\b(miles|kilometers|kilometres) (left|to go)\b"),
            ),
            ("battery_level", re(r"\bbattery\b|\bcharge\b|\bcharged\b|\bstate of charge\b")),
            ("fuel_level", re(r"\b(fuel|gas|petrol|diesel|tank)\b")),
            ("outside_temperature", re(r"\boutside\b|\bout there\b|\bweather\b")),
            ("cabin_temperature", re(r"\b(in here|inside|cabin)\b|\btemperature\b|\bhow (warm|cold|hot)\b")),
            ("speed", re(r"\bspeed\b|\bhow fast\b|\bgoing\b|\bdoing\b")),
        ]
    });
    first_of(&TABLE, text)
}

fn region(text: &str) -> Option<&'static str> {
    static TABLE: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
        vec![
            ("trunk", re(r"\b(trunk|boot|cargo)\b")),
            ("footwell", re(r"\b(footwell|floor|foot well)\b")),
            ("rear_left", re(r"\b(rear|back) left\b|\bleft (rear|back)\b")),
            ("rear_right", re(r"\b(rear|back) right\b|\bright (rear|back)\b")),
            ("rear", re(r"\b(rear|back) ?seat|\bin the back\b|\bbackseat\b")),
            ("passenger", re(r"\bpassenger")),
            ("driver", re(r"\bdriver|\bmy seat\b")),
        ]
    });
    first_of(&TABLE, text)
}

/// A free-text value, with determiners and trailing politeness trimmed.
const LEADING: &[&str] = &["the", "a", "an", "my", "some", "our", "his", "her", "their", "your", "up"];
/// Politeness and filler after a value: whole phrases only ("please please me" is a song).
const TRAILING: &[&str] = &[
    "please",
    "thanks",
    "thank you",
    "now",
    "right now",
    "right away",
    "for me",
    "for us",
    "then",
    "there",
    "too",
    "again",
    "anywhere",
    "somewhere",
    "instead",
    "as well",
];

/// Drops leading determiners and trailing politeness; a value that would be left empty stays as
/// it was.
pub(super) fn trim_value(value: &str) -> String {
    let mut words: Vec<&str> = value.split_whitespace().collect();
    while words.len() > 1 && LEADING.contains(&words[0]) {
        words.remove(0);
    }
    loop {
        let phrase = TRAILING.iter().find(|phrase| {
            let n = phrase.split(' ').count();
            words.len() > n && words[words.len() - n..].join(" ") == **phrase
        });
        match phrase {
            Some(phrase) => words.truncate(words.len() - phrase.split(' ').count()),
            None => break,
        }
    }
    words.join(" ")
}

static DESTINATION: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"\b(?:take|drive|bring|get) (?:me|us) (home)\b",
        r"\b(?:navigate|navigating|directions|route|route me|route us|way|take me|take us|drive me|drive us|bring me|get me|go|going|head|heading|guide me|drive|get|navigation) (?:back )?to (.+?)(?: from here| and take me there|$)",
        r"\bfind (.+?) and (?:take|get|drive) (?:me|us) there\b",
        r"\b(?:destination|sat nav|satnav|gps|navigation) (?:to|for|as) (.+)$",
        r"\bnavigate (.+)$",
    ])
});

/// "... to my phone": where the destination is sent, not where to go.
static PHONE_AS_RECIPIENT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\s+(?:to|on|onto|on to|over to|with) (?:my|the|your) (?:phone|mobile|cell)\b.*$"));

/// "... on my phone" inside a reminder: where it goes, not what it says.
static ON_THE_PHONE: LazyLock<Regex> = LazyLock::new(|| re(r"\s+(?:to|on|onto|via|through) (?:my|the|your) (?:phone|mobile|cell)\b"));

static CONTACT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        // Sharing the arrival time: "share my eta with ana", "let ana know when i'll get there".
        r"\b(?:share|send|text|message|tell|give|forward) (?:my |our |the )?(?:arrival time|arrival|eta|estimated (?:arrival )?time(?: of arrival)?|expected arrival(?: time)?|time of arrival) (?:with|to) (.+?)$",
        r"\b(?:send|text|message|tell|give|forward) (.+?) (?:my|our|the) (?:arrival time|arrival|eta|estimated (?:arrival )?time(?: of arrival)?|expected arrival(?: time)?|time of arrival)\b",
        r"\blet (.+?) know (?:when|what time|that|how long|i'm|we're|i am|we are)\b",
        r"\b(?:tell|text|message|update) (.+?) (?:when|what time|how long|that) (?:i|we)\b",
        r"\bgive (.+?) a (?:ring|call|bell)\b",
        r"\bget (.+?) on the phone\b",
        r"\bcall to (.+)$",
        r"\b(?:call|calling|ring|dial|phone|ringing|dialing|dialling) (?:up )?(.+?)(?: on (?:speaker|the phone|their mobile))?$",
    ])
});

static OBJECT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"\b(?:leave|left|forget|forgot|seen|spotted|see|find|for|is there|are there|where is|where's|where are|whether|if|is|are) (?:my|the|a|an|his|her|our|their|some|any) (.+?)(?: (?:is|are|in|on|inside|at|under|anywhere|somewhere|it might|lying|back there|here)\b.*)?$",
        r"\bis there (?:a |an )?(.+?)(?: (?:in|on|inside|at|under|anywhere|somewhere)\b.*)?$",
    ])
});

static MEDIA_QUERY: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"\b(?:play|playing|put on|listen to|hear|start|queue up|queue|shuffle) (.+?)(?: (?:on spotify|on the radio|in the car)\b.*)?$",
    ])
});

/// "Remind me to take my umbrella when i park": what follows "remind me to", up to when.
static REMINDER: LazyLock<FreeText> = LazyLock::new(|| {
    const WHEN: &str = r"(?: (?:when|once|after|as soon as|the moment|whenever|before|as|if) (?:i|we|you|the car)\b.*| (?:at|on) (?:parking|arrival)\b.*)?$";
    let patterns = [
        r"\bremind (?:me|us) (?:to|that i (?:need|have|want) to|i (?:need|have) to) (.+?)",
        r"\bremind (?:me|us) (?:about|of) (.+?)",
        r"\b(?:don't|do not) let (?:me|us) forget (?:to |about )?(.+?)",
        r"\b(?:set |add |make |leave )?(?:a |me a )?reminder (?:to|for|about|that i (?:need|have) to) (.+?)",
    ];
    let patterns: Vec<String> = patterns.iter().map(|pattern| format!("{pattern}{WHEN}")).collect();
    FreeText::new(&patterns.iter().map(String::as_str).collect::<Vec<_>>())
});

/// Words that stand for a value without giving one.
fn is_vague(value: &str) -> bool {
    matches!(
        value,
        "something"
            | "anything"
            | "music"
            | "some music"
            | "a song"
            | "songs"
            | "tunes"
            | "whatever"
            | "something else"
            | "it"
            | "that"
            | "someone"
            | "somebody"
            | "anyone"
            | "him"
            | "her"
            | "them"
    )
}

/// A fact keeps its "my" and "you": they say whose it is.
fn fact(text: &str) -> Option<String> {
    FACT.capture(text).map(|m| m.trim().trim_end_matches(" please").to_string()).filter(|v| !v.is_empty() && v != "that" && v != "it")
}

static FACT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"^(?:please |can you |could you )?(?:remember|note|keep in mind|don't forget|do not forget|make a note) (?:that )?(.+)$",
        r"^(?:forget|delete|erase) (?:about |what i said about |that )?(my .+|the .+)$",
        r"^(my .+ (?:is|are) .+)$",
    ])
});

fn period(text: &str) -> Option<&'static str> {
    static TABLE: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
        vec![
            ("this morning", re(r"\bmorning\b")),
            ("this afternoon", re(r"\bafternoon\b")),
            ("this evening", re(r"\bevening\b|\btonight\b")),
            ("yesterday", re(r"\byesterday\b")),
            ("today", re(r"\btoday\b")),
            ("this week", re(r"\b(this|last) week\b")),
        ]
    });
    first_of(&TABLE, text)
}

#[cfg(test)]
mod tests {
    use super::super::{reads, SlotKind};

    #[test]
    fn facts_and_periods() {
        reads(&[
            (SlotKind::Fact, "remember that i like 21 degrees", Some("i like 21 degrees")),
            (SlotKind::Fact, "my home is 42 market street", Some("my home is 42 market street")),
            (SlotKind::Fact, "forget my home address", Some("my home address")),
            (SlotKind::Fact, "forget that", None),
            (SlotKind::Period, "what did i ask you this morning", Some("this morning")),
        ]);
    }

    #[test]
    fn temperatures_in_celsius_and_fahrenheit() {
        reads(&[
            (SlotKind::Temperature, "set it to twenty two point five", Some("22.5")),
            (SlotKind::Temperature, "seventy two degrees", Some("22")),
            (SlotKind::Temperature, "make it warmer", None),
            (SlotKind::Temperature, "set the temperature to 34", Some("34")),
            (SlotKind::Temperature, "make it 5 degrees warmer", None),
        ]);
    }

    #[test]
    fn zones_seats_and_windows() {
        reads(&[
            (SlotKind::Zone, "the back left window", Some("rear_left")),
            (SlotKind::Zone, "heat my seat", Some("driver")),
            (SlotKind::Zone, "close all the windows", Some("all")),
            (SlotKind::Zone, "close the rear windows", Some("rear")),
            (SlotKind::Zone, "warm up the back seats", Some("rear")),
            (SlotKind::Zone, "open both front windows", Some("front")),
            (SlotKind::Zone, "the front ones too", Some("front")),
            (SlotKind::Zone, "and mine to 22", Some("driver")),
            (SlotKind::Zone, "on the passenger side", Some("passenger")),
            (SlotKind::Zone, "roll down the one behind the passenger", Some("rear_right")),
            (SlotKind::Zone, "open the window behind me", Some("rear_left")),
            (SlotKind::Zone, "my son is in the back on the right", Some("rear_right")),
            (SlotKind::Zone, "the window next to me", Some("driver")),
            (SlotKind::Zone, "turn the back fan down", Some("rear")),
            (SlotKind::Zone, "both front fans to two", Some("front")),
        ]);
    }

    #[test]
    fn relative_requests_point_the_right_way() {
        reads(&[
            (SlotKind::Warmth, "i'm freezing", Some("up")),
            (SlotKind::Warmth, "it's too hot in here", Some("down")),
            (SlotKind::Warmth, "a bit warmer", Some("up")),
            (SlotKind::Loudness, "i can't hear the music", Some("up")),
            (SlotKind::Loudness, "the music is so loud i can't hear myself think", Some("down")),
            (SlotKind::Loudness, "the music's too loud", Some("down")),
            (SlotKind::HeatStep, "hotter", Some("up")),
            // The fan's levels and steps are the seat heating's.
            (SlotKind::HeatStep, "the blower is too noisy", Some("down")),
            (SlotKind::HeatStep, "i want the fan faster", Some("up")),
            (SlotKind::HeatLevel, "fan speed 2", Some("2")),
            (SlotKind::HeatLevel, "kill the blower", Some("0")),
            (SlotKind::HeatStep, "turn the seat heating up", Some("up")),
            (SlotKind::HeatStep, "my seat is getting too hot", Some("down")),
            // Warming a seat, or feeling cold, switches it on: no step.
            (SlotKind::HeatStep, "warm up my seat", None),
            (SlotKind::HeatStep, "my seat is freezing", None),
            (SlotKind::Closing, "shut the boot", Some("closed")),
            (SlotKind::Closing, "pop the trunk", None),
        ]);
    }

    #[test]
    fn window_positions() {
        reads(&[
            (SlotKind::OpenPercent, "open the window halfway", Some("50")),
            (SlotKind::OpenPercent, "roll up the window", Some("0")),
            (SlotKind::OpenPercent, "open it thirty percent", Some("30")),
            (SlotKind::OpenPercent, "open my window", Some("100")),
            (SlotKind::OpenPercent, "all the way", Some("100")),
            (SlotKind::OpenPercent, "close it all the way", Some("0")),
            (SlotKind::OpenPercent, "crack the window a bit on my side", Some("20")),
            (SlotKind::OpenPercent, "lower the driver window a little", Some("20")),
            // "One" here is a window, not a percentage.
            (SlotKind::OpenPercent, "roll down the passenger one", Some("100")),
            (SlotKind::OpenPercent, "a bit more", None),
            (SlotKind::OpenPercent, "close it a little", None),
            (SlotKind::OpenStep, "a bit more", Some("up")),
            (SlotKind::OpenStep, "roll it down further", Some("up")),
            (SlotKind::OpenStep, "close it a little", Some("down")),
            (SlotKind::OpenStep, "a little less", Some("down")),
            (SlotKind::OpenStep, "crack the window a bit on my side", None),
            (SlotKind::OpenStep, "open it to 30 percent", None),
            (SlotKind::OpenStep, "open it more, all the way", None),
            (SlotKind::OpenPercent, "raise the passenger window", Some("0")),
            (SlotKind::OpenPercent, "i don't want the window open", Some("0")),
            (SlotKind::OpenPercent, "open the driver window three quarters", Some("75")),
            (SlotKind::OpenPercent, "open the window a third", Some("33")),
            (SlotKind::HeatLevel, "i don't want the seat heating", Some("0")),
            (SlotKind::Switch, "i don't need the air con any more", Some("off")),
        ]);
    }

    #[test]
    fn volume_levels_in_words() {
        reads(&[
            (SlotKind::VolumeLevel, "turn the volume to half", Some("50")),
            (SlotKind::VolumeLevel, "volume to the maximum", Some("100")),
            (SlotKind::VolumeLevel, "set the volume to thirty", Some("30")),
            (SlotKind::VolumeLevel, "mute it", Some("0")),
            (SlotKind::VolumeLevel, "change the volume", None),
        ]);
    }

    #[test]
    fn steps_say_how_far_and_are_no_values() {
        reads(&[
            (SlotKind::Step, "make it two degrees cooler", Some("2")),
            (SlotKind::Step, "turn it up by ten", Some("10")),
            (SlotKind::Step, "volume down 5", Some("5")),
            (SlotKind::Step, "set the temperature to 22", None),
            // A step's number is no value: not 10 degrees, not volume 10.
            (SlotKind::Temperature, "make it 10 degrees colder", None),
            (SlotKind::VolumeLevel, "turn it up by 10", None),
            (SlotKind::VolumeLevel, "turn the volume up to 50", Some("50")),
        ]);
    }

    #[test]
    fn what_to_do_with_the_music() {
        reads(&[
            (SlotKind::MediaAction, "pause the music", Some("pause")),
            (SlotKind::MediaAction, "turn off the radio", Some("pause")),
            (SlotKind::MediaAction, "skip this song", Some("next")),
            (SlotKind::MediaAction, "go back to the last song", Some("previous")),
            (SlotKind::MediaAction, "resume the music", Some("resume")),
            (SlotKind::MediaAction, "don't stop, carry on playing", Some("resume")),
            (SlotKind::MediaAction, "continue my audiobook", Some("resume")),
            (SlotKind::MediaAction, "play some jazz", None),
        ]);
    }

    #[test]
    fn a_free_text_answer_loses_what_its_request_would_not_keep() {
        let answer = |kind: SlotKind, said: &str| kind.extract_answer(said).map(|v| v.to_string());
        assert_eq!(answer(SlotKind::Destination, "to shanghai please").as_deref(), Some("shanghai"));
        assert_eq!(answer(SlotKind::Destination, "shenzhen").as_deref(), Some("shenzhen"));
        assert_eq!(answer(SlotKind::Contact, "maria instead").as_deref(), Some("maria"));
        assert_eq!(answer(SlotKind::MediaQuery, "to kill a mockingbird").as_deref(), Some("to kill a mockingbird"));
        assert_eq!(answer(SlotKind::MediaQuery, "some jazz please").as_deref(), Some("jazz"));
        assert_eq!(answer(SlotKind::Object, "my sunglasses").as_deref(), Some("sunglasses"));
        assert_eq!(SlotKind::MediaQuery.extract("play something"), None, "nothing named: the car asks");
        assert_eq!(answer(SlotKind::MediaQuery, "please please me").as_deref(), Some("please please me"), "a title, not politeness");
        assert_eq!(answer(SlotKind::Contact, "thanks"), None);
        assert_eq!(SlotKind::Zone.extract("open it all the way"), None, "how far, not which window");
    }

    #[test]
    fn free_text_loses_determiners_and_politeness() {
        reads(&[
            (SlotKind::Destination, "take me to the airport please", Some("airport")),
            (SlotKind::Destination, "drive me home", Some("home")),
            (SlotKind::Destination, "send the directions to the museum to my phone", Some("museum")),
            (SlotKind::Destination, "route me to the closest petrol station", Some("closest petrol station")),
            (SlotKind::Destination, "send the destination to my phone", None),
            (SlotKind::Contact, "give mum a ring", Some("mum")),
            (SlotKind::Object, "is my hat in the car", Some("hat")),
            (SlotKind::Object, "did i leave my sunglasses on the back seat", Some("sunglasses")),
            (SlotKind::MediaQuery, "play some jazz", Some("jazz")),
            (SlotKind::Reminder, "remind me to take my umbrella when i park", Some("take my umbrella")),
            (SlotKind::Reminder, "when we park remind me to grab the groceries from the boot", Some("grab the groceries from the boot")),
            (SlotKind::Reminder, "remind me about the dry cleaning once we've parked please", Some("dry cleaning")),
            (SlotKind::Reminder, "send a reminder to my phone to call the garage when i get out", Some("call the garage")),
            (SlotKind::Contact, "share my arrival time with ana", Some("ana")),
            (SlotKind::Contact, "send my eta to my wife", Some("wife")),
            (SlotKind::Contact, "let the kids know when i'll be home", Some("kids")),
            (SlotKind::Contact, "call ana", Some("ana")),
        ]);
    }

    #[test]
    fn vehicle_questions_name_their_signal() {
        reads(&[
            (SlotKind::VehicleSignal, "how fast am i going", Some("speed")),
            (SlotKind::VehicleSignal, "how far can i drive on this battery", Some("range")),
            (SlotKind::VehicleSignal, "are the doors locked", Some("lock_state")),
            (SlotKind::VehicleSignal, "is the trunk locked", Some("trunk_lock_state")),
            (SlotKind::VehicleSignal, "is the seat heating on", Some("seat_heating_state")),
            (SlotKind::VehicleSignal, "what's the volume", Some("volume")),
        ]);
    }
}
