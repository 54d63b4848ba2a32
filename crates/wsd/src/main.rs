//! `wsd`: reads captures and writes one compact record per TCP connection.

mod cli;
mod progress;
mod run;

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = cli::Cli::parse();
    init_logging(cli.debug);

    if let Some((option, reason)) = cli.unsupported_option() {
        eprintln!("wsd: {option} cannot be used: {reason}");
        std::process::exit(2);
    }

    if let Err(failure) = run::run(&cli) {
        eprintln!("wsd: {}", failure.message());
        std::process::exit(failure.exit_code());
    }
}

/// Sends diagnostics to standard error; `-d` raises the level, and `RUST_LOG`
/// overrides it when set.
fn init_logging(debug: u8) {
    let level = match debug {
        0 => "info",
        1 | 2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
