//! Content discovery: the tags list (order, `n`, `last`, `Link`, `n=0`) and the catalog.

use gantry_spec::error_code::ErrorCode;
use reqwest::Method;
use serde_json::Value;

use crate::content::{Image, setup_failed};
use crate::expect;
use crate::http::{Reason, Response};
use crate::run::Ctx;

/// How many pages a `Link` walk may take before the check gives up.
const MAX_PAGES: usize = 1000;

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    // Five tags on one manifest, pushed out of order.
    let tags: Vec<String> = ["d", "b", "e", "a", "c"]
        .iter()
        .map(|t| ctx.tag(&format!("disc-{t}")))
        .collect();
    let setup = Image::new(ctx).and_then(|image| {
        image.push_blobs(ctx, &name)?;
        for tag in &tags {
            let response = crate::content::put_manifest(ctx, &name, tag, &image.manifest)?;
            expect::status(&response, &[201])?;
        }
        Ok(())
    });
    // The whole list, as the registry gives it without parameters.
    let full: Result<Vec<String>, Reason> = setup.and_then(|()| {
        let response = list(ctx, &format!("/v2/{name}/tags/list"))?;
        tag_names(&response)
    });

    ctx.check("tags-list", |ctx| {
        let all = full.as_ref().map_err(setup_failed)?;
        let response = list(ctx, &format!("/v2/{name}/tags/list"))?;
        let json = body_json(&response)?;
        expect::that(json["name"] == name.as_str(), || {
            format!(
                "expected `\"name\": \"{name}\"`, but {} with {json}",
                response.describe()
            )
        })?;
        let missing: Vec<&String> = tags.iter().filter(|t| !all.contains(t)).collect();
        expect::that(missing.is_empty(), || {
            format!("expected the pushed tags, but the list lacks {missing:?}")
        })
    });
    ctx.check("tags-sorted", |_| {
        let all = full.as_ref().map_err(setup_failed)?;
        let mut ascii = all.clone();
        ascii.sort();
        let mut folded = all.clone();
        folded.sort_by_key(|t| t.to_lowercase());
        expect::that(*all == ascii || *all == folded, || {
            format!("expected tags in lexical order, got {all:?}")
        })
    });
    // The list in order, which pages must follow; whether the registry sorts is `tags-sorted`.
    let sorted: Result<Vec<String>, Reason> = full.as_ref().map_err(Clone::clone).map(|all| {
        let mut all = all.clone();
        all.sort();
        all
    });
    ctx.check("tags-n", |ctx| {
        let all = sorted.as_ref().map_err(setup_failed)?;
        let response = list(ctx, &format!("/v2/{name}/tags/list?n=2"))?;
        let page = tag_names(&response)?;
        expect::that(page == all[..2.min(all.len())], || {
            format!(
                "expected ?n=2 to give the first two tags {:?}, but {} with {page:?}",
                &all[..2.min(all.len())],
                response.describe()
            )
        })
    });
    ctx.check("tags-link-next", |ctx| {
        let all = sorted.as_ref().map_err(setup_failed)?;
        let mut response = list(ctx, &format!("/v2/{name}/tags/list?n=2"))?;
        let mut collected = Vec::new();
        for _ in 0..=all.len() {
            let page = tag_names(&response)?;
            expect::that(page.len() <= 2, || {
                format!(
                    "expected at most 2 tags for n=2, but {} with {page:?}",
                    response.describe()
                )
            })?;
            collected.extend(page);
            let Some(next) = next_link(&response) else {
                expect::that(collected.len() >= all.len(), || {
                    format!(
                        "expected `Link: <…>; rel=\"next\"` while tags remain, but {} without one",
                        response.describe()
                    )
                })?;
                break;
            };
            response = ctx.http.send(ctx.http.request_at(Method::GET, &next)?)?;
            expect::status(&response, &[200])?;
        }
        expect::that(collected == *all, || {
            format!(
                "expected the pages of ?n=2, following `Link: <…>; rel=\"next\"`, to add up to \
                 {all:?}, but they gave {collected:?} (last: {})",
                response.describe()
            )
        })
    });
    ctx.check("tags-last", |ctx| {
        let all = sorted.as_ref().map_err(setup_failed)?;
        let first = &all[0];
        let response = list(ctx, &format!("/v2/{name}/tags/list?n=2&last={first}"))?;
        let page = tag_names(&response)?;
        let wanted: Vec<String> = all.iter().skip(1).take(2).cloned().collect();
        expect::that(page == wanted, || {
            format!(
                "expected ?n=2&last={first} to give {wanted:?}, but {} with {page:?}",
                response.describe()
            )
        })
    });
    ctx.check("tags-last-without-n", |ctx| {
        let all = sorted.as_ref().map_err(setup_failed)?;
        let first = &all[0];
        let response = list(ctx, &format!("/v2/{name}/tags/list?last={first}"))?;
        let page = tag_names(&response)?;
        expect::that(page == all[1..], || {
            format!(
                "expected ?last={first} to give every tag after it, but {} with {page:?}",
                response.describe()
            )
        })
    });
    ctx.check("tags-n-zero", |ctx| {
        full.as_ref().map_err(setup_failed)?;
        let response = list(ctx, &format!("/v2/{name}/tags/list?n=0"))?;
        let page = tag_names(&response)?;
        expect::that(page.is_empty(), || {
            format!(
                "expected ?n=0 to give an empty list, but {} with {page:?}",
                response.describe()
            )
        })?;
        expect::that(response.header("Link").is_none(), || {
            format!(
                "expected no `Link` header with ?n=0, but {}",
                response.describe()
            )
        })
    });
    ctx.check("tags-unknown-repository", |ctx| {
        let repository = format!("{name}/never-pushed-{}", ctx.run_id);
        let response = ctx.http.send(
            ctx.http
                .request(Method::GET, &format!("/v2/{repository}/tags/list")),
        )?;
        expect::error(&response, &[404], &[ErrorCode::NameUnknown])
    });
    ctx.check("catalog", |ctx| {
        full.as_ref().map_err(setup_failed)?;
        let mut response = list(ctx, "/v2/_catalog")?;
        let mut repositories = repository_names(&response)?;
        for _ in 0..MAX_PAGES {
            let Some(next) = next_link(&response) else {
                break;
            };
            response = ctx.http.send(ctx.http.request_at(Method::GET, &next)?)?;
            expect::status(&response, &[200])?;
            repositories.extend(repository_names(&response)?);
        }
        expect::that(repositories.contains(&name), || {
            format!(
                "expected the catalog to list {name}, but it did not ({} repositories)",
                repositories.len()
            )
        })
    });
    ctx.check("catalog-n", |ctx| {
        full.as_ref().map_err(setup_failed)?;
        let response = list(ctx, "/v2/_catalog?n=1")?;
        let page = repository_names(&response)?;
        expect::that(page.len() == 1, || {
            format!(
                "expected ?n=1 to give one repository, but {} with {page:?}",
                response.describe()
            )
        })
    });
}

