//! Accuracy tables: one accuracy (%) per architecture, from the bundled benchmark or a user CSV
//! with columns `arch,accuracy`.
//!
//! Accuracies are percentages: a value outside [0, 100] is an error; a file whose values all lie
//! in [0, 1] is accepted with a [`Warning`] (fractions rank the same, but every figure printed
//! from them would be off by 100x).

use crate::data::manifest::InputFile;
use crate::data::plausibility::{self, Warning};
use crate::error::{Error, Origin, Result};
use crate::space::{Arch, SearchSpace};
use std::collections::HashMap;
use std::path::Path;

/// Accuracy in percent of architectures of one space.
#[derive(Debug, Clone)]
pub struct AccuracyTable {
    name: String,
    values: HashMap<Arch, f64>,
    input: Option<InputFile>,
    warnings: Vec<Warning>,
}

/// Why an accuracy is refused, if it is: not finite, or not a percentage.
fn accuracy_problem(v: f64) -> Option<&'static str> {
    if !v.is_finite() {
        Some("not a finite number")
    } else if !(0.0..=100.0).contains(&v) {
        Some("an accuracy is a percentage in [0, 100]")
    } else {
        None
    }
}

impl AccuracyTable {
    /// Build from pairs; every value must be a percentage in [0, 100].
    pub fn new(name: &str, pairs: impl IntoIterator<Item = (Arch, f64)>) -> Result<Self> {
        let mut values = HashMap::new();
        for (a, v) in pairs {
            if let Some(why) = accuracy_problem(v) {
                return Err(Error::InvalidParameter(format!("accuracy '{name}': value {v}: {why}")));
            }
            values.insert(a, v);
        }
        Ok(AccuracyTable { name: name.to_string(), values, input: None, warnings: Vec::new() })
    }

    /// Build from pairs given by a program rather than a file (a user's accuracy predictor):
    /// every value a percentage in [0, 100], no architecture twice; errors name the table and
    /// the architecture (written in `space`), which a file's line number would otherwise give.
    pub fn from_values(
        name: &str,
        space: &dyn SearchSpace,
        pairs: impl IntoIterator<Item = (Arch, f64)>,
    ) -> Result<Self> {
        let mut values = HashMap::new();
        for (a, v) in pairs {
            let refuse = |why: &str| Error::InvalidParameter(format!("accuracy '{name}': {}: {why}", space.format(&a)));
            if let Some(why) = accuracy_problem(v) {
                return Err(refuse(&format!("value {v}: {why}")));
            }
            if values.insert(a.clone(), v).is_some() {
                return Err(refuse("given twice"));
            }
        }
        Ok(AccuracyTable { name: name.to_string(), values, input: None, warnings: Vec::new() })
    }

    /// Read `arch,accuracy` from a CSV file.
    pub fn from_csv(path: &Path, space: &dyn SearchSpace) -> Result<Self> {
        let bytes = crate::data::input::read(path)?;
        Self::from_csv_bytes(&bytes, path, space)
    }

