//! `augur trace …`: read a kernel trace file on the host.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `augur trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The trace file.
    file: PathBuf,
}

/// Runs `augur trace`.
pub fn run(args: TraceArgs) -> ExitCode {
    eprintln!("augur trace {}: not implemented yet", args.file.display());
    ExitCode::from(2)
}
