//! Peak memory of the running process, for the benchmarks that bound it: the resident set
//! before the work (`VmRSS`) against the peak over the run (`VmHWM`), from `/proc/self/status`.

use std::time::Instant;

/// A field of `/proc/self/status` (`VmRSS:`, `VmHWM:` …), in KiB. Panics if it is missing.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Whether `cargo bench -- <filter>` named another benchmark: its arguments are meant for
/// criterion, and a filter that does not name `bench` skips it.
pub fn filtered_out(bench: &str) -> bool {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    filter.is_some_and(|filter| !bench.contains(&filter))
}

/// The resident set and the clock when the measured work starts.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    kib: u64,
    started: Instant,
}

impl Baseline {
    /// Reads the resident set now.
    pub fn now() -> Baseline {
        Baseline {
            kib: status_kib("VmRSS:"),
            started: Instant::now(),
        }
    }

    /// Prints `bench: did … in N s; peak resident set …`, and exits with failure when the peak
    /// is `bound_mib` or more above the baseline.
    pub fn report(self, bench: &str, did: &str, bound_mib: u64) {
        let peak = status_kib("VmHWM:");
        let above_mib = peak.saturating_sub(self.kib) as f64 / 1024.0;
        println!(
            "{bench}: {did} in {:.1} s; peak resident set {:.1} MiB, {above_mib:.1} MiB above \
             the baseline of {:.1} MiB (bound: {bound_mib} MiB)",
            self.started.elapsed().as_secs_f64(),
            peak as f64 / 1024.0,
            self.kib as f64 / 1024.0,
        );
        if above_mib >= bound_mib as f64 {
            eprintln!("{bench}: peak memory above the bound");
            std::process::exit(1);
        }
    }
}
