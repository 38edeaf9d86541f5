//! The latency CSV format, read into a [`LatencyCsv`] before it joins a table.
//!
//! A header row; an `arch` column (canonical string of the space) or an `index` column (row
//! index of the bundled dataset); one column per device, in milliseconds. An empty cell means
//! "not measured", and the cell `failed` "cannot be measured" (a measurement log's mark, read as
//! missing here). Every value is checked: a bad cell is an error naming the file, line, column
//! and value, never a silent NaN. Values that parse but look wrong (out of a plausible range, in
//! mixed units) are kept as [`Warning`]s.

use super::device::validate_device_name;
use super::latency::parse_latency;
use super::manifest::InputFile;
use super::plausibility::{self, Warning};
use crate::error::{Error, Origin, Result};
use crate::space::{Arch, SearchSpace};
use std::collections::HashMap;
use std::path::Path;

/// The parsed content of a latency CSV before it is merged into a table.
#[derive(Debug, Clone)]
pub struct LatencyCsv {
    /// Device names from the header.
    pub devices: Vec<String>,
    /// One row per architecture, in file order, with one value per device (NaN = missing).
    pub rows: Vec<(Arch, Vec<f64>)>,
    /// The file's name and hash.
    pub input: InputFile,
    /// Plausibility warnings about its values ([`crate::data::plausibility`]).
    pub warnings: Vec<Warning>,
    /// Cells marked as impossible to measure ([`crate::data::FAILED`]), as (row, device)
    /// indices into `rows`; their values are missing (NaN).
    pub failed: Vec<(usize, usize)>,
}

/// Parse a latency CSV file (see the module docs for the format).
pub fn read_latency_csv(path: &Path, space: &dyn SearchSpace, bundled_archs: Option<&[Arch]>) -> Result<LatencyCsv> {
    let bytes = crate::data::input::read(path)?;
    parse_latency_csv(&bytes, path, space, bundled_archs)
}

/// Parse latency CSV bytes; `path` is used in messages and in the manifest.
pub fn parse_latency_csv(
    bytes: &[u8],
    path: &Path,
    space: &dyn SearchSpace,
    bundled_archs: Option<&[Arch]>,
) -> Result<LatencyCsv> {
    parse_rows(bytes, path, space, bundled_archs, false)
}

/// Read a measurement log's CSV: a latency CSV that may hold no row yet (a log is written, with
/// its header, before its first measurement).
pub(crate) fn read_log_csv(path: &Path, space: &dyn SearchSpace, bundled_archs: Option<&[Arch]>) -> Result<LatencyCsv> {
    let bytes = crate::data::input::read(path)?;
    parse_rows(&bytes, path, space, bundled_archs, true)
}

