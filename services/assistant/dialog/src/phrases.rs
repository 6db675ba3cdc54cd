//! The dialog's own sentences, in each language it speaks. What a task says (its question, its
//! confirmation, what it did) is data, in `defaults/tasks.toml` and `defaults/tasks.zh.toml`;
//! these are the few the dialog says whatever the task.

use cabin_nlu::Language;
use cabin_principal::Principal;
use cabin_vehicle_config::LimitError;

use crate::template::ValueWords;
use crate::tools::{Recollection, Sighting, ToolError};

pub struct Phrases {
    pub gave_up_earlier: &'static str,
    pub not_caught: &'static str,
    /// `{error}`: why nothing can be understood.
    pub cannot_understand: &'static str,
    pub no_task: &'static str,
    pub cancelled: &'static str,
    pub okay: &'static str,
    pub not_understood: &'static str,
    pub nothing_to_confirm: &'static str,
    pub wont: &'static str,
    pub undone: &'static str,
    pub put_back: &'static str,
    pub nothing_to_undo: &'static str,
    pub yes_or_no: &'static str,
    /// Before a question asked again, when its answer could not be placed.
    pub asked_again: &'static str,
    pub never_mind: &'static str,
    pub which_one: &'static str,
    /// "Hotter" when it is as hot as it goes.
    pub already_highest: &'static str,
    pub already_lowest: &'static str,
    /// The rest take `{doing}`, the task's action in words.
    pub value_does_not_fit: &'static str,
    /// Appended to what was done with a value the driver said they like.
    pub as_you_like_it: &'static str,
    /// `{reason}`: the interlock's or the range's.
    pub refused: &'static str,
    pub not_allowed: &'static str,
    pub phone_not_allowed: &'static str,
    /// `{what}`: the service that did not answer.
    pub not_responding: &'static str,
    pub failed: &'static str,
}

const ENGLISH: Phrases = Phrases {
    gave_up_earlier: "(I let the earlier request go.) ",
    not_caught: "I didn't catch that. Could you say it again?",
    cannot_understand: "Sorry, I can't understand anything right now ({error}).",
    no_task: "I understood that, but I have no task for it.",
    cancelled: "Okay, cancelled.",
    okay: "Okay.",
    not_understood:
        "Sorry, I didn't understand that. You can ask me to set the temperature, open a window, or look for something in the car.",
    nothing_to_confirm: "There's nothing waiting for a yes or no.",
    wont: "Okay, I won't.",
    undone: "Okay, it's back as it was.",
    put_back: "put it back",
    nothing_to_undo: "There's nothing to undo.",
    yes_or_no: "Please say yes or no. ",
    asked_again: "Sorry, I didn't get that. ",
    never_mind: "Okay, never mind.",
    which_one: "Which one?",
    already_highest: "It's already as high as it goes.",
    already_lowest: "It's already as low as it goes.",
    value_does_not_fit: "I can't {doing}: that value doesn't fit.",
    as_you_like_it: ", as you like it.",
    refused: "I can't {doing}: {reason}.",
    not_allowed: "I'm not allowed to {doing}.",
    phone_not_allowed: "Your phone may not {doing}.",
    not_responding: "I can't {doing} right now: {what} is not responding.",
    failed: "Something went wrong when I tried to {doing}.",
};

const CHINESE: Phrases = Phrases {
    gave_up_earlier: "（刚才的请求已经放弃了。）",
    not_caught: "我没听清，请再说一遍。",
    cannot_understand: "抱歉，我现在无法理解（{error}）。",
    no_task: "我听懂了，但是这件事我做不了。",
    cancelled: "好的，已取消。",
    okay: "好的。",
    not_understood: "抱歉，我没听懂。您可以让我调节温度、打开车窗，或者在车里找东西。",
    nothing_to_confirm: "现在没有需要您确认的事。",
    wont: "好的，那就不做了。",
    undone: "好的，已经恢复原样。",
    put_back: "恢复原样",
    nothing_to_undo: "没有可以撤销的操作。",
    yes_or_no: "请说“是”或者“不”。",
    asked_again: "抱歉，没听明白。",
    never_mind: "好的，那就算了。",
    which_one: "哪一个？",
    already_highest: "已经是最高了。",
    already_lowest: "已经是最低了。",
    value_does_not_fit: "我不能{doing}：这个数值不合适。",
    as_you_like_it: "，按您喜欢的。",
    refused: "现在不能{doing}：{reason}。",
    not_allowed: "我无权{doing}。",
    phone_not_allowed: "您的手机无权{doing}。",
    not_responding: "现在不能{doing}：{what}没有响应。",
    failed: "{doing}时出了问题。",
};

