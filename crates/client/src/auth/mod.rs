//! Authentication: `WWW-Authenticate` challenges, Basic credentials and Bearer tokens.

pub mod challenge;
