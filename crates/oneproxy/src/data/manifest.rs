//! Provenance attached to every JSON result: which tool, which space, which seed, which inputs.

pub use crate::files::sha256_hex;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One input file and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Path as given by the user, or `bundled:<dataset>/<file>` for embedded data.
    pub name: String,
    /// Hex SHA-256 of the file's bytes (of the uncompressed CSV for bundled data).
    pub sha256: String,
}

impl InputFile {
    /// Hash bytes under a name.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Self {
        InputFile { name: name.into(), sha256: sha256_hex(bytes) }
    }

    /// Hash a file on disk.
    pub fn from_path(path: &Path) -> crate::Result<Self> {
        let bytes = crate::files::read(path)?;
        Ok(Self::from_bytes(path.display().to_string(), &bytes))
    }
}

/// The small header of every JSON output, so that a result can be traced and reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `oneproxy`.
    pub tool: String,
    /// Version of the library that produced the result.
    pub version: String,
    /// Search space name.
    pub space: String,
    /// Seed of every random choice, where one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Latency unit: always `ms` (milliseconds of one inference, per image).
    pub units: String,
    /// Every input file with its hash.
    pub inputs: Vec<InputFile>,
}

impl Manifest {
    /// A manifest for a space and its inputs.
    pub fn new(space: crate::SpaceId, seed: Option<u64>, inputs: Vec<InputFile>) -> Self {
        Manifest {
            tool: "oneproxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            space: space.name().into(),
            seed,
            units: "ms per image".into(),
            inputs,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_known_text() {
        assert_eq!(super::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
