//! Everything oneproxy writes to disk goes through here, under one rule: **never lose or destroy
//! what oneproxy did not write**, and leave no litter behind.
//!
//! * [`write_atomic`]: the one atomic file writer (temporary sibling, then rename; symbolic links
//!   written through; devices, FIFOs, sockets and folders refused);
//! * [`ReportDir`]: report folders, built aside and swapped in, replacing only a folder that
//!   oneproxy wrote (its marker lists its files);
//! * [`Outputs`]: a command's output files: never onto one of its inputs, never over a file
//!   oneproxy did not write unless forced (a ledger per folder records what it wrote);
//! * [`OutputLock`]: an exclusive lock on an output rewritten many times (a measurement log);
//! * [`cleanup`]: the registry of temporary files, folders and child process groups that
//!   SIGINT/SIGTERM clean up ([`install_signal_handlers`]);
//! * [`WorkDir`]: a folder a job keeps adding to across runs (a fleet's measurement logs and
//!   report), claimed by a marker and never replaced whole;
//! * `temp`: the temporary-name pattern, and the sweep of stale entries left by a SIGKILL.

mod atomic;
pub mod cleanup;
mod lock;
mod owned;
mod report_dir;
pub(crate) mod temp;
mod work_dir;

pub use atomic::{check_output_file, final_target, write_atomic};
pub use cleanup::install_signal_handlers;
pub use lock::OutputLock;
pub use owned::{Outputs, LEDGER};
pub use report_dir::ReportDir;
pub use work_dir::{WorkDir, WORK_MARKER};
