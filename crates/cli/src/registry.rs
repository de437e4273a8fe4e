//! The registry client of a command, built from the global options for the registries the
//! command talks to: credentials, credential files, TLS material and `--insecure`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use gantry_client::{Client, ClientConfig, ClientError, Credential, CredentialSources};

use crate::args::GlobalOptions;
use crate::exit::usage;

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("gantry/", env!("CARGO_PKG_VERSION"));

/// A client for a command that talks to the registries `hosts` (as in references:
/// `localhost:5000`, `docker.io`).
pub(crate) async fn client_for(global: &GlobalOptions, hosts: &[&str]) -> anyhow::Result<Client> {
    client_with_overrides(global, hosts, &[]).await
}

/// [`client_for`], with credentials for some hosts given apart (`copy --src-creds`); they
/// win over `--creds`.
pub(crate) async fn client_with_overrides(
    global: &GlobalOptions,
    hosts: &[&str],
    overrides: &[(&str, Credential)],
) -> anyhow::Result<Client> {
    let mut config = base_config(global)?;
    if let Some(creds) = &global.creds {
        let credential = parse_creds(creds)?;
        for host in hosts {
            config = config.with_credential(*host, credential.clone());
        }
    }
    for (host, credential) in overrides {
        config = config.with_credential(*host, credential.clone());
    }
    finish(config, global, hosts).await
}

/// A client that presents `credential` to `host` and reads no credential file: what `login`
/// checks credentials with.
pub(crate) async fn client_with_credential(
    global: &GlobalOptions,
    host: &str,
    credential: Credential,
) -> anyhow::Result<Client> {
    let config = base_config(global)?
        .with_credential_sources(CredentialSources::None)
        .with_credential(host, credential);
    finish(config, global, &[host]).await
}

/// Decides HTTP or HTTPS for `hosts` and builds the client. A loopback registry gets plain
/// HTTP unless TLS options were given (`--ca-file`, `--cert-dir`, `--insecure`) and it speaks
/// HTTPS; with `--insecure`, another registry is an insecure host of the client, which tries
/// HTTPS without certificate checks and falls back to plain HTTP.
async fn finish(
    mut config: ClientConfig,
    global: &GlobalOptions,
    hosts: &[&str],
) -> anyhow::Result<Client> {
    let tls_options =
        global.is_insecure() || !global.ca_file.is_empty() || global.cert_dir.is_some();
    for host in hosts {
        let loopback = config.allows_plain_http(host) && !config.insecure_hosts.contains(*host);
        if loopback {
            if tls_options && speaks_https(&config, host).await {
                tracing::info!(%host, "loopback registry speaks HTTPS");
                config = config.with_https_host(*host);
            }
        } else if global.is_insecure() {
            // The client tries HTTPS without certificate checks, then plain HTTP.
            config = config.with_insecure_host(*host);
        }
    }
    Client::new(config).context("cannot set up the registry client")
}

/// Everything but credentials given on the command line and `--insecure`'s fallback.
pub(crate) fn base_config(global: &GlobalOptions) -> anyhow::Result<ClientConfig> {
    let default_retry = gantry_client::RetryPolicy::default();
    let mut config = ClientConfig::default()
        .with_user_agent(USER_AGENT)
        .with_retry(gantry_client::RetryPolicy::new(
            global.retry_times.saturating_add(1),
            default_retry.initial_backoff,
            default_retry.max_backoff,
        ));
    if let Some(authfile) = &global.authfile {
        config = config.with_credential_sources(CredentialSources::Files(vec![authfile.clone()]));
    }
    for file in &global.ca_file {
        config = config.with_ca_file(file);
    }
    if let Some(dir) = &global.cert_dir {
        add_cert_dir(&mut config, dir)?;
    }
    if global.is_insecure() {
        config.tls.accept_invalid_certificates = true;
    }
    Ok(config)
}

/// Reads `USER[:PASS]`; without a password, asks for it on the terminal.
pub(crate) fn parse_creds(creds: &str) -> anyhow::Result<Credential> {
    let (username, password) = match creds.split_once(':') {
        Some((username, password)) => (username.to_owned(), password.to_owned()),
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(usage(
                    "--creds has no password and standard input is not a terminal to ask \
                     on: write --creds USER:PASS",
                ));
            }
            let password =
                rpassword::prompt_password(format!("Password for {creds}: ")).map_err(|error| {
                    usage(format!(
                        "--creds has no password and none could be asked on a terminal \
                         ({error}): write --creds USER:PASS"
                    ))
                })?;
            (creds.to_owned(), password)
        }
    };
    if username.is_empty() {
        return Err(usage("--creds needs a user name: --creds USER:PASS"));
    }
    Ok(Credential::basic(username, password))
}

/// Trusts every `*.crt` in `dir` and presents `client.cert` with `client.key` if both are
/// there, as containers' certificate directories are laid out.
fn add_cert_dir(config: &mut ClientConfig, dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the certificate directory {}", dir.display()))?;
    let mut cas = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the certificate directory {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "crt") {
            cas.push(path);
        }
    }
    cas.sort();
    for ca in cas {
        config.tls.ca_files.push(ca);
    }
    let (cert, key) = (dir.join("client.cert"), dir.join("client.key"));
    if cert.is_file() && key.is_file() {
        config.tls.client_certificate = Some((cert, key));
    }
    Ok(())
}

/// Whether `host` answers over HTTPS: any answer counts (a 401 too), and so does a TLS
/// handshake that failed on the certificate, since the server does speak TLS (the command
/// then fails with the certificate error and its hint). Only a failure to connect or a
/// peer that is not TLS counts against it.
async fn speaks_https(config: &ClientConfig, host: &str) -> bool {
    let mut probe = config.clone().with_https_host(host);
    probe.retry = gantry_client::RetryPolicy::never();
    let Ok(client) = Client::new(probe) else {
        return false;
    };
    match client.ping(host).await {
        Ok(()) => true,
        Err(error @ ClientError::Transport { .. }) => mentions_certificate(&error),
        Err(_) => true,
    }
}

/// Whether `error` or one of its causes is about a certificate.
fn mentions_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(cause) = current {
        if cause.to_string().to_lowercase().contains("certificate") {
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
    fn creds_split_at_the_first_colon() {
        let credential = parse_creds("alice:pa:ss").expect("parses");
        assert_eq!(credential, Credential::basic("alice", "pa:ss"));
        assert!(parse_creds(":secret").is_err());
    }
}
