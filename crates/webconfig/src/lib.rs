//! `corsfleet-webconfig`: the pure (no I/O) engine that makes the `<cors>` section of an IIS
//! `web.config` equal to a desired [`CorsPolicy`] while leaving every other byte of the file as
//! it was, and reads that section back for `show` and drift audits.
//!
//! The algorithm, the cases handled and the guarantees are documented in `docs/webconfig.md`.
//! In short: quick-xml indexes the document with byte offsets (`doc.rs`), the engine computes
//! byte splices inside the managed section (`patch.rs`), and the result is re-parsed and read
//! back (`read.rs`) before it is returned. Serde field names are snake_case.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod doc;
mod error;
mod patch;
mod policy;
mod read;

pub use error::PatchError;
pub use patch::{Patched, PropertyDiff, patch, unified_diff};
pub use policy::{
    CorsPolicy, DEFAULT_MAX_AGE, DEFAULT_METHODS, OriginRule, PolicyError, PolicyWarning,
    validate_origin,
};
pub use read::read_cors;
