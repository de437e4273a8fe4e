//! Platforms (`os/architecture/variant`): parsing, normalisation to the names Go and the OCI
//! image-spec use, the host's platform, and choosing the best entry of an index for a platform.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;
use crate::{Descriptor, SpecError};

/// The platform an image runs on, as in an index entry's `platform` field and an image config.
///
/// Names are those of Go's `GOOS` and `GOARCH` (`linux`, `amd64`, `arm64`...). Values read from
/// documents are kept as written; [`Platform::normalized`] gives the canonical spelling, and
/// matching always compares normalised values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Platform {
    /// The CPU architecture, such as `amd64` or `arm64`.
    pub architecture: String,
    /// The operating system, such as `linux` or `windows`.
    pub os: String,
    /// The operating system version, such as `10.0.20348.2227` on Windows.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Operating system features the image requires, such as `win32k`.
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// The CPU variant, such as `v7` for `arm` or `v8` for `arm64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform with just an operating system and an architecture, as given.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Platform {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            os_version: None,
            os_features: Vec::new(),
            variant: None,
        }
    }

    /// The same platform with `variant` set.
    pub fn with_variant(mut self, variant: impl Into<String>) -> Platform {
        self.variant = Some(variant.into());
        self
    }

    /// Parses `os`, `os/arch` or `os/arch/variant`, and normalises the result.
    ///
    /// A single part that names a known architecture rather than an operating system takes the
    /// host's operating system, and a known operating system alone takes the host's architecture,
    /// as `containerd` does.
    ///
    /// ```
    /// use gantry_spec::Platform;
    ///
    /// let arm = Platform::parse("linux/aarch64")?;
    /// assert_eq!(arm.to_string(), "linux/arm64/v8");
    /// assert_eq!(Platform::parse("linux/armhf")?.to_string(), "linux/arm/v7");
    /// assert!(Platform::parse("linux//v7").is_err());
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn parse(specifier: &str) -> Result<Platform, SpecError> {
        let invalid = || SpecError::InvalidPlatform {
            value: specifier.to_owned(),
        };
        let parts: Vec<&str> = specifier.split('/').collect();
        let well_formed = parts.len() <= 3
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            });
        if !well_formed {
            return Err(invalid());
        }
        let platform = match parts.as_slice() {
            [single] => {
                let host = Platform::host();
                let os = normalize_os(single);
                if is_known_os(&os) {
                    Platform { os, ..host }
                } else {
                    let (architecture, variant) = normalize_arch(single, None);
                    if !is_known_arch(&architecture) {
                        return Err(invalid());
                    }
                    Platform {
                        architecture,
                        variant,
                        ..Platform::new(host.os, "")
                    }
                }
            }
            [os, architecture] => Platform::new(*os, *architecture),
            [os, architecture, variant] => Platform::new(*os, *architecture).with_variant(*variant),
            _ => return Err(invalid()),
        };
        Ok(platform.normalized())
    }

    /// The platform this program was built for, normalised.
    pub fn host() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let little_endian = cfg!(target_endian = "little");
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "loongarch64" => "loong64",
            "powerpc" => "ppc",
            "powerpc64" if little_endian => "ppc64le",
            "powerpc64" => "ppc64",
            "mips" if little_endian => "mipsle",
            "mips64" if little_endian => "mips64le",
            other => other,
        };
        Platform::new(os, architecture).normalized()
    }

    /// The canonical spelling: lower case, Go's names (`x86_64` is `amd64`, `aarch64` is `arm64`,
    /// `armhf` is `arm/v7`, `i386` is `386`, `macos` is `darwin`), and the default variants
    /// spelled out (`arm` is `arm/v7`, `arm64` is `arm64/v8`) or dropped (`amd64/v1` is `amd64`).
    pub fn normalized(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, self.variant.as_deref());
        Platform {
            architecture,
            os: normalize_os(&self.os),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            variant,
        }
    }

    /// True when an image built for `candidate` runs on this platform.
    ///
    /// ```
    /// use gantry_spec::Platform;
    ///
    /// let host = Platform::parse("linux/arm/v7")?;
    /// assert!(host.matches(&Platform::parse("linux/arm/v6")?));
    /// assert!(!host.matches(&Platform::parse("linux/arm64")?));
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.match_rank(candidate).is_some()
    }

    /// How well `candidate` suits this platform: `Some(0)` for an exact match, larger numbers for
    /// older but compatible variants (`arm/v6` on `arm/v7`, `amd64/v2` on `amd64/v3`, `386` on
    /// `amd64`), `None` when an image for `candidate` does not run here.
    ///
    /// Operating systems must be equal; when both sides name an `os.version`, its first three
    /// dot-separated parts (Windows' major, minor and build) must be equal too. `os.features`
    /// are not compared.
    pub fn match_rank(&self, candidate: &Platform) -> Option<usize> {
        let wanted = self.normalized();
        let candidate = candidate.normalized();
        if wanted.os != candidate.os {
            return None;
        }
        if let (Some(wanted_version), Some(candidate_version)) =
            (&wanted.os_version, &candidate.os_version)
            && os_build(wanted_version) != os_build(candidate_version)
        {
            return None;
        }
        wanted
            .compatible_architectures()
            .iter()
            .position(|(architecture, variant)| {
                *architecture == candidate.architecture && *variant == candidate.variant
            })
    }

    /// The entry of an index that best suits this platform: the lowest
    /// [`match_rank`](Self::match_rank), the first in order among equals. Entries without a
    /// `platform` never match.
    pub fn best_match<'a, I>(&self, entries: I) -> Option<&'a Descriptor>
    where
        I: IntoIterator<Item = &'a Descriptor>,
    {
        let mut best: Option<(usize, &'a Descriptor)> = None;
        for entry in entries {
            let Some(rank) = entry
                .platform
                .as_ref()
                .and_then(|platform| self.match_rank(platform))
            else {
                continue;
            };
            if best.is_none_or(|(best_rank, _)| rank < best_rank) {
                best = Some((rank, entry));
            }
        }
        best.map(|(_, entry)| entry)
    }

    /// The architectures and variants whose images run on this (normalised) platform, best first.
    fn compatible_architectures(&self) -> Vec<(String, Option<String>)> {
        let variant_number = self
            .variant
            .as_deref()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|n| n.parse::<u32>().ok());
        let same = (self.architecture.clone(), self.variant.clone());
        let versions = |arch: &str, from: u32, down_to: u32| -> Vec<(String, Option<String>)> {
            (down_to..=from)
                .rev()
                .map(|n| (arch.to_owned(), Some(format!("v{n}"))))
                .collect()
        };
        match self.architecture.as_str() {
            "amd64" => {
                // amd64 without a variant is v1, and is spelled without one.
                let mut all = vec![same];
                if let Some(n) = variant_number.filter(|&n| n > 1) {
                    all.extend(versions("amd64", n - 1, 2));
                    all.push(("amd64".to_owned(), None));
                }
                all.push(("386".to_owned(), None));
                all
            }
            "arm" => match variant_number.filter(|&n| n > 5) {
                Some(n) => {
                    let mut all = vec![same];
                    all.extend(versions("arm", n - 1, 5));
                    all
                }
                None => vec![same],
            },
            "arm64" => {
                let mut all = vec![same];
                if let Some(n) = variant_number.filter(|&n| n > 8) {
                    all.extend(versions("arm64", n - 1, 8));
                }
                if variant_number.is_some() {
                    all.extend(versions("arm", 8, 5));
                }
                all
            }
            _ => vec![same],
        }
    }
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = SpecError;

    fn from_str(specifier: &str) -> Result<Platform, SpecError> {
        Platform::parse(specifier)
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    match os.as_str() {
        "macos" => "darwin".to_owned(),
        _ => os,
    }
}

