//! Plain HTTP/1.0 requests to a registry on loopback, and a walk over everything it serves.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use gantry_spec::{DescriptorRole, Manifest, media_type};

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The manifest media types a client accepts.
pub const MANIFEST_ACCEPT: &[&str] = &[
    media_type::OCI_IMAGE_MANIFEST,
    media_type::OCI_IMAGE_INDEX,
    media_type::DOCKER_MANIFEST,
    media_type::DOCKER_MANIFEST_LIST,
];

/// A response, read to the end of the connection.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, &name.to_ascii_lowercase())
    }
}

/// The first value of header `name` among `headers`, names compared exactly.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Sends `method path` over HTTP/1.0 with `Accept: accept` (when not empty).
pub fn request(addr: SocketAddr, method: &str, path: &str, accept: &[&str]) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    if !accept.is_empty() {
        head.push_str(&format!("Accept: {}\r\n", accept.join(", ")));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path} to {addr}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path} from {addr}: {e}"));
    parse(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {path} at {addr}: not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        )
    })
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    Some(Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// A `GET` that must answer 200, with a body as long as its `Content-Length` says.
pub fn get_ok(addr: SocketAddr, path: &str, accept: &[&str]) -> Response {
    let response = request(addr, "GET", path, accept);
    assert_eq!(
        response.status,
        200,
        "GET {path} at {addr}: {}",
        String::from_utf8_lossy(&response.body)
    );
    if let Some(length) = response.header("content-length") {
        assert_eq!(
            length.parse::<usize>().ok(),
            Some(response.body.len()),
            "GET {path} at {addr}: Content-Length and body differ"
        );
    }
    response
}

/// The values of the string array `field` in a small JSON document such as a catalog or a tags
/// list (`{"repositories":["a","b"]}`); enough for names, which need no escapes.
pub fn json_strings(body: &[u8], field: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let key = format!("\"{field}\"");
    let Some(start) = text.find(&key) else {
        return Vec::new();
    };
    let rest = &text[start + key.len()..];
    let Some(open) = rest.find('[') else {
        return Vec::new();
    };
    let Some(close) = rest[open..].find(']') else {
        return Vec::new();
    };
    rest[open + 1..open + close]
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Everything a registry serves, as read through its API: the catalog, each repository's tags
/// and the manifest digest each names, and every manifest and blob reachable from a tag, each
/// checked against its digest on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `/v2/_catalog`, in the order served.
    pub catalog: Vec<String>,
    /// Per repository, its tags list in the order served, and per tag the manifest digest.
    pub tags: BTreeMap<String, (Vec<String>, BTreeMap<String, String>)>,
    /// Every manifest reachable from a tag (by repository and digest) with its content type.
    pub manifests: BTreeMap<(String, String), String>,
    /// Every blob reachable from a tag (by repository and digest) with its size.
    pub blobs: BTreeMap<(String, String), usize>,
}

impl Snapshot {
    /// The same snapshot with every tags list sorted. CNCF Distribution 2.8 lists tags in the
    /// order its storage driver lists directories, not in lexical order as the OCI
    /// specification asks (Distribution 3 sorts them), so comparisons with it ignore the order.
    pub fn ignoring_tag_order(mut self) -> Snapshot {
        for (tags, _) in self.tags.values_mut() {
            tags.sort();
        }
        self
    }

    /// Whether the catalog and every tags list are in lexical order.
    pub fn is_lexically_ordered(&self) -> bool {
        self.catalog.is_sorted() && self.tags.values().all(|(tags, _)| tags.is_sorted())
    }
}

/// Reads everything `addr` serves (see [`Snapshot`]), checking every digest.
pub fn snapshot(addr: SocketAddr) -> Snapshot {
    let catalog = json_strings(
        &get_ok(addr, "/v2/_catalog?n=1000", &[]).body,
        "repositories",
    );
    let mut snapshot = Snapshot {
        catalog: catalog.clone(),
        tags: BTreeMap::new(),
        manifests: BTreeMap::new(),
        blobs: BTreeMap::new(),
    };
    for repository in &catalog {
        let list = get_ok(addr, &format!("/v2/{repository}/tags/list"), &[]);
        let tags = json_strings(&list.body, "tags");
        let mut digests = BTreeMap::new();
        for tag in &tags {
            let digest = walk_manifest(addr, repository, tag, &mut snapshot);
            digests.insert(tag.clone(), digest);
        }
        snapshot.tags.insert(repository.clone(), (tags, digests));
    }
    snapshot
}

/// Fetches manifest `reference` of `repository`, checks it, records it and everything it points
/// at, and returns its digest.
fn walk_manifest(
    addr: SocketAddr,
    repository: &str,
    reference: &str,
    snapshot: &mut Snapshot,
) -> String {
    let path = format!("/v2/{repository}/manifests/{reference}");
    let response = get_ok(addr, &path, MANIFEST_ACCEPT);
    let digest = Digest::of(Algorithm::Sha256, &response.body).to_string();
    assert_eq!(
        response.header("docker-content-digest"),
        Some(digest.as_str()),
        "GET {path} at {addr}: Docker-Content-Digest is not the digest of the body"
    );
    if reference.contains(':') {
        assert_eq!(reference, digest, "GET {path} at {addr}: wrong manifest");
    }
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_owned();
    let manifest = Manifest::parse(response.body, Some(&content_type))
        .unwrap_or_else(|e| panic!("GET {path} at {addr}: {e}"));
    let key = (repository.to_owned(), digest.clone());
    if snapshot.manifests.insert(key, content_type).is_some() {
        return digest;
    }
    for (role, descriptor) in manifest.references() {
        let child = descriptor.digest.to_string();
        match role {
            DescriptorRole::Manifest => {
                walk_manifest(addr, repository, &child, snapshot);
            }
            DescriptorRole::Config | DescriptorRole::Layer => {
                let path = format!("/v2/{repository}/blobs/{child}");
                let blob = get_ok(addr, &path, &[]);
                assert_eq!(
                    Digest::of(Algorithm::Sha256, &blob.body).to_string(),
                    child,
                    "GET {path} at {addr}: the content does not match its digest"
                );
                assert_eq!(
                    blob.body.len() as u64,
                    descriptor.size,
                    "GET {path} at {addr}: size"
                );
                snapshot
                    .blobs
                    .insert((repository.to_owned(), child), blob.body.len());
            }
            _ => {}
        }
    }
    digest
}