fn parse_rows(
    bytes: &[u8],
    path: &Path,
    space: &dyn SearchSpace,
    bundled_archs: Option<&[Arch]>,
    allow_empty: bool,
) -> Result<LatencyCsv> {
    let input = InputFile::from_bytes(path.display().to_string(), bytes);
    let csv_err = |source| Error::Csv { path: path.to_path_buf(), source };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let line_index = crate::data::LineIndex::new(bytes);
    let header: Vec<String> = reader.headers().map_err(csv_err)?.iter().map(str::to_string).collect();
    let bad_header = |reason: String| Error::BadHeader { path: path.to_path_buf(), reason };
    if header.iter().all(|h| h.is_empty()) {
        return Err(bad_header("empty file: expected a header row".into()));
    }
    for key in ["arch", "index"] {
        let at: Vec<String> =
            header.iter().enumerate().filter(|(_, h)| *h == key).map(|(i, _)| (i + 1).to_string()).collect();
        if at.len() > 1 {
            return Err(bad_header(format!("duplicate column '{key}' (columns {}): keep one", at.join(" and "))));
        }
    }
    let arch_col = header.iter().position(|h| h == "arch");
    let index_col = header.iter().position(|h| h == "index");
    if arch_col.is_none() && index_col.is_none() {
        return Err(bad_header("no 'arch' (or 'index') column in the header".into()));
    }
    if index_col.is_some() && arch_col.is_none() && bundled_archs.is_none() {
        return Err(bad_header(format!(
            "an 'index' column needs a bundled dataset for space {}; use an 'arch' column",
            space.id()
        )));
    }
    let mut device_cols = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        if Some(i) == arch_col || Some(i) == index_col {
            continue;
        }
        if h.is_empty() {
            return Err(bad_header(format!("column {} has an empty name", i + 1)));
        }
        if let Err(e) = validate_device_name(h) {
            return Err(bad_header(format!("column {}: {e}", i + 1)));
        }
        if let Some(prev) = names.insert(h, i) {
            return Err(Error::DuplicateDevice {
                path: path.to_path_buf(),
                device: h.clone(),
                previous: format!("column {} of the same header", prev + 1),
            });
        }
        device_cols.push(i);
    }
    if device_cols.is_empty() {
        return Err(bad_header("no device column: expected at least one latency column after 'arch'".into()));
    }

    let mut rows = Vec::new();
    let mut failed = Vec::new();
    let mut lines = Vec::new();
    let mut seen: HashMap<Arch, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = line_index.of(&record);
        let origin = || Origin::File { path: path.to_path_buf(), line };
        let arch = match (arch_col, index_col) {
            (Some(c), _) => space.parse_at(&record[c], origin())?,
            (None, Some(c)) => {
                let raw = &record[c];
                let archs = bundled_archs.expect("checked above");
                let idx: usize = raw.parse().map_err(|_| Error::BadValue {
                    origin: origin(),
                    column: "index".into(),
                    value: raw.to_string(),
                    reason: "not a non-negative integer".into(),
                })?;
                archs.get(idx).cloned().ok_or_else(|| Error::BadValue {
                    origin: origin(),
                    column: "index".into(),
                    value: raw.to_string(),
                    reason: format!("out of range: the bundled {} data has {} architectures", space.id(), archs.len()),
                })?
            }
            (None, None) => unreachable!("checked above"),
        };
        if let Some(&first_line) = seen.get(&arch) {
            return Err(Error::DuplicateArch { path: path.to_path_buf(), line, first_line, arch: space.format(&arch) });
        }
        seen.insert(arch.clone(), line);
        let mut values = Vec::with_capacity(device_cols.len());
        for (k, &c) in device_cols.iter().enumerate() {
            if record[c].eq_ignore_ascii_case(crate::data::FAILED) {
                failed.push((rows.len(), k));
                values.push(f64::NAN);
                continue;
            }
            values.push(parse_latency(&record[c]).map_err(|reason| Error::BadValue {
                origin: origin(),
                column: header[c].clone(),
                value: record[c].to_string(),
                reason,
            })?);
        }
        rows.push((arch, values));
        lines.push(line);
    }
    if rows.is_empty() && !allow_empty {
        return Err(bad_header("no data rows".into()));
    }
    let devices: Vec<String> = device_cols.iter().map(|&c| header[c].clone()).collect();
    let warnings = devices
        .iter()
        .enumerate()
        .flat_map(|(k, name)| {
            let cells: Vec<(u64, f64)> =
                lines.iter().zip(&rows).map(|(&l, r)| (l, r.1[k])).filter(|c| !c.1.is_nan()).collect();
            plausibility::latency_column(path, name, &cells)
        })
        .collect();
    Ok(LatencyCsv { devices, rows, input, warnings, failed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Nb201;

    const A: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    const B: &str = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    fn parse(text: &str) -> Result<LatencyCsv> {
        parse_latency_csv(text.as_bytes(), Path::new("my.csv"), &Nb201, None)
    }

    #[test]
    fn reads_arch_rows_and_missing_cells() {
        let csv = parse(&format!("arch,dev1,dev2\n{A},1.5,\n{B},2,3\n")).unwrap();
        assert_eq!(csv.devices, vec!["dev1", "dev2"]);
        assert_eq!(csv.rows.len(), 2);
        assert!(csv.rows[0].1[1].is_nan());
        assert_eq!(csv.rows[1].1, vec![2.0, 3.0]);
    }

    #[test]
    fn errors_name_file_line_column_and_value() {
        let cases = [
            (format!("arch,dev\n{A},abc\n"), "my.csv:2: column 'dev': invalid value 'abc'"),
            (format!("arch,dev\n{A},1\n{B},NaN\n"), "my.csv:3: column 'dev': invalid value 'NaN'"),
            (format!("arch,dev\n{A},-1\n"), "must be > 0"),
            (format!("arch,dev\n{A},0\n"), "must be > 0"),
            (format!("arch,dev\n{A},inf\n"), "finite"),
            (format!("arch,dev\n{A},1\n{A},2\n"), "my.csv:3: duplicate row"),
            (format!("arch,dev,dev\n{A},1,2\n"), "device 'dev' is already defined"),
            (format!("arch\n{A}\n"), "no device column"),
            ("dev\n1\n".to_string(), "no 'arch'"),
            ("arch,dev\n|bogus|,1\n".to_string(), "my.csv:2: invalid nb201 architecture"),
            (format!("arch,dev\n{A},1,2\n"), "malformed CSV"),
            ("".to_string(), "empty file"),
            ("arch,dev\n".to_string(), "no data rows"),
            ("index,dev\n0,1\n".to_string(), "needs a bundled dataset"),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: got '{err}', want '{want}'");
        }
    }

    #[test]
    fn a_repeated_arch_column_is_an_error_not_a_device() {
        let e = parse(&format!("arch,arch\n{A},{A}\n")).unwrap_err().to_string();
        assert!(e.contains("duplicate column 'arch' (columns 1 and 2)"), "{e}");
        let e = parse(&format!("index,arch,dev,index\n0,{A},1,0\n")).unwrap_err().to_string();
        assert!(e.contains("duplicate column 'index' (columns 1 and 4)"), "{e}");
    }

    #[test]
    fn index_column_maps_to_bundled_archs() {
        let archs = vec![Nb201.parse(A).unwrap(), Nb201.parse(B).unwrap()];
        let csv = parse_latency_csv(b"index,d\n1,3\n", Path::new("f.csv"), &Nb201, Some(&archs)).unwrap();
        assert_eq!(csv.rows[0].0, archs[1]);
        let err = parse_latency_csv(b"index,d\n2,3\n", Path::new("f.csv"), &Nb201, Some(&archs)).unwrap_err();
        assert!(err.to_string().contains("f.csv:2: column 'index': invalid value '2': out of range"));
    }
}
