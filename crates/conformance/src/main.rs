//! `gantry-conformance`: runs the OCI conformance workflows against a registry URL, prints one
//! line per check, optionally writes JUnit XML, and exits 0 only when the failures are exactly
//! those of the expected-failures list (no list: no failures).

use std::path::PathBuf;
use std::process::ExitCode;

use gantry_conformance::{Config, Credentials, ExpectedFailures, Workflow, run, to_junit};

const USAGE: &str = "\
Usage: gantry-conformance --url URL [options]

Options:
  --url URL                  the registry's base URL, e.g. http://127.0.0.1:5000
  --namespace NAME           repository to push to (default conformance/test)
  --cross-mount-namespace N  repository to mount from (default conformance/other)
  --workflows a,b            workflows to run (default all): pull, push, discovery, management,
                             referrers, range, sha512, bad-digests, indexes
  --expected-failures FILE   the known failures, one `id # reason` per line
  --junit FILE               also write JUnit XML to FILE
  --allow-delete-unsupported accept 405 UNSUPPORTED from the delete checks
  --username U               Basic credentials (the password is read from
                             GANTRY_CONFORMANCE_PASSWORD)
";

struct Args {
    config: Config,
    expected: Option<PathBuf>,
    junit: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut namespace = None;
    let mut cross = None;
    let mut workflows = None;
    let mut expected = None;
    let mut junit = None;
    let mut username = None;
    let mut delete_unsupported = false;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--namespace" => namespace = Some(value()?),
            "--cross-mount-namespace" => cross = Some(value()?),
            "--workflows" => workflows = Some(value()?),
            "--expected-failures" => expected = Some(PathBuf::from(value()?)),
            "--junit" => junit = Some(PathBuf::from(value()?)),
            "--username" => username = Some(value()?),
            "--allow-delete-unsupported" => delete_unsupported = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let mut config = Config::new(url.ok_or("--url is required")?);
    if let Some(namespace) = namespace {
        config.namespace = namespace;
    }
    if let Some(cross) = cross {
        config.cross_mount_namespace = cross;
    }
    if let Some(list) = workflows {
        config.workflows = Workflow::parse_list(&list).map_err(|e| e.to_string())?;
    }
    if let Some(username) = username {
        config.credentials = Some(Credentials {
            username,
            password: std::env::var("GANTRY_CONFORMANCE_PASSWORD").unwrap_or_default(),
        });
    }
    config.delete_may_be_unsupported = delete_unsupported;
    Ok(Args {
        config,
        expected,
        junit,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("gantry-conformance: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let expected = match &args.expected {
        Some(path) => match ExpectedFailures::load(path) {
            Ok(list) => list,
            Err(error) => {
                eprintln!("gantry-conformance: {error}");
                return ExitCode::from(2);
            }
        },
        None => ExpectedFailures::default(),
    };
    let report = match run(&args.config) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("gantry-conformance: {error}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.summary());
    if let Some(path) = &args.junit
        && let Err(error) = std::fs::write(path, to_junit(&report))
    {
        eprintln!("gantry-conformance: writing {}: {error}", path.display());
        return ExitCode::from(2);
    }
    let ratchet = expected.compare(&report);
    let listed = report.failed().filter(|c| expected.contains(&c.id)).count();
    if ratchet.holds() {
        println!("conformance: as expected ({listed} known failures listed)");
        ExitCode::SUCCESS
    } else {
        eprint!("{}", ratchet.explain());
        eprintln!("conformance: the failures differ from the expected-failures list");
        ExitCode::FAILURE
    }
}
