//! AWS shared profile files, which `object_store` does not read: the access key from
//! `~/.aws/credentials` and the region from `~/.aws/config`, for the profile `AWS_PROFILE` names
//! (`default` otherwise), as the AWS tools find them when the environment has no key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::options::S3Credentials;

/// What a profile gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Profile {
    /// The access key and secret, with the session token when there is one.
    pub(super) credentials: Option<(S3Credentials, Option<String>)>,
    /// The region.
    pub(super) region: Option<String>,
}

/// The profile the environment names, read from the files the environment points at (or
/// `~/.aws/credentials` and `~/.aws/config`). Files that are missing or unreadable give
/// nothing.
pub(super) fn from_environment() -> Profile {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let name = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let home = var("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        var(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".aws").join(default)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config = file("AWS_CONFIG_FILE", "config");
    read(&name, credentials.as_deref(), config.as_deref())
}

/// The profile `name` from a credentials file and a config file.
fn read(name: &str, credentials: Option<&Path>, config: Option<&Path>) -> Profile {
    let load = |path: Option<&Path>| {
        path.and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| sections(&text))
            .unwrap_or_default()
    };
    let credentials = load(credentials);
    let config = load(config);
    // The config file names profiles `[profile NAME]`, but `[default]` plainly.
    let config_section = if name == "default" {
        "default".to_owned()
    } else {
        format!("profile {name}")
    };
    let config = config.get(&config_section);
    let keys = credentials
        .get(name)
        .filter(|section| section.contains_key("aws_access_key_id"))
        .or(config);
    let access = keys.and_then(|section| {
        let id = section.get("aws_access_key_id")?;
        let secret = section.get("aws_secret_access_key")?;
        let token = section.get("aws_session_token").cloned();
        Some((S3Credentials::new(id.clone(), secret.clone()), token))
    });
    Profile {
        credentials: access,
        region: config.and_then(|section| section.get("region").cloned()),
    }
}

/// The sections of an INI file: `[name]` headers, `key = value` lines, `#` and `;` comments.
fn sections(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            current = Some(header.clone());
            sections.entry(header).or_default();
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_read_from_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &credentials,
            "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key=SDEFAULT\n\n\
             [ci]\naws_access_key_id = AKCI\naws_secret_access_key = SCI\naws_session_token = T\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n; other\n[profile ci]\nregion = eu-north-1\n\
             [profile only-config]\naws_access_key_id = AKCONF\naws_secret_access_key = SCONF\n",
        )
        .unwrap();

        let default = read("default", Some(&credentials), Some(&config));
        assert_eq!(
            default.credentials,
            Some((S3Credentials::new("AKDEFAULT", "SDEFAULT"), None))
        );
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        let ci = read("ci", Some(&credentials), Some(&config));
        assert_eq!(
            ci.credentials,
            Some((S3Credentials::new("AKCI", "SCI"), Some("T".to_owned())))
        );
        assert_eq!(ci.region.as_deref(), Some("eu-north-1"));
        let config_only = read("only-config", Some(&credentials), Some(&config));
        assert_eq!(
            config_only.credentials,
            Some((S3Credentials::new("AKCONF", "SCONF"), None))
        );
        assert_eq!(
            read("missing", Some(&credentials), Some(&config)),
            Profile::default()
        );
        assert_eq!(read("default", None, None), Profile::default());
    }
}
