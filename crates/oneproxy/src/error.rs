//! The library's one error type.
//!
//! Every variant carries what a user needs to fix the input: the file, the line, the column and
//! the offending value where there is one. The CLI prints these with `{:#}` and exits non-zero.
//!
//! Two rules keep the messages readable:
//! * a wrapped error (I/O, CSV, JSON) is exposed as [`std::error::Error::source`] and **not**
//!   repeated in the message, so that `{:#}` (which prints the chain) says the cause once;
//! * a value the user supplied is shown through [`clip`], so a 20 MB cell or argument is echoed
//!   as its first characters and its length, not whole.

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
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader itself failed (bad quoting, ragged rows, invalid UTF-8).
    #[error("{}: malformed CSV", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error (it names the line).
        source: csv::Error,
    },
    /// A cell holds a value that is not allowed there.
    #[error("{origin}: column '{}': invalid value '{}': {}", clip(column), clip(value), clip_to(reason, REASON_CHARS))]
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
    #[error("{origin}: invalid {space} architecture '{}': {}", clip(value), clip_to(reason, REASON_CHARS))]
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
    #[error("{}:{line}: duplicate row for architecture '{}' (first seen on line {first_line})", path.display(), clip(arch))]
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
    #[error("{}: device '{}' is already defined ({previous})", path.display(), clip(device))]
    DuplicateDevice {
        /// The file whose header repeats it.
        path: PathBuf,
        /// The device.
        device: String,
        /// Where it was first defined.
        previous: String,
    },
    /// The file's header is unusable.
    #[error("{}: {}", path.display(), clip_to(reason, REASON_CHARS))]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A space file (a declared search space) is unusable: the file, the 1-based line where
    /// the problem is (when known) and what is wrong.
    #[error("{}{}: {}", path.display(), line.map_or(String::new(), |l| format!(":{l}")), clip_to(reason, REASON_CHARS))]
    BadSpaceFile {
        /// The space file.
        path: PathBuf,
        /// 1-based line of the offending entry, when the parser gives it.
        line: Option<u64>,
        /// What is wrong with it.
        reason: String,
    },
    /// A device name that is not in the loaded tables.
    #[error("unknown device '{}'; {}", clip(name), known_names(name, known, "devices", "see `oneproxy devices`"))]
    UnknownDevice {
        /// The name asked for.
        name: String,
        /// The devices that exist, in table order.
        known: Vec<String>,
    },
    /// A search-space name that does not exist.
    #[error("unknown search space '{}'; {}", clip(name), known_names(name, &known.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "spaces", ""))]
    UnknownSpace {
        /// The name asked for.
        name: String,
        /// The canonical names of every space ([`crate::SpaceId::NAMES`], from the space
        /// registry; carried here so that errors do not depend on the spaces).
        known: &'static [&'static str],
    },
    /// A device name that cannot be used (it would break a CSV header or be mistaken for a
    /// column of the format); see [`crate::data::validate_device_name`].
    #[error("invalid device name '{}': {reason}", clip(name))]
    BadDeviceName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not enough data for what was asked.
    #[error("{0}")]
    TooFewSamples(String),
    /// An invalid parameter (out of range, inconsistent with the others).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A named parameter has a value the library cannot work with; the message names it as the
    /// front end in use spells it ([`Param`]).
    #[error("{param}: {problem}")]
    BadParameter {
        /// The parameter.
        param: Param,
        /// What is wrong with its value, and what to give instead.
        problem: String,
    },
    /// A numerical solver did not reach a solution.
    #[error("solver did not converge: {0}")]
    NotConverged(String),
    /// A JSON document could not be read or written.
    #[error("{}: reading or writing JSON", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// An inference engine (tract, an external runner) failed on a model.
    #[error("engine error: {0}")]
    Engine(String),
    /// The engine itself is gone, not one model: a persistent runner that never started, or
    /// that kept crashing. Measuring stops (the answers so far are kept), where an
    /// [`Error::Engine`] fails one architecture and goes on with the next.
    #[error("engine lost: {0}")]
    EngineLost(String),
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
    /// More architectures could not be measured than the flow allows.
    #[error("{count} architectures could not be measured on '{device}', more than the {limit} allowed (the last: {}); the reasons are in the measurement log", clip_to(last, REASON_CHARS))]
    TooManyFailures {
        /// The target.
        device: String,
        /// Failures so far.
        count: usize,
        /// The limit.
        limit: usize,
        /// The last failure: architecture and reason.
        last: String,
    },
    /// What was being done when an error happened, and the error (its message follows the
    /// context once, so that causes are not repeated).
    #[error("{context}: {inner}")]
    Context {
        /// What was being done (e.g. `target 'pixel3'`).
        context: String,
        /// The error (not a `source`: its message is part of this one, said once).
        inner: Box<Error>,
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
    /// `param`'s value is refused, for the reason `problem`.
    pub fn bad_parameter(param: &'static str, problem: impl Into<String>) -> Self {
        Error::BadParameter { param: Param(param), problem: problem.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// This error with what was being done in front (`target 'pixel3': ...`).
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context { context: context.into(), inner: Box::new(self) }
    }

    /// An unknown device among `known` (the message suggests the nearest known name).
    pub fn unknown_device(name: &str, known: &[String]) -> Self {
        Error::UnknownDevice { name: name.to_string(), known: known.to_vec() }
    }
}

/// A parameter of a library call, by its canonical name: snake_case, as Python's keyword
/// (`max_time`, `runner_cmd`). Messages, errors and warnings name parameters through it rather
/// than as one front end's spelling, so that the CLI shows `--max-time` and Python `max_time=`:
/// each front end chooses its spelling once with [`set_param_spelling`]. Without one, the
/// canonical name is shown in backquotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param(pub &'static str);

impl Param {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// How this process spells parameters in messages (set by the front end).
static PARAM_SPELLING: std::sync::OnceLock<fn(&str) -> String> = std::sync::OnceLock::new();

/// Choose how messages spell parameters in this process (the CLI: `--max-time`; Python:
/// `max_time=`). Only the first call counts: one process has one front end. Returns whether
/// this call set it.
pub fn set_param_spelling(spell: fn(&str) -> String) -> bool {
    PARAM_SPELLING.set(spell).is_ok()
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match PARAM_SPELLING.get() {
            Some(spell) => f.write_str(&spell(self.0)),
            None => write!(f, "`{}`", self.0),
        }
    }
}

/// Longest user value echoed in a message, in characters.
pub const VALUE_CHARS: usize = 80;
/// Longest explanation echoed in a message (explanations may quote a piece of the value).
const REASON_CHARS: usize = 300;
/// Known names listed in full up to this many; beyond, the first few and the count.
const LISTED_NAMES: usize = 6;

/// A number for a message: Rust's shortest round-trip form in the usual range, scientific
/// notation outside it, so that 1e306 is not printed as 307 digits and 1e-300 not as 300 zeros.
pub fn show_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e9).contains(&v.abs()) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}