pub fn phrases(language: Language) -> &'static Phrases {
    match language {
        Language::English => &ENGLISH,
        Language::Chinese => &CHINESE,
    }
}

/// Fills a phrase's `{doing}`.
pub fn with_doing(phrase: &str, doing: &str) -> String {
    phrase.replace("{doing}", doing)
}

/// Why a value is outside a signal's range, in the driver's language.
pub fn out_of_range(error: &LimitError, language: Language) -> String {
    match (language, error) {
        (Language::English, error) => error.to_string(),
        (Language::Chinese, LimitError::AboveMax { value, max }) => format!("{value}超过了上限{max}"),
        (Language::Chinese, LimitError::BelowMin { value, min }) => format!("{value}低于下限{min}"),
        (Language::Chinese, LimitError::NotAllowed { value, allowed }) => format!("{value}不是可选的值（{allowed}）"),
    }
}

/// The refusal, before anything is asked or done, of a task the principal lacks a scope for.
pub fn refusal(principal: &Principal, doing: &str, language: Language) -> String {
    let said = phrases(language);
    with_doing(if matches!(principal, Principal::Phone { .. }) { said.phone_not_allowed } else { said.not_allowed }, doing)
}

/// The sentence the driver hears when `doing` failed; `reason` is the interlock's or range's
/// reason as the driver should hear it in `language`.
/// `words` says the service that did not answer in the driver's language.
pub fn failure(error: &ToolError, doing: &str, reason: Option<&str>, words: Option<&ValueWords>, language: Language) -> String {
    let said = phrases(language);
    let phrase = match error {
        ToolError::Interlock { reason: own, .. } | ToolError::OutOfRange { reason: own } => {
            said.refused.replace("{reason}", reason.unwrap_or(own))
        }
        ToolError::NotPermitted { .. } => said.not_allowed.to_string(),
        ToolError::Unavailable { what, .. } => said.not_responding.replace("{what}", words.and_then(|w| w.get(what)).unwrap_or(what)),
        ToolError::Failed(_) => said.failed.to_string(),
    };
    with_doing(&phrase, doing)
}

/// How sure (as measured: see the vision service's calibration) the camera must be for a plain
/// "yes"; below it the car says it is not sure.
pub const SURE_SIGHTING: f64 = 0.5;

/// What the camera answered, as one sentence: "Yes, I can see your cup on the rear left seat
/// (84 % sure)."; "看到了，您的杯子在后排左侧座位上（把握84%）。" `words` names the detector's
/// labels and the regions in the driver's language.
pub fn sighting(answer: &Sighting, words: Option<&ValueWords>, language: Language) -> String {
    match language {
        Language::English => english_sighting(answer),
        Language::Chinese => chinese_sighting(answer, words),
    }
}

fn english_sighting(answer: &Sighting) -> String {
    match answer {
        Sighting::Seen { object, region, confidence } if *confidence >= SURE_SIGHTING => {
            format!("Yes, I can see your {object} {} ({:.0} % sure).", english_place(region), confidence * 100.0)
        }
        Sighting::Seen { object, region, confidence } => {
            format!("I might see your {object} {}, but I'm not sure ({:.0} % sure).", english_place(region), confidence * 100.0)
        }
        Sighting::NotSeen { object, why_not_cloud: None } => format!("I can't see your {object} in the car."),
        Sighting::NotSeen { object, why_not_cloud: Some(why) } => {
            format!("I can't see your {object} in the car, and I can't ask the cloud model: {why}.")
        }
        Sighting::SeenByCloud { object, region } => format!("The cloud model sees your {object} {}.", english_place(region)),
        Sighting::NotSeenByCloud { object } => format!("Neither I nor the cloud model can see your {object} in the car."),
        Sighting::UnknownObject { object, why_not_cloud: None } => {
            format!("I don't know what that looks like, so I can't look for your {object}.")
        }
        Sighting::UnknownObject { object, why_not_cloud: Some(why) } => {
            format!("I don't know what that looks like, and I can't ask the cloud model: {why}. So I can't look for your {object}.")
        }
        Sighting::OutOfView { region } => format!("The cabin camera can't see the {}.", region.replace('_', " ")),
        Sighting::Cabin { region, seen } if seen.is_empty() => match region.as_deref().filter(|r| !r.is_empty()) {
            Some(region) => format!("I can't see anything {}.", english_place(region)),
            None => "I can't see anything left in the car.".into(),
        },
        Sighting::Cabin { seen, .. } => {
            let things: Vec<String> = seen
                .iter()
                .map(|(label, region)| {
                    let thing = match label.as_str() {
                        "person" => "someone".to_string(),
                        label if label.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {label}"),
                        label => format!("a {label}"),
                    };
                    format!("{thing} {}", english_place(region))
                })
                .collect();
            let listed = match things.as_slice() {
                [rest @ .., last] if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => things.concat(),
            };
            format!("I can see {listed}.")
        }
    }
}

