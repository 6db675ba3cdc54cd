//! whisper's mel filter bank, which the CTranslate2 package does not carry: the Slaney scale and
//! area normalisation, as librosa computes whisper's table.

/// The sample rate whisper hears, and its FFT size.
pub(super) const SAMPLE_RATE: f64 = 16_000.0;
pub(super) const N_FFT: usize = 400;

fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / log_step
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (log_step * (mel - min_log_mel)).exp()
    } else {
        mel * f_sp
    }
}

/// `n_mels` triangular filters over the `N_FFT / 2 + 1` FFT bins, row-major.
pub(super) fn mel_filters(n_mels: usize) -> Vec<f32> {
    let bins = N_FFT / 2 + 1;
    let nyquist = SAMPLE_RATE / 2.0;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * nyquist / (bins - 1) as f64).collect();
    let (low, high) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let mel_freqs: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(low + (high - low) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut filters = Vec::with_capacity(n_mels * bins);
    for m in 0..n_mels {
        let (left, centre, right) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
        let norm = 2.0 / (right - left);
        for &f in &fft_freqs {
            let rising = (f - left) / (centre - left);
            let falling = (right - f) / (right - centre);
            filters.push((rising.min(falling).max(0.0) * norm) as f32);
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mel_scale_round_trips_and_bends_at_one_kilohertz() {
        for hz in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn mel_filters_are_area_normalised_triangles_over_the_band() {
        let bins = N_FFT / 2 + 1;
        let filters = mel_filters(80);
        assert_eq!(filters.len(), 80 * bins);
        let bin_hz = SAMPLE_RATE / N_FFT as f64;
        for (m, filter) in filters.chunks(bins).enumerate() {
            assert!(filter.iter().all(|&w| w >= 0.0));
            // Slaney normalisation gives each triangle an area of one; the widest (upper)
            // filters are sampled finely enough by the 40 Hz bins to check it.
            if m >= 60 {
                let area: f64 = filter.iter().map(|&w| w as f64 * bin_hz).sum();
                assert!((area - 1.0).abs() < 0.05, "filter {m} area {area}");
            }
        }
        let peak = |m: usize| filters[m * bins..(m + 1) * bins].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert!((1..80).all(|m| peak(m) >= peak(m - 1)), "filters rise through the band");
        assert!(peak(79) > 180, "the last filter sits near Nyquist");
    }
}