fn normalize_arch(architecture: &str, variant: Option<&str>) -> (String, Option<String>) {
    let architecture = architecture.to_ascii_lowercase();
    let variant = variant
        .map(str::to_ascii_lowercase)
        .filter(|v| !v.is_empty());
    let owned = |s: &str| Some(s.to_owned());
    match architecture.as_str() {
        "i386" | "i686" | "x86" | "386" => ("386".to_owned(), None),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = variant.filter(|v| v != "v1");
            ("amd64".to_owned(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_deref() {
                None | Some("8" | "v8" | "v8.0") => owned("v8"),
                Some("9" | "9.0" | "v9.0") => owned("v9"),
                Some(_) => variant,
            };
            ("arm64".to_owned(), variant)
        }
        "armhf" => ("arm".to_owned(), owned("v7")),
        "armel" => ("arm".to_owned(), owned("v6")),
        "arm" => {
            let variant = match variant.as_deref() {
                None | Some("7") => owned("v7"),
                Some(n @ ("5" | "6" | "8")) => Some(format!("v{n}")),
                Some(_) => variant,
            };
            ("arm".to_owned(), variant)
        }
        "ppc64el" => ("ppc64le".to_owned(), variant),
        _ => (architecture, variant),
    }
}

fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "wasip1"
            | "windows"
    )
}

fn is_known_arch(architecture: &str) -> bool {
    matches!(
        architecture,
        "386"
            | "amd64"
            | "arm"
            | "arm64"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "ppc64"
            | "ppc64le"
            | "riscv64"
            | "s390x"
            | "wasm"
    )
}

