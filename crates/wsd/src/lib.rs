//! The command-line definition of `wsd`, shared by the binary and by the tools
//! that generate its manual page.

#![forbid(unsafe_code)]

pub mod cli;
