//! `cargo run -p cabin-voice-corpus -- OUT_DIR`: writes the voice corpus as WAV files with an
//! index (`index.tsv`: file, text, voice, SNR, whether the wake phrase is in it), for
//! listening to, for other tools, and for `cabin wakeword enrol` on the enrolment voices.

use std::fmt::Write as _;
use std::path::PathBuf;

use cabin_audio::write_wav;
use cabin_voice_corpus::{
    mix_at_snr, padded, speak, CHATTER, COMMANDS, ENROLMENT_VOICES, HELD_OUT_VOICES, NEAR_MISSES, SNRS_DB, WAKE_PHRASE,
};

fn main() {
    let Some(out) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: voice-corpus OUT_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(out.join("enrol")).expect("create the output folder");
    let mut index = String::from("file\ttext\tvoice\tsnr_db\twake_phrase\n");
    for (i, speaker) in ENROLMENT_VOICES.iter().enumerate() {
        let file = format!("enrol/{i:02}.wav");
        write_wav(&out.join(&file), &padded(&speak(WAKE_PHRASE, speaker), 0.3, 0.3)).expect("write WAV");
        let _ = writeln!(index, "{file}\t{WAKE_PHRASE}\t{}\t\ttrue", speaker.label());
    }
    let mut clips: Vec<(String, bool)> =
        COMMANDS.iter().flat_map(|(said, _)| [(said.to_string(), false), (format!("{WAKE_PHRASE}, {said}"), true)]).collect();
    clips.extend(CHATTER.iter().chain(NEAR_MISSES).map(|s| (s.to_string(), false)));
    let mut count = 0;
    for (v, speaker) in HELD_OUT_VOICES.iter().enumerate() {
        for (c, (text, has_phrase)) in clips.iter().enumerate() {
            let clean = padded(&speak(text, speaker), 0.6, 1.0);
            for &snr in SNRS_DB {
                let file = format!("held-out/v{v}-c{c:02}-{snr:.0}db.wav");
                std::fs::create_dir_all(out.join("held-out")).expect("create the output folder");
                write_wav(&out.join(&file), &mix_at_snr(&clean, snr, (v * 100 + c) as u32)).expect("write WAV");
                let _ = writeln!(index, "{file}\t{text}\t{}\t{snr}\t{has_phrase}", speaker.label());
                count += 1;
            }
        }
    }
    std::fs::write(out.join("index.tsv"), index).expect("write the index");
    println!("{}: {} enrolment recordings, {count} held-out clips", out.display(), ENROLMENT_VOICES.len());
}
