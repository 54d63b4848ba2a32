//! The command-line definition of `wsd`, shared by the binary and by the tools
//! that generate its manual page.

pub mod cli;
