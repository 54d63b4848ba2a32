//! The command-line definition of `flowcache` and the flow filters behind its
//! options, shared by the binary and by `cargo xtask man`, which generates the
//! manual page from the definition.

#![forbid(unsafe_code)]

pub mod cli;
pub mod filter;