/// A user value for a message: whole when short, else its first [`VALUE_CHARS`] characters, an
/// ellipsis and the full length, so that an error about a huge cell stays one readable line.
pub fn clip(value: &str) -> String {
    clip_to(value, VALUE_CHARS)
}

/// [`clip`] with another limit (in characters, never splitting a character).
pub fn clip_to(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_string(),
        Some((end, _)) => format!("{}... ({} characters in all)", &value[..end], value.chars().count()),
    }
}

/// The known name nearest to `name`, if it is near enough to be a plausible typo (a space too
/// many, a case or a character off). Jaro similarity, as clap uses for its own suggestions.
pub fn nearest_name<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    // Jaro costs the product of the lengths: a huge value is no typo of a name anyway.
    if name.len() > 4 * VALUE_CHARS {
        return None;
    }
    let wanted = name.trim().to_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro(&wanted, &k.to_lowercase()), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.as_str())
}

/// "did you mean 'x'? known devices: a, b, ... (N in all, see ...)": a near miss first, then a
/// short list (the whole list of 29 devices drowned the suggestion).
fn known_names(name: &str, known: &[String], what: &str, see: &str) -> String {
    let mut out = String::new();
    if let Some(near) = nearest_name(name, known) {
        out.push_str(&format!("did you mean '{near}'? "));
    }
    if known.is_empty() {
        out.push_str(&format!("no {what} are loaded"));
        return out;
    }
    let shown: Vec<String> = known.iter().take(LISTED_NAMES).map(|k| clip(k)).collect();
    out.push_str(&format!("known {what}: {}", shown.join(", ")));
    if known.len() > LISTED_NAMES {
        let see = if see.is_empty() { String::new() } else { format!(", {see}") };
        out.push_str(&format!(", ... ({} in all{see})", known.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(clip("pixel3"), "pixel3");
        let long = "é".repeat(20_000);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(VALUE_CHARS)) && c.ends_with("... (20000 characters in all)"), "{c}");
        assert!(c.chars().count() < 120);
        assert_eq!(clip(&"a".repeat(VALUE_CHARS)), "a".repeat(VALUE_CHARS));
    }

    #[test]
    fn every_user_value_in_a_message_is_clipped() {
        let huge = "x".repeat(1 << 20);
        let origin = Origin::File { path: "f.csv".into(), line: 2 };
        let errors = [
            Error::BadValue { origin: origin.clone(), column: huge.clone(), value: huge.clone(), reason: huge.clone() },
            Error::BadArch { origin, space: "nb201", value: huge.clone(), reason: huge.clone() },
            Error::DuplicateArch { path: "f.csv".into(), line: 3, first_line: 2, arch: huge.clone() },
            Error::DuplicateDevice { path: "f.csv".into(), device: huge.clone(), previous: "x".into() },
            Error::BadHeader { path: "f.csv".into(), reason: huge.clone() },
            Error::unknown_device(&huge, std::slice::from_ref(&huge)),
            Error::UnknownSpace { name: huge.clone(), known: &crate::SpaceId::NAMES },
            Error::BadDeviceName { name: huge.clone(), reason: "too long".into() },
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(msg.len() < 1500, "{} bytes: {}", msg.len(), &msg[..200]);
            assert!(msg.contains("characters in all"), "{msg}");
        }
    }

    #[test]
    fn unknown_names_suggest_a_near_miss_and_list_a_few() {
        let known: Vec<String> = (1..=29).map(|i| format!("dev{i:02}")).chain(["pixel3".to_string()]).collect();
        let msg = Error::unknown_device("pixel 3", &known).to_string();
        assert!(msg.starts_with("unknown device 'pixel 3'; did you mean 'pixel3'?"), "{msg}");
        assert!(msg.contains("dev01, dev02") && msg.contains("(30 in all, see `oneproxy devices`)"), "{msg}");
        assert!(!msg.contains("dev29"), "{msg}");
        let far = Error::unknown_device("quantum", &known).to_string();
        assert!(!far.contains("did you mean"), "{far}");
        let short = Error::unknown_device("b", &["a".into(), "c".into()]).to_string();
        assert!(short.ends_with("known devices: a, c"), "{short}");
        let space = Error::UnknownSpace { name: "nb-201".into(), known: &crate::SpaceId::NAMES }.to_string();
        assert!(space.contains("did you mean 'nb201'?") && space.contains("known spaces: nb201, fbnet"), "{space}");
    }

    #[test]
    fn a_parameter_is_named_by_its_canonical_name_until_a_front_end_spells_it() {
        // Library tests never choose a spelling: the CLI and Python do, once per process.
        let e = Error::bad_parameter("max_time", "must be positive");
        assert_eq!(e.to_string(), "`max_time`: must be positive");
        assert_eq!(format!("raise {}", Param("runner_timeout")), "raise `runner_timeout`");
    }

    #[test]
    fn a_wrapped_cause_is_said_once() {
        let e = Error::io("missing.csv", std::io::Error::from(std::io::ErrorKind::NotFound));
        let chain: Vec<String> =
            std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source()).map(|e| e.to_string()).collect();
        let cause = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
        assert_eq!(chain.iter().filter(|m| m.contains(&cause)).count(), 1, "{chain:?}");
        assert_eq!(chain[0], "missing.csv");
    }
}