/// The first three dot-separated parts of an OS version: Windows' major, minor and build.
fn os_build(version: &str) -> Vec<&str> {
    version.split('.').take(3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_like_containerd() {
        let cases: &[(&str, &str)] = &[
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("Linux/X86-64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/aarch64", "linux/arm64/v8"),
            ("linux/arm64", "linux/arm64/v8"),
            ("linux/arm64/8", "linux/arm64/v8"),
            ("linux/arm64/v8.0", "linux/arm64/v8"),
            ("linux/arm64/9.0", "linux/arm64/v9"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/5", "linux/arm/v5"),
            ("linux/i386", "linux/386"),
            ("linux/ppc64el", "linux/ppc64le"),
            ("macos/arm64", "darwin/arm64/v8"),
            ("windows/amd64", "windows/amd64"),
            ("linux/riscv64", "linux/riscv64"),
        ];
        for &(input, expected) in cases {
            let platform = Platform::parse(input).unwrap();
            assert_eq!(platform.to_string(), expected, "{input}");
        }
    }

    #[test]
    fn parse_rejects_malformed_specifiers() {
        for input in [
            "",
            "/",
            "linux/",
            "/amd64",
            "linux//v7",
            "linux/arm/v7/extra",
            "linux/am d64",
            "notanos",
        ] {
            assert!(
                matches!(
                    Platform::parse(input),
                    Err(SpecError::InvalidPlatform { .. })
                ),
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_single_part_fills_in_from_the_host() {
        let host = Platform::host();
        let linux = Platform::parse("linux").unwrap();
        assert_eq!(linux.os, "linux");
        assert_eq!(linux.architecture, host.architecture);
        let arm64 = Platform::parse("aarch64").unwrap();
        assert_eq!(arm64.os, host.os);
        assert_eq!(arm64.architecture, "arm64");
        assert_eq!(arm64.variant.as_deref(), Some("v8"));
    }

    #[test]
    fn the_host_is_normalised() {
        let host = Platform::host();
        assert_eq!(host, host.normalized());
        assert!(!host.os.is_empty() && !host.architecture.is_empty());
        assert!(host.matches(&host));
    }

    #[test]
    fn match_rank_prefers_the_exact_variant_then_older_ones() {
        // (wanted, candidate, rank)
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("linux/amd64", "linux/amd64", Some(0)),
            ("linux/amd64", "linux/x86_64", Some(0)),
            ("linux/amd64", "linux/386", Some(1)),
            ("linux/amd64", "linux/amd64/v2", None),
            ("linux/amd64/v3", "linux/amd64/v3", Some(0)),
            ("linux/amd64/v3", "linux/amd64/v2", Some(1)),
            ("linux/amd64/v3", "linux/amd64", Some(2)),
            ("linux/amd64/v3", "linux/amd64/v4", None),
            ("linux/amd64", "windows/amd64", None),
            ("linux/amd64", "linux/arm64", None),
            ("linux/arm/v7", "linux/arm/v7", Some(0)),
            ("linux/arm/v7", "linux/arm/v6", Some(1)),
            ("linux/arm/v7", "linux/arm/v5", Some(2)),
            ("linux/arm/v7", "linux/arm/v8", None),
            ("linux/arm/v6", "linux/arm/v7", None),
            ("linux/arm/v5", "linux/arm/v5", Some(0)),
            ("linux/arm64", "linux/aarch64", Some(0)),
            ("linux/arm64/v8", "linux/arm64", Some(0)),
            ("linux/arm64", "linux/arm/v7", Some(2)),
            ("linux/arm64/v9", "linux/arm64/v8", Some(1)),
            ("linux/arm64", "linux/arm64/v9", None),
            ("linux/s390x", "linux/s390x", Some(0)),
        ];
        for &(wanted, candidate, rank) in cases {
            let wanted_platform = Platform::parse(wanted).unwrap();
            let candidate_platform = Platform::parse(candidate).unwrap();
            assert_eq!(
                wanted_platform.match_rank(&candidate_platform),
                rank,
                "{wanted} running {candidate}"
            );
        }
    }

    #[test]
    fn windows_matches_on_the_build_number() {
        let mut wanted = Platform::new("windows", "amd64");
        wanted.os_version = Some("10.0.20348.2227".to_owned());
        let mut same_build = Platform::new("windows", "amd64");
        same_build.os_version = Some("10.0.20348.1000".to_owned());
        let mut other_build = Platform::new("windows", "amd64");
        other_build.os_version = Some("10.0.17763.5329".to_owned());
        assert!(wanted.matches(&same_build));
        assert!(!wanted.matches(&other_build));
        assert!(wanted.matches(&Platform::new("windows", "amd64")));
    }

    #[test]
    fn serde_uses_the_dotted_field_names() {
        let json = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"],"variant":"v2"}"#;
        let platform: Platform = serde_json::from_str(json).unwrap();
        assert_eq!(platform.os_version.as_deref(), Some("10.0.17763.1"));
        assert_eq!(platform.os_features, ["win32k"]);
        assert_eq!(serde_json::to_string(&platform).unwrap(), json);
        let with_null: Platform =
            serde_json::from_str(r#"{"architecture":"arm","os":"linux","os.features":null}"#)
                .unwrap();
        assert!(with_null.os_features.is_empty());
    }
}
