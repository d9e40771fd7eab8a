//! The `steward` binary: telemetry (logs, and traces when an OTLP endpoint is set), arguments,
//! then the chosen command.

use clap::Parser;
use std::process::ExitCode;
use steward::cli::{run, Cli, CliError};

/// mimalloc rather than the system allocator: allocation was a tenth of the HTTP paths' CPU in
/// a profile (BENCHMARKS.md), and glibc's malloc is slow under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before the runtime: the trace exporter's HTTP client runs one of its own.
    let telemetry = match steward::telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("steward: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    let result = runtime.block_on(run(Cli::parse()));
    drop(runtime);
    telemetry.shutdown();
    match result {
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
