//! Device names and where a device's measurements came from.
//!
//! Device names become CSV headers, JSON keys, command-line values and file names, so every name
//! that enters a table, from a header or an API call, passes one check: [`validate_device_name`].

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Where a device's column came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSource {
    /// Embedded dataset (name of the bundled file).
    Bundled(&'static str),
    /// A user CSV file.
    File(PathBuf),
    /// Computed in memory (measurements, predictions).
    Computed(String),
}

impl std::fmt::Display for DeviceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSource::Bundled(name) => write!(f, "bundled:{name}"),
            DeviceSource::File(p) => write!(f, "{}", p.display()),
            DeviceSource::Computed(what) => write!(f, "{what}"),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Device name (unique within a table).
    pub name: String,
    /// Where its measurements came from.
    pub source: DeviceSource,
}

/// Longest device name accepted, in characters: names are table headers and file names too.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Check that `name` can be a device: one rule for CSV headers, `--device-name`, predictors and
/// API calls, so that a name accepted anywhere can be written to, and read back from, a CSV
/// header and a command line. Refused: an empty name, a comma, a quote, a control character
/// (newline, tab), a path separator (`/`, `\`) or a name of dots only (names become file names:
/// `<device>.csv`, `pareto-<device>.svg`), an invisible or direction-changing character (a
/// zero-width space or a bidi override makes two different names look alike), leading or
/// trailing spaces, the column names `arch` and `index`, and names longer than
/// [`MAX_DEVICE_NAME_CHARS`].
pub fn validate_device_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty".to_string()
    } else if name.contains(['/', '\\']) {
        "it contains a path separator ('/' or '\\'): device names become file names".into()
    } else if name.chars().all(|c| c == '.') {
        "it is only dots: device names become file names".into()
    } else if let Some(c) = name.chars().find(|&c| invisible(c)) {
        format!("it contains the invisible or direction-changing character U+{:04X}", c as u32)
    } else if name.contains(',') {
        "it contains a comma (the CSV separator)".into()
    } else if name.contains(['"', '\'']) {
        "it contains a quote".into()
    } else if name.chars().any(char::is_control) {
        "it contains a control character (newline, tab, ...)".into()
    } else if name.trim() != name {
        "it starts or ends with a space".into()
    } else if name == "arch" || name == "index" {
        format!("'{name}' is the name of the architecture column")
    } else if name.chars().count() > MAX_DEVICE_NAME_CHARS {
        format!("it is longer than {MAX_DEVICE_NAME_CHARS} characters")
    } else {
        return Ok(());
    };
    Err(Error::BadDeviceName { name: name.to_string(), reason })
}

/// Characters that print as nothing, or change the direction of the text around them: Unicode's
/// format characters (zero-width spaces and joiners, bidi marks, embeddings, overrides and
/// isolates, the byte-order mark, soft hyphen) and the line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_checked_one_way_everywhere() {
        for ok in ["pixel3", "my board", "tract_xeon_8375c", "é", &"x".repeat(MAX_DEVICE_NAME_CHARS)] {
            assert!(validate_device_name(ok).is_ok(), "{ok:?}");
        }
        let bad = [
            ("", "empty"),
            ("a,b", "comma"),
            ("a\"b", "quote"),
            ("it's", "quote"),
            ("a\nb", "control"),
            ("a\tb", "control"),
            (" a", "space"),
            ("a ", "space"),
            ("arch", "architecture column"),
            ("index", "architecture column"),
            ("../evil", "path separator"),
            ("a\\b", "path separator"),
            ("..", "only dots"),
            ("pixel\u{200B}3", "U+200B"),
            ("pixel\u{202E}3", "U+202E"),
        ];
        for (name, why) in bad {
            let e = validate_device_name(name).unwrap_err().to_string();
            assert!(e.contains("invalid device name") && e.contains(why), "{name:?}: {e}");
        }
        let long = "x".repeat(MAX_DEVICE_NAME_CHARS + 1);
        assert!(validate_device_name(&long).unwrap_err().to_string().contains("longer than 64"));
    }
}
