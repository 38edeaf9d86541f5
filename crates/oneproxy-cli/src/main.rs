//! `oneproxy`: hardware-aware NAS across many devices at the cost of one.
//!
//! The binary only parses arguments and dispatches; every command lives in `cmd/` and every
//! computation in the `oneproxy` library.

mod args;
mod cmd;
mod progress;
mod report;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cli.validate().and_then(|()| cmd::dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed pipe (`oneproxy ... | head`) is not a failure.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
