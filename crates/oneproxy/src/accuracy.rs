//! Accuracy tables: one accuracy (%) per architecture, from the bundled benchmark or a user CSV
//! with columns `arch,accuracy`.

use crate::error::{Error, Origin, Result};
use crate::manifest::InputFile;
use crate::space::{Arch, SearchSpace};
use std::collections::HashMap;
use std::path::Path;

/// Accuracy in percent of architectures of one space.
#[derive(Debug, Clone)]
pub struct AccuracyTable {
    name: String,
    values: HashMap<Arch, f64>,
    input: Option<InputFile>,
}

impl AccuracyTable {
    /// Build from pairs; every value must be finite.
    pub fn new(name: &str, pairs: impl IntoIterator<Item = (Arch, f64)>) -> Result<Self> {
        let mut values = HashMap::new();
        for (a, v) in pairs {
            if !v.is_finite() {
                return Err(Error::InvalidParameter(format!("accuracy '{name}': value {v} is not finite")));
            }
            values.insert(a, v);
        }
        Ok(AccuracyTable { name: name.to_string(), values, input: None })
    }

    /// Read `arch,accuracy` from a CSV file.
    pub fn from_csv(path: &Path, space: &dyn SearchSpace) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_csv_bytes(&bytes, path, space)
    }

    /// Parse `arch,accuracy` CSV bytes; `path` names the source in errors and the manifest.
    /// Separate from [`from_csv`](Self::from_csv) so that the parser can be fuzzed without files.
    pub fn from_csv_bytes(bytes: &[u8], path: &Path, space: &dyn SearchSpace) -> Result<Self> {
        let csv_err = |source| Error::Csv { path: path.to_path_buf(), source };
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
        let header: Vec<String> = reader.headers().map_err(csv_err)?.iter().map(str::to_string).collect();
        let col = |n: &str| header.iter().position(|h| h == n);
        let (Some(ac), Some(vc)) = (col("arch"), col("accuracy")) else {
            return Err(Error::BadHeader {
                path: path.to_path_buf(),
                reason: "expected columns 'arch' and 'accuracy'".into(),
            });
        };
        let mut values = HashMap::new();
        for rec in reader.records() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(0, |p| p.line());
            let origin = || Origin::File { path: path.to_path_buf(), line };
            let arch = space.parse_at(&rec[ac], origin())?;
            let v: f64 = rec[vc].parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| Error::BadValue {
                origin: origin(),
                column: "accuracy".into(),
                value: rec[vc].to_string(),
                reason: "not a finite number".into(),
            })?;
            if values.insert(arch.clone(), v).is_some() {
                return Err(Error::BadValue {
                    origin: origin(),
                    column: "arch".into(),
                    value: rec[ac].to_string(),
                    reason: "duplicate architecture".into(),
                });
            }
        }
        if values.is_empty() {
            return Err(Error::BadHeader { path: path.to_path_buf(), reason: "no data rows".into() });
        }
        Ok(AccuracyTable {
            name: path.display().to_string(),
            values,
            input: Some(InputFile::from_bytes(path.display().to_string(), bytes)),
        })
    }

    /// The table's name (`cifar100`, or the file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Accuracy of an architecture.
    pub fn get(&self, arch: &Arch) -> Option<f64> {
        self.values.get(arch).copied()
    }

    /// Every architecture with an accuracy, in a stable (sorted) order.
    pub fn archs(&self) -> Vec<Arch> {
        let mut v: Vec<Arch> = self.values.keys().cloned().collect();
        v.sort();
        v
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The file it was read from, if any.
    pub fn input(&self) -> Option<&InputFile> {
        self.input.as_ref()
    }
}
