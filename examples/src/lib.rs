//! Example programs for the wirespy library crates. The library target is empty:
//! it exists because a package needs at least one target besides its examples.
//!
//! Run one with `cargo run -p wsd-examples --example NAME -- ARGS`:
//!
//! - `flows_per_port CAPTURE...` counts TCP flows per server port in capture files,
//!   with `wsd-capture`, `wsd-decode` and `wsd-flow`.
//! - `read_cache CACHE` prints the flows saved in a flow cache, with
//!   `wsd-flowcache`.

#![forbid(unsafe_code)]