    /// Parse `arch,accuracy` CSV bytes; `path` names the source in errors and the manifest.
    /// Separate from [`from_csv`](Self::from_csv) so that the parser can be fuzzed without files.
    pub fn from_csv_bytes(bytes: &[u8], path: &Path, space: &dyn SearchSpace) -> Result<Self> {
        let csv_err = |source| Error::Csv { path: path.to_path_buf(), source };
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
        let lines = crate::data::LineIndex::new(bytes);
        let header: Vec<String> = reader.headers().map_err(csv_err)?.iter().map(str::to_string).collect();
        let col = |n: &str| header.iter().position(|h| h == n);
        for key in ["arch", "accuracy"] {
            if header.iter().filter(|h| *h == key).count() > 1 {
                return Err(Error::BadHeader {
                    path: path.to_path_buf(),
                    reason: format!("duplicate column '{key}': keep one"),
                });
            }
        }
        let (Some(ac), Some(vc)) = (col("arch"), col("accuracy")) else {
            return Err(Error::BadHeader {
                path: path.to_path_buf(),
                reason: "expected columns 'arch' and 'accuracy'".into(),
            });
        };
        let mut values = HashMap::new();
        for rec in reader.records() {
            let rec = rec.map_err(csv_err)?;
            let line = lines.of(&rec);
            let origin = || Origin::File { path: path.to_path_buf(), line };
            let arch = space.parse_at(&rec[ac], origin())?;
            let bad = |reason: &str| Error::BadValue {
                origin: origin(),
                column: "accuracy".into(),
                value: rec[vc].to_string(),
                reason: reason.into(),
            };
            let v: f64 = rec[vc].parse().map_err(|_| bad("not a number"))?;
            if let Some(why) = accuracy_problem(v) {
                return Err(bad(why));
            }
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
        let all: Vec<f64> = values.values().copied().collect();
        Ok(AccuracyTable {
            name: path.display().to_string(),
            values,
            input: Some(InputFile::from_bytes(path.display().to_string(), bytes)),
            warnings: plausibility::accuracy_fractions(path, &all).into_iter().collect(),
        })
    }

    /// Plausibility warnings about the file (values that look like fractions).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Nb201;

    const A: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    const B: &str = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    fn read(text: &str) -> Result<AccuracyTable> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acc.csv");
        std::fs::write(&p, text).unwrap();
        AccuracyTable::from_csv(&p, &Nb201)
    }

    #[test]
    fn values_from_a_program_are_checked_and_errors_name_the_architecture() {
        let space = crate::SpaceId::Nb201.space();
        let all = space.enumerate().unwrap();
        let t = AccuracyTable::from_values("f", space, [(all[0].clone(), 70.0), (all[1].clone(), 71.5)]).unwrap();
        assert_eq!(t.len(), 2);
        let e = AccuracyTable::from_values("f", space, [(all[0].clone(), 70.0), (all[0].clone(), 70.0)]).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid parameter: accuracy 'f': {}: given twice", space.format(&all[0])));
        let e = AccuracyTable::from_values("f", space, [(all[2].clone(), 140.0)]).unwrap_err().to_string();
        let start = format!("invalid parameter: accuracy 'f': {}: value 140", space.format(&all[2]));
        assert!(e.starts_with(&start) && e.contains("percentage"), "{e}");
        let e = AccuracyTable::from_values("f", space, [(all[2].clone(), f64::NAN)]).unwrap_err().to_string();
        assert!(e.contains("not a finite number"), "{e}");
    }

    #[test]
    fn percentages_load_without_warning() {
        let t = read(&format!("arch,accuracy\n{A},71.5\n{B},0.5\n")).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.warnings().is_empty());
    }

    #[test]
    fn accuracies_outside_0_100_are_errors_naming_the_line() {
        for (v, why) in [
            ("140", "percentage in [0, 100]"),
            ("-3", "percentage in [0, 100]"),
            ("inf", "finite"),
            ("x", "not a number"),
        ] {
            let e = read(&format!("arch,accuracy\n{B},50\n{A},{v}\n")).unwrap_err().to_string();
            assert!(e.contains(":3: column 'accuracy': invalid value") && e.contains(why), "{v}: {e}");
        }
        assert!(AccuracyTable::new("t", [(Nb201.parse(A).unwrap(), 101.0)]).is_err());
    }

    #[test]
    fn fractions_load_with_a_warning() {
        let t = read(&format!("arch,accuracy\n{A},0.71\n{B},0.93\n")).unwrap();
        assert_eq!(t.warnings().len(), 1);
        assert!(t.warnings()[0].message.contains("look like fractions"), "{:?}", t.warnings());
    }

    #[test]
    fn a_repeated_column_is_an_error() {
        let e = read(&format!("arch,accuracy,accuracy\n{A},71,72\n")).unwrap_err().to_string();
        assert!(e.contains("duplicate column 'accuracy'"), "{e}");
    }
}
