//! Where a transfer's time goes: the CPU time the registry, SeaweedFS and this process (the
//! client and the S3 relays) spent during it, from `/proc/PID/stat`, beside the wall time.

use std::time::Instant;

use anyhow::Context;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds spent by each party over one transfer, and its wall time.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Spent {
    pub(super) wall: f64,
    pub(super) registry: f64,
    pub(super) store: f64,
    pub(super) bench: f64,
}

/// The readings when a transfer started.
pub(super) struct Clock {
    registry: u32,
    store: Vec<u32>,
    started: Instant,
    at_start: [u64; 3],
}

impl Clock {
    /// Starts timing the registry process `registry` and the store's processes `store`.
    pub(super) fn start(registry: u32, store: Vec<u32>) -> anyhow::Result<Clock> {
        let mut clock = Clock {
            registry,
            store,
            started: Instant::now(),
            at_start: [0; 3],
        };
        clock.at_start = clock.read()?;
        Ok(clock)
    }

    /// What each spent since [`start`](Clock::start).
    pub(super) fn stop(&self) -> anyhow::Result<Spent> {
        let now = self.read()?;
        let seconds = |i: usize| now[i].saturating_sub(self.at_start[i]) as f64 / TICKS_PER_SECOND;
        Ok(Spent {
            wall: self.started.elapsed().as_secs_f64(),
            registry: seconds(0),
            store: seconds(1),
            bench: seconds(2),
        })
    }

    fn read(&self) -> anyhow::Result<[u64; 3]> {
        let mut store = 0;
        for &pid in &self.store {
            store += ticks(&pid.to_string())?;
        }
        Ok([ticks(&self.registry.to_string())?, store, ticks("self")?])
    }
}

/// User and system ticks of process `pid` (a number or `self`) so far.
fn ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The fields after the command name, which is in parentheses: state is field 3, utime 14
    // and stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("no command name in {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .with_context(|| format!("no field {n} in {path}"))?
            .parse()
            .with_context(|| format!("field {n} of {path}"))
    };
    Ok(field(14)? + field(15)?)
}
