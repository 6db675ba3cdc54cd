//! What the benchmarks share: percentiles, repeated timing, and this process's memory. The
//! benchmarks print figures and assert nothing; these are the few lines each would otherwise
//! write again.

use std::time::{Duration, Instant};

/// The `p` quantile (0 to 1) of `values`, the nearest sample; NaN when there are none.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize]
}

/// Durations as milliseconds, for [`percentile`].
pub fn millis(durations: &[Duration]) -> Vec<f64> {
    durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect()
}

/// Runs `f` once to warm up, then `runs` times; the time of each run in milliseconds.
pub fn time_ms(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

/// A `/proc/self/status` memory field in KiB (`VmRSS:` resident now, `VmHWM:` its peak); 0
/// where there is no such file.
pub fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_sample_and_leave_the_input_alone() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&values, 0.5), 3.0);
        assert_eq!(percentile(&values, 0.0), 1.0);
        assert_eq!(percentile(&values, 1.0), 5.0);
        assert_eq!(values[0], 5.0);
        assert!(percentile(&[], 0.5).is_nan());
        assert_eq!(millis(&[Duration::from_micros(1500)]), vec![1.5]);
    }

    #[test]
    fn this_process_has_resident_memory() {
        assert!(memory_kib("VmRSS:") > 0);
    }
}