/// `GET path`, expecting 200.
fn list(ctx: &Ctx<'_>, path: &str) -> Result<Response, Reason> {
    let response = ctx.http.send(ctx.http.request(Method::GET, path))?;
    expect::status(&response, &[200])?;
    Ok(response)
}

fn body_json(response: &Response) -> Result<Value, Reason> {
    serde_json::from_slice(&response.body)
        .map_err(|e| format!("expected a JSON body, but {}: {e}", response.describe()))
}

/// The strings of the array `field` (absent or `null` reads as empty).
fn names(response: &Response, field: &str) -> Result<Vec<String>, Reason> {
    let json = body_json(response)?;
    match &json[field] {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    format!(
                        "expected strings in `{field}`, but {} with {v}",
                        response.describe()
                    )
                })
            })
            .collect(),
        other => Err(format!(
            "expected `{field}` to be an array, but {} with {other}",
            response.describe()
        )),
    }
}

fn tag_names(response: &Response) -> Result<Vec<String>, Reason> {
    names(response, "tags")
}

fn repository_names(response: &Response) -> Result<Vec<String>, Reason> {
    names(response, "repositories")
}

/// The target of the `Link` header whose relation is `next`, if any.
pub(crate) fn next_link(response: &Response) -> Option<String> {
    response
        .headers
        .get_all("Link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}
