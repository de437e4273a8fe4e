//! Proxies: [`ProxyOptions`] in the configuration, and the rules that pick a proxy for each
//! request URL, from an explicit proxy or from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY` and their lower-case forms).
//!
//! The client decides itself rather than leaving the environment to the HTTP stack, so that
//! the rules are the ones Go's registry tools follow (Docker, containers/image, crane): upper
//! case before lower case, `HTTP_PROXY` ignored in a CGI process, loopback hosts never sent
//! to an environment's proxy, and `NO_PROXY` entries that are domains (with their subdomains),
//! `.domains` (subdomains only), IP addresses, CIDR blocks, any of those with a port, or `*`.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::error::ClientError;

/// Which proxy requests go through.
///
/// By default the environment decides (`HTTPS_PROXY` for `https` URLs, `HTTP_PROXY` for
/// `http` ones, `ALL_PROXY` for both, minus `NO_PROXY` and loopback hosts). An explicit
/// [`url`](ProxyOptions::url) overrides the environment, for every host but those of
/// [`no_proxy`](ProxyOptions::no_proxy), loopback hosts included. Credentials in a proxy URL
/// (`http://user:password@proxy:3128`) are sent as `Proxy-Authorization`, and kept out of
/// `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyOptions {
    /// A proxy for every request, `http://` or `https://` (a URL without a scheme is `http`).
    pub url: Option<String>,
    /// Hosts the explicit proxy is not used for, as `NO_PROXY` entries.
    pub no_proxy: Vec<String>,
    /// Whether the environment's proxy variables apply when no explicit proxy is set.
    pub use_environment: bool,
}

impl Default for ProxyOptions {
    fn default() -> ProxyOptions {
        ProxyOptions {
            url: None,
            no_proxy: Vec::new(),
            use_environment: true,
        }
    }
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("url", &self.url.as_deref().map(redact))
            .field("no_proxy", &self.no_proxy)
            .field("use_environment", &self.use_environment)
            .finish()
    }
}

/// A proxy URL with its password, if any, replaced.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if !userinfo.contains('/') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}{user}:<redacted>@{host}")
        }
        _ => url.to_owned(),
    }
}

/// The proxy rules a client applies to each request URL.
#[derive(Clone, Default)]
pub(crate) struct ProxyRules {
    http: Option<Url>,
    https: Option<Url>,
    no_proxy: NoProxy,
    /// Whether loopback hosts go direct whatever the rules say (the environment's rules).
    direct_loopback: bool,
}

impl fmt::Debug for ProxyRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyRules").finish_non_exhaustive()
    }
}

impl ProxyRules {
    /// The rules `options` set, reading the process environment when they say to.
    pub(crate) fn from_options(options: &ProxyOptions) -> Result<ProxyRules, ClientError> {
        if let Some(url) = &options.url {
            let proxy = parse_proxy_url(url).ok_or(ClientError::Config {
                what: "the proxy is not an http:// or https:// URL",
                source: None,
            })?;
            return Ok(ProxyRules {
                http: Some(proxy.clone()),
                https: Some(proxy),
                no_proxy: NoProxy::parse(&options.no_proxy.join(",")),
                direct_loopback: false,
            });
        }
        if options.use_environment {
            return Ok(ProxyRules::from_env_vars(|name| std::env::var(name).ok()));
        }
        Ok(ProxyRules::default())
    }

    /// The rules environment variables set, read through `var`: `HTTPS_PROXY`, `HTTP_PROXY`
    /// (not in a CGI process, where a request header could have set it: there only
    /// `http_proxy`), `ALL_PROXY` for what those leave unset, and `NO_PROXY`; upper case before
    /// lower case; empty values count as unset. A value that is not an HTTP proxy URL is
    /// ignored.
    pub(crate) fn from_env_vars(var: impl Fn(&str) -> Option<String>) -> ProxyRules {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|name| var(name))
                .find(|value| !value.trim().is_empty())
        };
        let cgi = var("REQUEST_METHOD").is_some();
        let all = first(&["ALL_PROXY", "all_proxy"]);
        let http = if cgi {
            first(&["http_proxy"])
        } else {
            first(&["HTTP_PROXY", "http_proxy"])
        };
        let https = first(&["HTTPS_PROXY", "https_proxy"]);
        let parse = |value: Option<String>| {
            let value = value?;
            let parsed = parse_proxy_url(&value);
            if parsed.is_none() {
                tracing::warn!(proxy = %redact(&value), "ignoring a proxy that is not an http:// or https:// URL");
            }
            parsed
        };
        ProxyRules {
            http: parse(http.or_else(|| all.clone())),
            https: parse(https.or(all)),
            no_proxy: NoProxy::parse(&first(&["NO_PROXY", "no_proxy"]).unwrap_or_default()),
            direct_loopback: true,
        }
    }

    /// Whether any request goes through a proxy.
    pub(crate) fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy for a request to `url`, if it goes through one.
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<Url> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        let host = Host::of(url)?;
        let port = url.port_or_known_default();
        if self.direct_loopback && is_loopback(&host) {
            return None;
        }
        if self.no_proxy.matches(&host, port) {
            return None;
        }
        Some(proxy.clone())
    }
}

