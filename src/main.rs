//! The `steward` binary: telemetry, arguments, then the chosen command.

use clap::Parser;
use std::process::ExitCode;
use steward::cli::{run, Cli, CliError};

/// mimalloc rather than the system allocator: allocation was a tenth of the HTTP paths' CPU in
/// a profile (BENCHMARKS.md), and glibc's malloc is slow under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`steward audit | head`) is not a failure.
        Err(CliError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("steward: {error}");
            ExitCode::FAILURE
        }
    }
}
