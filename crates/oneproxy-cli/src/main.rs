//! `oneproxy`: hardware-aware NAS across many devices at the cost of one.
//!
//! The binary only parses arguments and dispatches; every command lives in `cmd/` and every
//! computation in the `oneproxy` library.

/// `eprintln!` that ignores a closed or broken stderr (`oneproxy ... 2>&1 | tee log` after tee
/// died) instead of panicking: the work goes on, and the exit status still says how it went.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod cmd;
mod progress;
mod report;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Library messages name parameters as this program's flags (`max_time` as `--max-time`).
    oneproxy::error::set_param_spelling(|name| format!("--{}", name.replace('_', "-")));
    let cli = args::Cli::parse();
    // Temporary files and runner processes are cleaned up on Ctrl-C and SIGTERM too.
    if let Err(e) = oneproxy::output::install_signal_handlers() {
        note!("warning: {e}");
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
                note!("{err:#}");
                return ExitCode::from(cmd::nas::NEEDS_MEASUREMENTS);
            }
            note!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