/// A proxy URL: `http://` or `https://`, `http://` when the scheme is left out.
fn parse_proxy_url(value: &str) -> Option<Url> {
    let value = value.trim();
    let url = if value.contains("://") {
        Url::parse(value).ok()?
    } else {
        Url::parse(&format!("http://{value}")).ok()?
    };
    (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then_some(url)
}

/// A URL's host: an IP address or a lower-case domain name without a trailing dot.
enum Host {
    Ip(IpAddr),
    Domain(String),
}

impl Host {
    fn of(url: &Url) -> Option<Host> {
        let host = url.host_str()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Some(match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => {
                let name = bare.to_ascii_lowercase();
                Host::Domain(name.strip_suffix('.').unwrap_or(&name).to_owned())
            }
        })
    }
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Domain(name) => name == "localhost",
        Host::Ip(ip) => ip.is_loopback(),
    }
}

/// `NO_PROXY` entries.
#[derive(Clone, Debug, Default)]
struct NoProxy {
    everything: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
enum Entry {
    /// An address, or a block of them, with an optional port.
    Ip {
        ip: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
    /// A domain, lower case, with a leading dot; `exact` when the entry had no dot, so that
    /// the domain itself matches beside its subdomains.
    Domain {
        suffix: String,
        exact: bool,
        port: Option<u16>,
    },
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                no_proxy.everything = true;
                continue;
            }
            let entry = entry.to_ascii_lowercase();
            if let Some(parsed) = parse_ip_entry(&entry) {
                no_proxy.entries.push(parsed);
                continue;
            }
            let (name, port) = split_port(&entry);
            let name = name.strip_prefix('*').unwrap_or(name);
            if name.is_empty() || name == "." {
                continue;
            }
            let exact = !name.starts_with('.');
            let suffix = if exact {
                format!(".{name}")
            } else {
                name.to_owned()
            };
            no_proxy.entries.push(Entry::Domain {
                suffix,
                exact,
                port,
            });
        }
        no_proxy
    }

    fn matches(&self, host: &Host, port: Option<u16>) -> bool {
        if self.everything {
            return true;
        }
        let port_fits = |wanted: Option<u16>| wanted.is_none() || wanted == port;
        self.entries.iter().any(|entry| match (entry, host) {
            (
                &Entry::Ip {
                    ip: block,
                    prefix,
                    port: wanted,
                },
                &Host::Ip(ip),
            ) => port_fits(wanted) && in_block(ip, block, prefix),
            (
                Entry::Domain {
                    suffix,
                    exact,
                    port: wanted,
                },
                Host::Domain(name),
            ) => {
                port_fits(*wanted)
                    && (name.ends_with(suffix.as_str())
                        || (*exact && suffix.get(1..) == Some(name.as_str())))
            }
            _ => false,
        })
    }
}

/// `ip`, `ip/prefix`, `ip:port`, `[ipv6]` or `[ipv6]:port` as an entry.
fn parse_ip_entry(entry: &str) -> Option<Entry> {
    if let Some((address, prefix)) = entry.split_once('/') {
        let ip: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return (prefix <= max).then_some(Entry::Ip {
            ip,
            prefix,
            port: None,
        });
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(Entry::Ip {
            ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
            port: None,
        });
    }
    let (address, port) = split_port(entry);
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    let ip: IpAddr = address.parse().ok()?;
    Some(Entry::Ip {
        ip,
        prefix: if ip.is_ipv4() { 32 } else { 128 },
        port,
    })
}