/// Where a region is, as said aloud: "rear_left" is "on the rear left seat".
fn english_place(region: &str) -> String {
    let words = region.replace('_', " ");
    match region {
        "" => "in the car".into(),
        "driver" => "on the driver's seat".into(),
        r if r.contains("footwell") || r.contains("trunk") || r.contains("boot") => format!("in the {words}"),
        r if r.contains("seat") => format!("on the {words}"),
        _ => format!("on the {words} seat"),
    }
}

fn chinese_sighting(answer: &Sighting, words: Option<&ValueWords>) -> String {
    let word = |english: &str| words.and_then(|w| w.get(english)).cloned().unwrap_or_else(|| english.replace('_', " "));
    let place = |region: &str| match region {
        "" => "车里".to_string(),
        r if r.contains("footwell") || r.contains("trunk") => word(r),
        r => format!("{}座位上", word(r)),
    };
    match answer {
        Sighting::Seen { object, region, confidence } if *confidence >= SURE_SIGHTING => {
            format!("看到了，您的{object}在{}（把握{:.0}%）。", place(region), confidence * 100.0)
        }
        Sighting::Seen { object, region, confidence } => {
            format!("您的{object}好像在{}，但我不太确定（把握{:.0}%）。", place(region), confidence * 100.0)
        }
        Sighting::NotSeen { object, why_not_cloud: None } => format!("我在车里没看到您的{object}。"),
        Sighting::NotSeen { object, why_not_cloud: Some(_) } => format!("我在车里没看到您的{object}，现在也没法请云端模型看。"),
        Sighting::SeenByCloud { object, region } => format!("云端模型看到您的{object}在{}。", place(region)),
        Sighting::NotSeenByCloud { object } => format!("我和云端模型都没在车里看到您的{object}。"),
        Sighting::UnknownObject { object, why_not_cloud: None } => format!("我不知道{object}长什么样，没法帮您找。"),
        Sighting::UnknownObject { object, why_not_cloud: Some(_) } => {
            format!("我不知道{object}长什么样，现在也没法请云端模型看，没法帮您找。")
        }
        Sighting::OutOfView { region } => format!("车内摄像头看不到{}。", word(region)),
        Sighting::Cabin { region, seen } if seen.is_empty() => match region.as_deref().filter(|r| !r.is_empty()) {
            Some(region) => format!("{}什么也没看到。", place(region)),
            None => "车里没看到落下的东西。".into(),
        },
        Sighting::Cabin { seen, .. } => {
            let things: Vec<String> = seen.iter().map(|(label, region)| format!("{}有{}", place(region), word(label))).collect();
            format!("我看到{}。", things.join("，"))
        }
    }
}

/// What a memory task did, as one sentence.
pub fn recollection(answer: &Recollection, words: Option<&ValueWords>, language: Language) -> String {
    match language {
        Language::English => english_recollection(answer),
        Language::Chinese => chinese_recollection(answer, words),
    }
}

/// "a, b and c".
fn listing(items: &[String]) -> String {
    match items {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => items.concat(),
    }
}

fn english_recollection(answer: &Recollection) -> String {
    match answer {
        Recollection::Remembered { fact } => format!("Okay, I'll remember that {fact}."),
        Recollection::Forgotten { fact } => format!("Okay, I've forgotten that {fact}."),
        Recollection::NothingToForget => "There's nothing for me to forget.".into(),
        Recollection::NothingAbout { text } => format!("I don't remember anything about {text}."),
        Recollection::Facts(facts) if facts.is_empty() => "You haven't asked me to remember anything.".into(),
        Recollection::Facts(facts) => format!("I remember that {}.", listing(facts)),
        Recollection::Asked { period, asked, .. } if asked.is_empty() => format!("You didn't ask me anything {period}."),
        Recollection::Asked { period, asked, total } => {
            let more = if *total > asked.len() { format!(" (the last {} of {total})", asked.len()) } else { String::new() };
            let when = period[..1].to_uppercase() + &period[1..];
            let quoted: Vec<String> = asked.iter().map(|a| format!("\"{a}\"")).collect();
            format!("{when} you asked me{more}: {}.", listing(&quoted))
        }
    }
}

