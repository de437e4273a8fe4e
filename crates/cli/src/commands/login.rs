//! `gantry login REGISTRY` and `gantry logout REGISTRY`: credentials checked against the
//! registry, then saved in Docker's `config.json` (or `--authfile`), or handed to the
//! credential helper the file configures.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use clap::Args;
use gantry_client::Credential;

use crate::args::GlobalOptions;
use crate::auth_store::{self, AuthFile};
use crate::exit::usage;
use crate::{registry, target};

/// Arguments of `gantry login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The registry, such as localhost:5000 or docker.io.
    #[arg(value_name = "REGISTRY")]
    registry: String,
    /// The user name (asked on the terminal when missing).
    #[arg(short, long)]
    username: Option<String>,
    /// The password, on the command line (visible to other users of the machine: prefer
    /// --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// Arguments of `gantry logout`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The registry, such as localhost:5000 or docker.io.
    #[arg(value_name = "REGISTRY")]
    registry: String,
}

/// Checks the credentials with a request to the registry, then saves them.
pub(crate) async fn login(args: LoginArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let host = target::registry_host(&args.registry)?;
    let username = match args.username {
        Some(username) => username,
        None => ask_username()?,
    };
    if username.is_empty() {
        return Err(usage("the user name is empty"));
    }
    let password = password(&args.password, args.password_stdin, &username, global.quiet)?;
    let credential = Credential::basic(username.clone(), password.clone());
    let client = registry::client_with_credential(global, &host, credential).await?;
    client
        .ping(&host)
        .await
        .with_context(|| format!("login to {host} failed"))?;

    let path = match &global.authfile {
        Some(path) => path.clone(),
        None => auth_store::default_path()?,
    };
    let mut file = AuthFile::load(&path)?;
    let saved_in = match file.helper_for(&host) {
        Some(helper) => {
            auth_store::helper_store(
                &helper,
                &auth_store::server_key(&host),
                &username,
                &password,
            )
            .await?;
            format!("the credential helper docker-credential-{helper}")
        }
        None => {
            file.set_auth(&host, &username, &password);
            file.save()?;
            file.path().display().to_string()
        }
    };
    if !global.quiet {
        println!("Login Succeeded: {host} (credentials saved in {saved_in})");
    }
    Ok(())
}

/// Removes the saved credentials of a registry from the file and its helper.
pub(crate) async fn logout(args: LogoutArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let host = target::registry_host(&args.registry)?;
    let path = match &global.authfile {
        Some(path) => path.clone(),
        None => auth_store::default_path()?,
    };
    let mut file = AuthFile::load(&path)?;
    let mut removed = false;
    if let Some(helper) = file.helper_for(&host) {
        removed |= auth_store::helper_erase(&helper, &auth_store::server_key(&host)).await?;
    }
    if file.remove_auth(&host) {
        file.save()?;
        removed = true;
    }
    if !global.quiet {
        if removed {
            println!("Removed the credentials of {host}");
        } else {
            println!("Not logged in to {host}");
        }
    }
    Ok(())
}

/// Asks for the user name on the terminal.
fn ask_username() -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(usage("no user name: give it with --username USER"));
    }
    eprint!("Username: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the user name")?;
    Ok(line.trim().to_owned())
}

/// The password from `--password`, standard input, or the terminal.
fn password(
    given: &Option<String>,
    from_stdin: bool,
    username: &str,
    quiet: bool,
) -> anyhow::Result<String> {
    if let Some(password) = given {
        if !quiet {
            eprintln!("warning: --password is visible to other users; prefer --password-stdin");
        }
        return Ok(password.clone());
    }
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        let password = text.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err(usage("--password-stdin read an empty password"));
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no password: give it with --password-stdin (or --password), or run on a terminal",
        ));
    }
    rpassword::prompt_password(format!("Password for {username}: ")).map_err(|error| {
        usage(format!(
            "no password: give it with --password-stdin (or --password), or run on a terminal \
             ({error})"
        ))
    })
}
