//! Listing: tags and the catalog, each page followed by its `Link: <…>; rel="next"` header.

use reqwest::{Method, Url};
use serde::Deserialize;

use crate::client::Client;
use crate::error::ClientError;
use crate::http::{self, Call, header_str};

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// The URL of the `rel="next"` link of a `Link` header, resolved against `base`.
pub(crate) fn next_link(base: &str, link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once('>')?;
        let target = target.trim().strip_prefix('<')?;
        let next = params.split(';').any(|param| {
            let param = param.trim().replace(' ', "");
            param == "rel=\"next\"" || param == "rel=next"
        });
        if !next {
            return None;
        }
        Url::parse(base).ok()?.join(target).ok().map(String::from)
    })
}

impl Client {
    /// The tags of the repository `reference` names, every page of them.
    pub async fn list_tags(
        &self,
        reference: &gantry_reference::Reference,
    ) -> Result<Vec<String>, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("tags/list{}", self.page_query()));
        let mut tags = Vec::new();
        for page in self
            .pages::<TagsPage>(url, repository.scope("pull"))
            .await?
        {
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(tags)
    }

    /// The repositories of the registry `domain` names, every page of them.
    pub async fn catalog(&self, domain: &str) -> Result<Vec<String>, ClientError> {
        let url = self
            .resolve(domain)
            .await?
            .url(&format!("/v2/_catalog{}", self.page_query()));
        let mut names = Vec::new();
        let scope = "registry:catalog:*".to_owned();
        for page in self.pages::<CatalogPage>(url, scope).await? {
            names.extend(page.repositories.unwrap_or_default());
        }
        Ok(names)
    }

    /// `?n=<page size>`, when one is configured.
    fn page_query(&self) -> String {
        self.inner
            .config
            .page_size
            .map(|n| format!("?n={n}"))
            .unwrap_or_default()
    }

    /// Every page from `url` on, parsed as `T`, following `Link` until there is none (at most
    /// 10,000 pages, against a registry that links in a circle).
    pub(crate) async fn pages<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        scope: String,
    ) -> Result<Vec<T>, ClientError> {
        let method = Method::GET;
        let mut pages = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let call = Call::new(method.clone(), &url).scope(scope.clone());
            let response = http::send(&self.inner, call).await?;
            next = header_str(&response, "link").and_then(|link| next_link(&url, link));
            let limit = self.inner.config.max_manifest_pull;
            let body = http::read_limited(&method, &url, response, limit, "listing page").await?;
            let page =
                serde_json::from_slice(&body).map_err(|source| ClientError::InvalidJson {
                    url: url.clone(),
                    source,
                })?;
            pages.push(page);
            if pages.len() >= 10_000 {
                break;
            }
        }
        Ok(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_resolve_against_the_request() {
        let base = "http://r:5000/v2/a/tags/list?n=2";
        let cases = [
            (
                r#"</v2/a/tags/list?n=2&last=b>; rel="next""#,
                Some("http://r:5000/v2/a/tags/list?n=2&last=b"),
            ),
            (
                r#"<https://other/v2/_catalog?last=x>; rel=next"#,
                Some("https://other/v2/_catalog?last=x"),
            ),
            (
                r#"</prev>; rel="prev", </next>; rel="next""#,
                Some("http://r:5000/next"),
            ),
            (r#"</v2/a>; rel="self""#, None),
            ("garbage", None),
        ];
        for (link, want) in cases {
            assert_eq!(next_link(base, link).as_deref(), want, "{link}");
        }
    }
}
