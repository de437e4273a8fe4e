//! What a failure means to the user: the message, a hint with the likely fix, and the exit
//! code (the table is in `docs/cli.md`).

use std::borrow::Cow;
use std::fmt;
use std::process::ExitCode;

use gantry_client::ClientError;
use gantry_transfer::TransferError;

/// The exit codes, by what went wrong. Usage errors found by the argument parser exit with 2
/// too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Any other failure.
    Generic = 1,
    /// What was typed is not valid: a malformed reference, a missing argument.
    Usage = 2,
    /// The registry or the local store does not have what was asked for.
    NotFound = 3,
    /// The registry refused the credentials, or wants some.
    Auth = 4,
    /// The registry could not be reached or spoken to: refused connections, timeouts, TLS
    /// failures, rate limiting that outlasted the retries.
    Network = 5,
}

/// A mistake in what the user typed, found after the argument parser accepted it.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error with `message`, as an `anyhow::Error`.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Prints `error` (with its causes) and a hint to standard error, and returns its exit code.
pub(crate) fn report(error: &anyhow::Error) -> ExitCode {
    let (failure, hint) = classify(error);
    eprintln!("error: {error:#}");
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(failure as u8)
}

/// The kind of `error` and the hint that goes with it, from the first cause that says.
pub(crate) fn classify(error: &anyhow::Error) -> (Failure, Option<Cow<'static, str>>) {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return (Failure::Usage, None);
        }
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return with_wait(classify_client(client), client);
        }
        if let Some(transfer) = cause.downcast_ref::<TransferError>() {
            let (failure, hint) = classify_transfer(transfer);
            return match transfer {
                TransferError::Client(client) => with_wait((failure, hint), client),
                _ => (failure, hint.map(Cow::Borrowed)),
            };
        }
    }
    (Failure::Generic, None)
}

/// A client error's hint, with the wait the registry asked for when it rate-limits.
fn with_wait(
    (failure, hint): (Failure, Option<&'static str>),
    error: &ClientError,
) -> (Failure, Option<Cow<'static, str>>) {
    match (error.status(), error.retry_after()) {
        (Some(429), Some(wait)) => (
            failure,
            Some(Cow::Owned(format!(
                "the registry is rate-limiting requests (429 Too Many Requests) and the retries \
                 ran out: it asks to wait {} before trying again; logged-in users often get a \
                 higher limit",
                describe_wait(wait)
            ))),
        ),
        _ => (failure, hint.map(Cow::Borrowed)),
    }
}

/// A wait as people say it: `45 s`, `2 min 5 s`, `1 h 30 min`.
fn describe_wait(wait: std::time::Duration) -> String {
    let seconds = wait.as_secs().max(1);
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// What a transfer error means to the user; the client's errors inside it are read as such.
fn classify_transfer(error: &TransferError) -> (Failure, Option<&'static str>) {
    match error {
        TransferError::Client(client) => classify_client(client),
        TransferError::InvalidName { .. } => (Failure::Usage, None),
        TransferError::NotFound { .. } => (Failure::NotFound, None),
        TransferError::NoMatchingPlatform { .. } => (
            Failure::NotFound,
            Some("choose one of the platforms listed with --platform, or copy them all with --all"),
        ),
        TransferError::AmbiguousImage { .. } => (
            Failure::Usage,
            Some("name the image: oci:DIR:REF or docker-archive:FILE:REF"),
        ),
        _ => (Failure::Generic, None),
    }
}

/// What a registry client error means to the user.
fn classify_client(error: &ClientError) -> (Failure, Option<&'static str>) {
    if error.status() == Some(403) {
        return (
            Failure::Auth,
            Some(
                "the registry knows who you are but does not allow this: check the \
                 repository's permissions for your account",
            ),
        );
    }
    if error.is_auth() {
        return (
            Failure::Auth,
            Some(
                "the registry refused the credentials or wants some: run `gantry login \
                 REGISTRY`, or pass --creds USER:PASS (or --authfile FILE)",
            ),
        );
    }
    if error.is_not_found() {
        return (
            Failure::NotFound,
            Some(
                "check the repository name and the tag or digest; `gantry tags REPOSITORY` \
                 lists the tags",
            ),
        );
    }
    if error.status() == Some(429) {
        return (
            Failure::Network,
            Some(
                "the registry is rate-limiting requests (429 Too Many Requests) and the retries \
                 ran out: wait a few minutes before trying again; logged-in users often get a \
                 higher limit",
            ),
        );
    }
    if let ClientError::Transport { .. } = error {
        if is_tls_failure(error) {
            return (
                Failure::Network,
                Some(
                    "the TLS connection failed: if the registry uses a certificate of its own \
                     CA, add the CA with --ca-file FILE or --cert-dir DIR; if it serves plain \
                     HTTP or you accept the risk, use --tls-verify=false",
                ),
            );
        }
        return (
            Failure::Network,
            Some(
                "the registry could not be reached: check the host name and port, and that it \
                 is running",
            ),
        );
    }
    (Failure::Generic, None)
}

/// Whether a transport error is a TLS failure. The client marks those as not retryable; a
/// plain-HTTP server that received a TLS handshake shows as a corrupt message.
fn is_tls_failure(error: &ClientError) -> bool {
    if !error.is_retryable() {
        return true;
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        let text = cause.to_string().to_lowercase();
        if ["certificate", "tls", "handshake", "corrupt message"]
            .iter()
            .any(|word| text.contains(word))
        {
            return true;
        }
        current = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_found_under_context() {
        let error = usage("bad reference").context("while reading the arguments");
        assert_eq!(classify(&error).0, Failure::Usage);
        assert_eq!(classify(&anyhow::anyhow!("other")).0, Failure::Generic);
    }

    #[test]
    fn waits_read_as_people_say_them() {
        for (seconds, said) in [
            (0, "1 s"),
            (45, "45 s"),
            (120, "2 min"),
            (125, "2 min 5 s"),
            (3600, "1 h"),
            (5400, "1 h 30 min"),
        ] {
            assert_eq!(describe_wait(std::time::Duration::from_secs(seconds)), said);
        }
    }

    #[test]
    fn exit_codes_are_distinct() {
        let codes = [
            Failure::Generic,
            Failure::Usage,
            Failure::NotFound,
            Failure::Auth,
            Failure::Network,
        ]
        .map(|f| f as u8);
        for (i, code) in codes.iter().enumerate() {
            assert!(*code != 0);
            assert!(!codes[i + 1..].contains(code), "{code} is used twice");
        }
    }
}