fn chinese_recollection(answer: &Recollection, words: Option<&ValueWords>) -> String {
    // The driver's "我" is "您" when the car says it back.
    let yours = |fact: &str| fact.replace('我', "您");
    let period = |p: &str| words.and_then(|w| w.get(p)).cloned().unwrap_or_else(|| p.to_string());
    match answer {
        Recollection::Remembered { fact } => format!("好的，我记住了：{}。", yours(fact)),
        Recollection::Forgotten { fact } => format!("好的，我忘掉了：{}。", yours(fact)),
        Recollection::NothingToForget => "没有需要忘掉的事。".into(),
        Recollection::NothingAbout { text } => format!("我没记过关于{text}的事。"),
        Recollection::Facts(facts) if facts.is_empty() => "您还没让我记过什么。".into(),
        Recollection::Facts(facts) => format!("我记得：{}。", facts.iter().map(|f| yours(f)).collect::<Vec<_>>().join("；")),
        Recollection::Asked { period: p, asked, .. } if asked.is_empty() => format!("{}您没问过我什么。", period(p)),
        Recollection::Asked { period: p, asked, total } => {
            let more = if *total > asked.len() { format!("（共{total}条，这是最近{}条）", asked.len()) } else { String::new() };
            let quoted: Vec<String> = asked.iter().map(|a| format!("“{a}”")).collect();
            format!("{}您问过我{more}：{}。", period(p), quoted.join("、"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_camera_sees_is_one_sentence() {
        let cabin = |items: &[(&str, &str)], region: Option<&str>| Sighting::Cabin {
            region: region.map(String::from),
            seen: items.iter().map(|(l, r)| (l.to_string(), r.to_string())).collect(),
        };
        let english = |answer: &Sighting| sighting(answer, None, Language::English);
        assert_eq!(english(&cabin(&[], None)), "I can't see anything left in the car.");
        assert_eq!(english(&cabin(&[], Some("rear"))), "I can't see anything on the rear seat.");
        assert_eq!(
            english(&cabin(&[("cup", "rear_left"), ("umbrella", ""), ("person", "driver")], None)),
            "I can see a cup on the rear left seat, an umbrella in the car and someone on the driver's seat."
        );
        let words: ValueWords = [("cup", "杯子"), ("rear_left", "后排左侧"), ("cat", "猫"), ("passenger", "副驾")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let chinese = |answer: &Sighting| sighting(answer, Some(&words), Language::Chinese);
        assert_eq!(chinese(&cabin(&[("cup", "rear_left"), ("cat", "passenger")], None)), "我看到后排左侧座位上有杯子，副驾座位上有猫。");
        let seen = Sighting::Seen { object: "杯子".into(), region: "rear_left".into(), confidence: 0.84 };
        assert_eq!(chinese(&seen), "看到了，您的杯子在后排左侧座位上（把握84%）。");
    }

    #[test]
    fn an_unsure_sighting_says_so() {
        let seen = |confidence| Sighting::Seen { object: "cup".into(), region: "rear_left".into(), confidence };
        assert_eq!(sighting(&seen(0.9), None, Language::English), "Yes, I can see your cup on the rear left seat (90 % sure).");
        assert_eq!(
            sighting(&seen(0.27), None, Language::English),
            "I might see your cup on the rear left seat, but I'm not sure (27 % sure)."
        );
    }

    #[test]
    fn an_answer_from_the_cloud_says_so() {
        let english = |answer: &Sighting| sighting(answer, None, Language::English);
        let seen = Sighting::SeenByCloud { object: "red scarf".into(), region: "rear_left".into() };
        assert_eq!(english(&seen), "The cloud model sees your red scarf on the rear left seat.");
        let refused = Sighting::UnknownObject {
            object: "red scarf".into(),
            why_not_cloud: Some("the owner's policy keeps camera frames in the car".into()),
        };
        assert_eq!(
            english(&refused),
            "I don't know what that looks like, and I can't ask the cloud model: the owner's policy keeps camera frames in the car. So I can't look for your red scarf."
        );
        let words: ValueWords = [("rear_left", "后排左侧")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let seen = Sighting::SeenByCloud { object: "围巾".into(), region: "rear_left".into() };
        assert_eq!(sighting(&seen, Some(&words), Language::Chinese), "云端模型看到您的围巾在后排左侧座位上。");
    }
}
