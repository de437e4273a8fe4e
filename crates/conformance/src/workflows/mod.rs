//! One module per workflow; each `run` records its checks through the context.

pub(crate) mod bad_digests;
pub(crate) mod discovery;
pub(crate) mod indexes;
pub(crate) mod management;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod range;
pub(crate) mod referrers;
pub(crate) mod sha512;
