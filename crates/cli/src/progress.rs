//! Showing a transfer's progress: bars on a terminal (indicatif), plain lines when not, one
//! JSON object per event with `--progress=json`, or nothing with `--quiet`. Everything goes to
//! standard error; standard output is left to the command's result.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

use gantry_reference::Digest;
use gantry_transfer::{ProgressEvent, ProgressSink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::args::{GlobalOptions, ProgressMode};
use crate::output::human_size;

/// The mode `global` asks for, with `auto` decided by whether standard error is a terminal.
pub(crate) fn mode(global: &GlobalOptions) -> ProgressMode {
    if global.quiet {
        return ProgressMode::None;
    }
    match global.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bars,
        ProgressMode::Auto => ProgressMode::Plain,
        mode => mode,
    }
}

/// A sink that renders every event as `mode` says.
pub(crate) fn sink(mode: ProgressMode) -> ProgressSink {
    match mode {
        ProgressMode::None => ProgressSink::none(),
        ProgressMode::Json => ProgressSink::new(|event| write_line(&event_json(event).to_string())),
        ProgressMode::Plain | ProgressMode::Auto => ProgressSink::new(|event| {
            if let Some(line) = plain_line(event) {
                write_line(&line);
            }
        }),
        ProgressMode::Bars => {
            let bars = Arc::new(Bars::new(ProgressDrawTarget::stderr()));
            ProgressSink::new(move |event| bars.show(event))
        }
    }
}

/// One line on standard error, whole.
fn write_line(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// The first 12 hex digits of a digest, as people read them.
fn short(digest: &Digest) -> String {
    let encoded = digest.encoded();
    encoded.get(..12).unwrap_or(encoded).to_owned()
}

/// An event as one JSON object: `event` names it in snake case, the other fields are its own.
pub(crate) fn event_json(event: &ProgressEvent) -> Value {
    match event {
        ProgressEvent::Waiting { digest, size } => {
            json!({"event": "waiting", "digest": digest.to_string(), "size": size})
        }
        ProgressEvent::Skipped { digest, size } => {
            json!({"event": "skipped", "digest": digest.to_string(), "size": size})
        }
        ProgressEvent::Mounted { digest, size, from } => json!({
            "event": "mounted", "digest": digest.to_string(), "size": size, "from": from,
        }),
        ProgressEvent::Transferring { digest, done, size } => json!({
            "event": "transferring", "digest": digest.to_string(), "done": done, "size": size,
        }),
        ProgressEvent::Verifying { digest } => {
            json!({"event": "verifying", "digest": digest.to_string()})
        }
        ProgressEvent::Retrying {
            digest,
            attempt,
            after,
            offset,
            reason,
        } => json!({
            "event": "retrying",
            "digest": digest.to_string(),
            "attempt": attempt,
            "after_ms": u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            "offset": offset,
            "reason": reason,
        }),
        ProgressEvent::Done { digest, size } => {
            json!({"event": "done", "digest": digest.to_string(), "size": size})
        }
        ProgressEvent::ManifestWritten { digest, media_type } => json!({
            "event": "manifest_written", "digest": digest.to_string(), "media_type": media_type,
        }),
        other => json!({"event": "other", "detail": format!("{other:?}")}),
    }
}

/// The line for an event that ends a step or goes wrong; `None` for steps in between.
pub(crate) fn plain_line(event: &ProgressEvent) -> Option<String> {
    Some(match event {
        ProgressEvent::Skipped { digest, size } => {
            format!(
                "blob {} ({}): already there",
                short(digest),
                human_size(*size)
            )
        }
        ProgressEvent::Mounted { digest, size, from } => format!(
            "blob {} ({}): mounted from {from}",
            short(digest),
            human_size(*size)
        ),
        ProgressEvent::Retrying {
            digest,
            attempt,
            after,
            offset,
            reason,
        } => format!(
            "blob {}: attempt {attempt} in {after:?} from byte {offset}: {reason}",
            short(digest)
        ),
        ProgressEvent::Done { digest, size } => {
            format!("blob {} ({}): copied", short(digest), human_size(*size))
        }
        ProgressEvent::ManifestWritten { digest, media_type } => {
            format!("manifest {digest} ({media_type}): written")
        }
        _ => return None,
    })
}

/// One bar per blob under a `MultiProgress`, on standard error.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
    style: ProgressStyle,
}

