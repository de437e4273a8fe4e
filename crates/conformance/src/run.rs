//! The runner: a context shared by a run's checks, and the loop over the workflows.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::http::{Http, Reason};
use crate::report::{Check, Outcome, Report};
use crate::workflows;
use crate::{Config, ConformanceError, Workflow};

/// What every check of a run shares: the client, the configuration, fresh content, and the
/// report being written.
pub(crate) struct Ctx<'a> {
    pub(crate) http: Http,
    pub(crate) config: &'a Config,
    /// Distinguishes this run's tags from those of earlier runs against the same registry.
    pub(crate) run_id: String,
    rng: u64,
    workflow: Workflow,
    checks: Vec<Check>,
}

impl Ctx<'_> {
    /// Runs one check, `<workflow>/<name>`, timing it and recording its outcome.
    pub(crate) fn check(&mut self, name: &str, body: impl FnOnce(&mut Self) -> Result<(), Reason>) {
        let started = Instant::now();
        let outcome = match body(self) {
            Ok(()) => Outcome::Pass,
            Err(reason) => Outcome::Fail { reason },
        };
        self.checks.push(Check {
            id: format!("{}/{name}", self.workflow.name()),
            workflow: self.workflow,
            outcome,
            duration: started.elapsed(),
        });
    }

    /// The repository the checks use.
    pub(crate) fn name(&self) -> &str {
        &self.config.namespace
    }

    /// `len` pseudo-random bytes, different in every run, so blobs are new to the registry.
    pub(crate) fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// A tag unique to this run, starting with `prefix`.
    pub(crate) fn tag(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.run_id)
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: plenty for unique test content; nothing here needs to be unpredictable.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs the workflows of `config` against its registry and reports every check.
///
/// Only a URL that cannot be used is an error; whatever the registry answers is a check's
/// outcome.
pub fn run(config: &Config) -> Result<Report, ConformanceError> {
    let http = Http::new(config)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32) | 1;
    let mut ctx = Ctx {
        http,
        config,
        run_id: format!("{:08x}", (seed >> 8) as u32),
        rng: seed,
        workflow: Workflow::Pull,
        checks: Vec::new(),
    };
    for &workflow in &config.workflows {
        ctx.workflow = workflow;
        match workflow {
            Workflow::Pull => workflows::pull::run(&mut ctx),
            Workflow::Push => workflows::push::run(&mut ctx),
            Workflow::Discovery => workflows::discovery::run(&mut ctx),
            Workflow::Management => workflows::management::run(&mut ctx),
            Workflow::Referrers => workflows::referrers::run(&mut ctx),
            Workflow::Range => workflows::range::run(&mut ctx),
            Workflow::Sha512 => workflows::sha512::run(&mut ctx),
            Workflow::BadDigests => workflows::bad_digests::run(&mut ctx),
            Workflow::Indexes => workflows::indexes::run(&mut ctx),
        }
    }
    Ok(Report {
        url: config.url.clone(),
        checks: ctx.checks,
    })
}
