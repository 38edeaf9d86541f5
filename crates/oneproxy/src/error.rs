//! The library's one error type.
//!
//! Every variant carries what a user needs to fix the input: the file, the line, the column and
//! the offending value where there is one. The CLI prints these with `{:#}` and exits non-zero.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a bad value came from: a file and a 1-based line, or a command-line/API argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a CSV file (1-based, the header is line 1).
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
    },
    /// A value given directly (an `--arch` argument, an API call).
    Argument,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Argument => write!(f, "argument"),
        }
    }
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader itself failed (bad quoting, ragged rows, invalid UTF-8).
    #[error("{}: malformed CSV: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error (it names the line).
        source: csv::Error,
    },
    /// A cell holds a value that is not allowed there.
    #[error("{origin}: column '{column}': invalid value '{value}': {reason}")]
    BadValue {
        /// File and line.
        origin: Origin,
        /// Column name.
        column: String,
        /// The cell as written.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An architecture string does not parse in the space.
    #[error("{origin}: invalid {space} architecture '{value}': {reason}")]
    BadArch {
        /// File and line, or argument.
        origin: Origin,
        /// The space's name.
        space: &'static str,
        /// The string as written.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The same architecture appears twice in one file.
    #[error("{}:{line}: duplicate row for architecture '{arch}' (first seen on line {first_line})", path.display())]
    DuplicateArch {
        /// The file.
        path: PathBuf,
        /// Line of the second occurrence.
        line: u64,
        /// Line of the first occurrence.
        first_line: u64,
        /// The architecture.
        arch: String,
    },
    /// A device name appears twice (in one header, or in a file and the bundled data).
    #[error("{}: device '{device}' is already defined ({previous})", path.display())]
    DuplicateDevice {
        /// The file whose header repeats it.
        path: PathBuf,
        /// The device.
        device: String,
        /// Where it was first defined.
        previous: String,
    },
    /// The file's header is unusable.
    #[error("{}: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A device name that is not in the loaded tables.
    #[error("unknown device '{name}'; known devices: {known}")]
    UnknownDevice {
        /// The name asked for.
        name: String,
        /// Comma-separated list of the devices that exist.
        known: String,
    },
    /// A search-space name that does not exist.
    #[error("unknown search space '{0}'; known: nb201, fbnet, ofa-mbv3, mbv2, proxyless")]
    UnknownSpace(String),
    /// Not enough data for what was asked.
    #[error("{0}")]
    TooFewSamples(String),
    /// An invalid parameter (out of range, inconsistent with the others).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A numerical solver did not reach a solution.
    #[error("solver did not converge: {0}")]
    NotConverged(String),
    /// A JSON document could not be read or written.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// An inference engine (tract, an external runner) failed on a model.
    #[error("engine error: {0}")]
    Engine(String),
    /// An output path names something oneproxy must not replace (a directory, a device node, a
    /// FIFO, a socket, or a folder it did not write); `reason` says what it is and what to do.
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The output path as given.
        path: PathBuf,
        /// What the path is, why it is left alone, and what to do instead.
        reason: String,
    },
    /// Another process holds the lock on an output file.
    #[error("another oneproxy {purpose} is writing {} ({}); wait for it to finish or choose another output", path.display(), pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")))]
    Locked {
        /// The output file.
        path: PathBuf,
        /// What the other process is doing (e.g. `measure`), as it recorded it.
        purpose: String,
        /// The other process, when it recorded itself.
        pid: Option<u32>,
    },
    /// An external program did not finish in time and was killed with its process group.
    #[error("`{command}` did not finish within {seconds} s and was killed (with its child processes){hint}")]
    Timeout {
        /// The command line.
        command: String,
        /// The time limit, seconds.
        seconds: f64,
        /// What to do about it (may be empty).
        hint: String,
    },
    /// The SIGINT/SIGTERM handler could not be installed.
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signals(String),
    /// The flow needs measurements that only a person can make (a manual target): the
    /// requested architectures were written to the log with empty values.
    #[error(
        "{count} architecture(s) need measuring on '{device}'{}{}: fill in their latencies (ms per image) and run the same command again",
        log.as_ref().map_or(String::new(), |p| format!(" (the empty rows of {})", p.display())),
        models.as_ref().map_or(String::new(), |p| format!("; ONNX models in {}", p.display()))
    )]
    MeasurementsNeeded {
        /// The target.
        device: String,
        /// Architectures requested.
        count: usize,
        /// The measurement log holding the requests.
        log: Option<PathBuf>,
        /// Folder of the exported models, if any.
        models: Option<PathBuf>,
    },
    /// Drawing a plot failed.
    #[error("plot {}: {reason}", path.display())]
    Plot {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