impl Bars {
    fn new(target: ProgressDrawTarget) -> Bars {
        let style =
            ProgressStyle::with_template("{prefix} [{bar:30}] {bytes:>10}/{total_bytes:<10} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        Bars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::default(),
            style,
        }
    }

    /// The bar of `digest`, made when first seen.
    fn bar(&self, digest: &Digest, size: u64) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
        bars.entry(digest.clone())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(size));
                bar.set_style(self.style.clone());
                bar.set_prefix(short(digest));
                bar
            })
            .clone()
    }

    fn show(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Waiting { digest, size } => {
                self.bar(digest, *size).set_message("waiting")
            }
            ProgressEvent::Skipped { digest, size } => {
                let bar = self.bar(digest, *size);
                bar.set_position(*size);
                bar.finish_with_message("already there");
            }
            ProgressEvent::Mounted { digest, size, from } => {
                let bar = self.bar(digest, *size);
                bar.set_position(*size);
                bar.finish_with_message(format!("mounted from {from}"));
            }
            ProgressEvent::Transferring { digest, done, size } => {
                let bar = self.bar(digest, *size);
                bar.set_length(*size);
                bar.set_position(*done);
                bar.set_message("copying");
            }
            ProgressEvent::Verifying { digest } => self.bar(digest, 0).set_message("verifying"),
            ProgressEvent::Retrying {
                digest, attempt, ..
            } => self
                .bar(digest, 0)
                .set_message(format!("retrying (attempt {attempt})")),
            ProgressEvent::Done { digest, size } => {
                let bar = self.bar(digest, *size);
                bar.set_position(*size);
                bar.finish_with_message("copied");
            }
            other => {
                if let Some(line) = plain_line(other) {
                    let _ = self.multi.println(line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_follow_each_blob_to_its_end() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        let copied = Digest::of(gantry_reference::Algorithm::Sha256, b"copied");
        let skipped = Digest::of(gantry_reference::Algorithm::Sha256, b"skipped");
        for event in [
            ProgressEvent::Waiting {
                digest: copied.clone(),
                size: 10,
            },
            ProgressEvent::Transferring {
                digest: copied.clone(),
                done: 4,
                size: 10,
            },
            ProgressEvent::Verifying {
                digest: copied.clone(),
            },
            ProgressEvent::Done {
                digest: copied.clone(),
                size: 10,
            },
            ProgressEvent::Skipped {
                digest: skipped.clone(),
                size: 3,
            },
        ] {
            bars.show(&event);
        }
        let copied_bar = bars.bar(&copied, 0);
        assert!(copied_bar.is_finished());
        assert_eq!(copied_bar.position(), 10);
        assert_eq!(copied_bar.message(), "copied");
        assert_eq!(bars.bar(&skipped, 0).message(), "already there");
    }

    #[test]
    fn events_become_json_objects_and_lines() {
        let digest = Digest::of(gantry_reference::Algorithm::Sha256, b"x");
        let done = ProgressEvent::Done {
            digest: digest.clone(),
            size: 2048,
        };
        let object = event_json(&done);
        assert_eq!(object["event"], "done");
        assert_eq!(object["digest"], digest.to_string());
        assert_eq!(object["size"], 2048);
        assert_eq!(
            plain_line(&done).as_deref(),
            Some(format!("blob {} (2.0 KiB): copied", &digest.encoded()[..12]).as_str())
        );
        let moving = ProgressEvent::Transferring {
            digest,
            done: 1,
            size: 2,
        };
        assert_eq!(event_json(&moving)["done"], 1);
        assert!(
            plain_line(&moving).is_none(),
            "steps in between make no line"
        );
    }
}