/// `name:port` as (name, port); the whole of `entry` when it has no numeric port.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !name.ends_with(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Whether `ip` is in the block `block/prefix`.
fn in_block(ip: IpAddr, block: IpAddr, prefix: u8) -> bool {
    match (ip, block) {
        (IpAddr::V4(ip), IpAddr::V4(block)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(block) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(block)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(block) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyRules {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyRules::from_env_vars(|name| vars.get(name).cloned())
    }

    fn via(rules: &ProxyRules, url: &str) -> Option<String> {
        rules
            .proxy_for(&Url::parse(url).unwrap())
            .map(|proxy| proxy.to_string())
    }

    #[test]
    fn the_environment_picks_a_proxy_by_scheme() {
        let rules = env(&[
            ("HTTP_PROXY", "http://plain:3128"),
            ("https_proxy", "secure:3129"),
        ]);
        assert_eq!(
            via(&rules, "http://ghcr.io/v2/").as_deref(),
            Some("http://plain:3128/")
        );
        assert_eq!(
            via(&rules, "https://ghcr.io/v2/").as_deref(),
            Some("http://secure:3129/")
        );

        let rules = env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
        ]);
        assert_eq!(
            via(&rules, "https://ghcr.io/").as_deref(),
            Some("http://upper:1/")
        );

        let rules = env(&[("ALL_PROXY", "http://all:1"), ("HTTPS_PROXY", "")]);
        assert_eq!(
            via(&rules, "https://ghcr.io/").as_deref(),
            Some("http://all:1/")
        );
        assert_eq!(
            via(&rules, "http://ghcr.io/").as_deref(),
            Some("http://all:1/")
        );

        let cgi = env(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")]);
        assert!(cgi.is_empty(), "HTTP_PROXY is not trusted in a CGI process");
        let cgi = env(&[("REQUEST_METHOD", "GET"), ("http_proxy", "http://fine:1")]);
        assert_eq!(
            via(&cgi, "http://ghcr.io/").as_deref(),
            Some("http://fine:1/")
        );

        assert!(env(&[]).is_empty());
        assert!(env(&[("HTTPS_PROXY", "socks5://s:1080")]).is_empty());
    }

    #[test]
    fn no_proxy_and_loopback_go_direct() {
        let rules = env(&[
            ("HTTPS_PROXY", "http://p:1"),
            (
                "no_proxy",
                "example.com, .sub.org, 10.0.0.0/8, 192.168.1.7:5000, [fd00::1], lan:8443",
            ),
        ]);
        // URL, goes through the proxy
        let cases = [
            ("https://ghcr.io/", true),
            ("https://example.com/", false),
            ("https://EXAMPLE.com./", false),
            ("https://r.example.com/", false),
            ("https://notexample.com/", true),
            ("https://sub.org/", true),
            ("https://a.sub.org/", false),
            ("https://10.1.2.3/", false),
            ("https://11.1.2.3/", true),
            ("https://192.168.1.7:5000/", false),
            ("https://192.168.1.7:5001/", true),
            ("https://[fd00::1]:443/", false),
            ("https://[fd00::2]/", true),
            ("https://lan:8443/", false),
            ("https://lan/", true),
            ("https://localhost:5000/", false),
            ("https://127.0.0.1:5000/", false),
            ("https://[::1]:5000/", false),
        ];
        for (url, proxied) in cases {
            assert_eq!(via(&rules, url).is_some(), proxied, "{url}");
        }
        let everything = env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "*")]);
        assert!(via(&everything, "https://ghcr.io/").is_none());
    }

    #[test]
    fn an_explicit_proxy_overrides_the_environment_and_reaches_loopback() {
        let options = ProxyOptions {
            url: Some("http://user:pw@proxy.lan:3128".to_owned()),
            no_proxy: vec!["internal.lan".to_owned()],
            use_environment: true,
        };
        let rules = ProxyRules::from_options(&options).unwrap();
        assert_eq!(
            via(&rules, "http://127.0.0.1:5000/v2/").as_deref(),
            Some("http://user:pw@proxy.lan:3128/")
        );
        assert!(via(&rules, "https://ghcr.io/").is_some());
        assert!(via(&rules, "https://r.internal.lan/").is_none());
        assert!(!format!("{options:?}").contains("pw"), "{options:?}");

        let off = ProxyOptions {
            use_environment: false,
            ..ProxyOptions::default()
        };
        assert!(ProxyRules::from_options(&off).unwrap().is_empty());
        let bad = ProxyOptions {
            url: Some("socks5://s:1080".to_owned()),
            ..ProxyOptions::default()
        };
        assert!(ProxyRules::from_options(&bad).is_err());
    }

    #[test]
    fn proxy_passwords_are_redacted() {
        for (url, shown) in [
            ("http://u:secret@p:1", "http://u:<redacted>@p:1"),
            ("u:secret@p:1", "u:<redacted>@p:1"),
            ("http://p:1", "http://p:1"),
        ] {
            assert_eq!(redact(url), shown);
        }
    }
}
