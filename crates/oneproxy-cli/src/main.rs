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
    // Temporary files and runner processes are cleaned up on Ctrl-C and SIGTERM too.
    if let Err(e) = oneproxy::output::install_signal_handlers() {
        eprintln!("warning: {e}");
    }
    match cli.validate().and_then(|()| cmd::dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed pipe (`oneproxy ... | head`) is not a failure.
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            // A manual target asked for measurements: not a failure, a distinct status.
            if err.chain().any(|c| {
                matches!(c.downcast_ref::<oneproxy::Error>(), Some(oneproxy::Error::MeasurementsNeeded { .. }))
            }) {
                eprintln!("{err:#}");
                return ExitCode::from(cmd::nas::NEEDS_MEASUREMENTS);
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
