//! Whether the local LLMs can fill a detail the rule-based extractors missed ("open the window
//! next to me": which window?), measured before wiring them into the dialog. Each choice is
//! rated whole (`LocalLlm::score`: its tokens and the end of the turn), as is and calibrated
//! against the same question about a content-free request, which removes a small model's
//! leaning towards some choices whatever was said.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-local-llm --bench slot_guessing`

use cabin_local_llm::{render_prompt, ChatMessage, LocalLlm, Role};
use cabin_models::ModelsDir;

const SYSTEM: &str = "You fill in one detail of a driver's request to the car, choosing from the choices given. \
                      Answer none when the request does not say or clearly imply it.";

fn main() {
    let windows: Vec<String> = ["driver", "passenger", "rear left", "rear right", "all", "none"].map(String::from).to_vec();
    let volumes: Vec<String> = (0..=100).step_by(10).map(|v| v.to_string()).chain(["none".into()]).collect();
    let temperatures: Vec<String> = (16..=28).map(|t| t.to_string()).chain(["none".into()]).collect();
    let cases = [
        ("open the window next to me", "Which window?", &windows, "driver"),
        ("open the window where my daughter sits, she sits behind the passenger", "Which window?", &windows, "rear right"),
        ("open the window for my wife in the front", "Which window?", &windows, "passenger"),
        ("open the window", "Which window?", &windows, "none"),
        ("turn the volume to half", "What volume, from zero to a hundred?", &volumes, "50"),
        ("volume to the maximum", "What volume, from zero to a hundred?", &volumes, "100"),
        ("change the volume", "What volume, from zero to a hundred?", &volumes, "none"),
        ("set the temperature to something like room temperature", "What temperature would you like?", &temperatures, "21"),
        ("set the temperature", "What temperature would you like?", &temperatures, "none"),
        ("make it nice and toasty, set the temperature", "What temperature would you like?", &temperatures, "25"),
    ];
    let models = ModelsDir::resolve();
    let names = std::env::var("CABIN_LLM_BENCH_MODELS").unwrap_or_else(|_| "smollm2-135m,qwen2.5-0.5b".into());
    for name in names.split(',') {
        let llm = match models.locate(name).map(|dir| LocalLlm::load(&dir)) {
            Ok(Ok(llm)) => llm,
            Ok(Err(error)) => panic!("{error}"),
            Err(error) => {
                println!("{name}: skipped ({error})");
                continue;
            }
        };
        let end = llm.tokenize("<|im_end|>").expect("tokenizes");
        let (mut right, mut calibrated_right, mut elapsed) = (0, 0, std::time::Duration::ZERO);
        for (said, question, choices, expected) in &cases {
            let prompt = |said: &str| {
                let asked = format!("Driver: \"{said}\"\n{question} ({})", choices.join(", "));
                render_prompt(&[ChatMessage::new(Role::System, SYSTEM), ChatMessage::new(Role::User, &asked)], &[])
            };
            let rate = |prompt: &str| -> Vec<f32> {
                let choice_tokens = |choice: &String| [llm.tokenize(choice).expect("tokenizes"), end.clone()].concat();
                choices
                    .iter()
                    .map(|choice| llm.score(prompt, &choice_tokens(choice)).expect("scores").iter().map(|s| s.log_probability).sum())
                    .collect()
            };
            let started = std::time::Instant::now();
            let (given, content_free) = (rate(&prompt(said)), rate(&prompt("N/A")));
            elapsed += started.elapsed();
            let best =
                |scores: &[f32]| choices[scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0)].as_str();
            let calibrated: Vec<f32> = given.iter().zip(&content_free).map(|(a, b)| a - b).collect();
            let (guess, calibrated_guess) = (best(&given), best(&calibrated));
            right += usize::from(guess == *expected);
            calibrated_right += usize::from(calibrated_guess == *expected);
            println!("{name}: {guess:>10} (calibrated {calibrated_guess:>10}), expected {expected:>10} | {said}");
        }
        println!(
            "{name}: right {right} of {}, calibrated {calibrated_right} of {}; {:.0} ms a guess",
            cases.len(),
            cases.len(),
            elapsed.as_secs_f64() * 1000.0 / cases.len() as f64
        );
    }
}
