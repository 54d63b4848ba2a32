//! Shared code of the wirespy fuzz targets.
//!
//! Each target in `fuzz_targets/` is a thin `fuzz_target!` around one function here, so
//! that the checks can be read in one place and reused by the seed generator in
//! `examples/make_seeds.rs`. Every check panics on failure, which libFuzzer reports as
//! a crash together with the input that caused it.

pub mod alloc_count;
pub mod cache;
pub mod capture;
pub mod decoding;
pub mod script;
pub mod tracking;
