//! Latency tables: architectures x devices, milliseconds, missing cells allowed.
//!
//! A [`LatencyTable`] is keyed by [`Arch`]; devices are columns. Tables come from the bundled
//! datasets ([`crate::bundled`]) and from user CSV files ([`LatencyTable::merge_csv`]) in one
//! format: a header row; an `arch` column (canonical string of the space) or an `index` column
//! (row index of the bundled dataset); one column per device, in milliseconds; an empty cell
//! means "not measured", and the cell `failed` "cannot be measured" (a measurement log's mark,
//! read as missing here). Every value is checked: a bad cell is an error naming the file, line,
//! column and value, never a silent NaN. Values that parse but look wrong (out of a plausible
//! range, in mixed units) are kept as [`Warning`]s ([`LatencyTable::warnings`]).
//!
//! Device names become CSV headers, JSON keys and command-line values, so every name that enters
//! a table, from a header or an API call, passes one check: [`validate_device_name`].

use crate::error::{Error, Origin, Result};
use crate::manifest::InputFile;
use crate::plausibility::{self, Warning};
use crate::space::{Arch, SearchSpace, SpaceId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// Latencies of architectures on devices, in milliseconds per image.
#[derive(Debug, Clone)]
pub struct LatencyTable {
    space: SpaceId,
    archs: Vec<Arch>,
    rows: HashMap<Arch, usize>,
    devices: Vec<Device>,
    /// Column-major values; NaN marks a missing cell (never exposed as a value).
    columns: Vec<Vec<f64>>,
    inputs: Vec<InputFile>,
    warnings: Vec<Warning>,
}

/// The parsed content of a latency CSV before it is merged into a table.
#[derive(Debug, Clone)]
pub struct LatencyCsv {
    /// Device names from the header.
    pub devices: Vec<String>,
    /// One row per architecture, in file order, with one value per device (NaN = missing).
    pub rows: Vec<(Arch, Vec<f64>)>,
    /// The file's name and hash.
    pub input: InputFile,
    /// Plausibility warnings about its values ([`crate::plausibility`]).
    pub warnings: Vec<Warning>,
    /// Cells marked as impossible to measure ([`crate::data::FAILED`]), as (row, device)
    /// indices into `rows`; their values are missing (NaN).
    pub failed: Vec<(usize, usize)>,
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

impl LatencyTable {
    /// An empty table for a space.
    pub fn new(space: SpaceId) -> Self {
        LatencyTable {
            space,
            archs: Vec::new(),
            rows: HashMap::new(),
            devices: Vec::new(),
            columns: Vec::new(),
            inputs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The space of every architecture in the table.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// Row keys.
    pub fn archs(&self) -> &[Arch] {
        &self.archs
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.archs.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.archs.is_empty()
    }

    /// Columns.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Names of the devices with real measurements (bundled or from files), leaving out the
    /// computed pseudo-devices (`flops`, `params`): the default set wherever "every device" is
    /// meant. Pseudo-devices are still accepted when named.
    pub fn measured_device_names(&self) -> Vec<String> {
        self.devices.iter().filter(|d| !matches!(d.source, DeviceSource::Computed(_))).map(|d| d.name.clone()).collect()
    }

    /// Device names, in column order.
    pub fn device_names(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.name.clone()).collect()
    }

    /// The input files that fed the table, with their hashes.
    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }

    /// Plausibility warnings about the user files merged in (file, line, column, message), in
    /// file order: shown by the CLI on stderr and in its JSON `warnings`.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Column index of a device, or an error suggesting the nearest known name.
    pub fn device_index(&self, name: &str) -> Result<usize> {
        self.devices
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| Error::unknown_device(name, &self.device_names()))
    }

    /// Row index of an architecture.
    pub fn row_of(&self, arch: &Arch) -> Option<usize> {
        self.rows.get(arch).copied()
    }

    /// Raw column: NaN marks missing cells.
    pub fn column(&self, device: usize) -> &[f64] {
        &self.columns[device]
    }

    /// One cell.
    pub fn get(&self, row: usize, device: usize) -> Option<f64> {
        let v = self.columns[device][row];
        (!v.is_nan()).then_some(v)
    }

    /// Latency of an architecture on a device, if measured.
    pub fn latency(&self, arch: &Arch, device: usize) -> Option<f64> {
        self.row_of(arch).and_then(|r| self.get(r, device))
    }

    /// Rows measured on a device.
    pub fn measured_rows(&self, device: usize) -> Vec<usize> {
        self.columns[device].iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, _)| i).collect()
    }

    /// Number of measured cells of a device.
    pub fn measured_count(&self, device: usize) -> usize {
        self.columns[device].iter().filter(|v| !v.is_nan()).count()
    }

    /// The row of `arch`, added (all cells missing) if absent.
    pub fn ensure_row(&mut self, arch: &Arch) -> usize {
        if let Some(&r) = self.rows.get(arch) {
            return r;
        }
        let r = self.archs.len();
        self.archs.push(arch.clone());
        self.rows.insert(arch.clone(), r);
        for c in &mut self.columns {
            c.push(f64::NAN);
        }
        r
    }

    /// Add a device column from (architecture, latency) pairs. Values must be finite and > 0;
    /// the name must be new and valid ([`validate_device_name`]).
    pub fn add_device(
        &mut self,
        name: &str,
        source: DeviceSource,
        values: impl IntoIterator<Item = (Arch, f64)>,
    ) -> Result<usize> {
        validate_device_name(name)?;
        if let Some(prev) = self.devices.iter().find(|d| d.name == name) {
            let path = match &source {
                DeviceSource::File(p) => p.clone(),
                other => PathBuf::from(other.to_string()),
            };
            return Err(Error::DuplicateDevice { path, device: name.to_string(), previous: prev.source.to_string() });
        }
        let d = self.devices.len();
        self.devices.push(Device { name: name.to_string(), source });
        self.columns.push(vec![f64::NAN; self.archs.len()]);
        for (arch, v) in values {
            if let Err(why) = crate::data::check_latency(v) {
                return Err(Error::InvalidParameter(format!("device '{name}': {why}")));
            }
            let r = self.ensure_row(&arch);
            self.columns[d][r] = v;
        }
        Ok(d)
    }

    /// Merge a parsed CSV: its devices become new columns (names must be new).
    pub fn merge(&mut self, csv: LatencyCsv, source: DeviceSource) -> Result<()> {
        let path = match &source {
            DeviceSource::File(p) => p.clone(),
            other => PathBuf::from(other.to_string()),
        };
        for name in &csv.devices {
            validate_device_name(name)?;
            if let Some(prev) = self.devices.iter().find(|d| &d.name == name) {
                return Err(Error::DuplicateDevice { path, device: name.clone(), previous: prev.source.to_string() });
            }
        }
        let first = self.devices.len();
        for name in &csv.devices {
            self.devices.push(Device { name: name.clone(), source: source.clone() });
            self.columns.push(vec![f64::NAN; self.archs.len()]);
        }
        for (arch, values) in csv.rows {
            let r = self.ensure_row(&arch);
            for (k, v) in values.into_iter().enumerate() {
                self.columns[first + k][r] = v;
            }
        }
        self.inputs.push(csv.input);
        self.warnings.extend(csv.warnings);
        Ok(())
    }

    /// Read a user CSV file and add its devices. `index` columns refer to `bundled_archs`.
    pub fn merge_csv(&mut self, path: &Path, bundled_archs: Option<&[Arch]>) -> Result<()> {
        let csv = read_latency_csv(path, self.space.space(), bundled_archs)?;
        self.merge(csv, DeviceSource::File(path.to_path_buf()))
    }

    /// The bundled table of a space plus the devices of user files (`--latency F`).
    ///
    /// User rows are matched to bundled rows by architecture; architectures that the bundled
    /// data does not have become new rows. A user device may not reuse a bundled name.
    pub fn bundled_with(space: SpaceId, files: &[PathBuf]) -> Result<Self> {
        let bundle = crate::bundled::bundle(space)?;
        let mut table = bundle.latency.clone();
        for f in files {
            table.merge_csv(f, Some(&bundle.archs))?;
        }
        table.add_cost_devices()?;
        Ok(table)
    }

    /// Add the pseudo-devices `flops` (multiply-adds, in millions) and `params` (millions),
    /// computed from each architecture's network ([`crate::network`]) for every row: the
    /// zero-measurement baseline, usable wherever a device is (monotonicity, proxy, pool).
    /// Their values are not milliseconds; only their rankings are meaningful.
    pub fn add_cost_devices(&mut self) -> Result<()> {
        if self.archs.is_empty() {
            return Ok(());
        }
        let space = self.space;
        let costs: Vec<crate::network::Cost> = {
            use rayon::prelude::*;
            self.archs.par_iter().map(|a| crate::network::cost(space, a)).collect()
        };
        let archs = self.archs.clone();
        let source = |what: &str| DeviceSource::Computed(format!("computed: {what} of the {space} network"));
        self.add_device(
            "flops",
            source("multiply-adds"),
            archs.iter().cloned().zip(costs.iter().map(|c| c.flops as f64 / 1e6)),
        )?;
        self.add_device(
            "params",
            source("parameters"),
            archs.into_iter().zip(costs.iter().map(|c| c.params as f64 / 1e6)),
        )?;
        Ok(())
    }

    /// Record an input (used by the bundled loader).
    pub(crate) fn push_input(&mut self, input: InputFile) {
        self.inputs.push(input);
    }

    /// Rows where both devices are measured, and the two value vectors.
    pub fn paired(&self, a: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
        let (ca, cb) = (&self.columns[a], &self.columns[b]);
        ca.iter().zip(cb).filter(|(x, y)| !x.is_nan() && !y.is_nan()).map(|(x, y)| (*x, *y)).unzip()
    }
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

/// One latency cell: empty = missing (NaN); otherwise a finite number > 0 (the cell
/// [`crate::data::FAILED`] is read by the CSV reader, as missing).
pub fn parse_latency(cell: &str) -> std::result::Result<f64, String> {
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    let v: f64 = cell.parse().map_err(|_| "not a number".to_string())?;
    if v.is_nan() {
        return Err("NaN is not a latency; leave the cell empty for 'not measured'".into());
    }
    if !v.is_finite() {
        return Err("latency must be finite".into());
    }
    if v <= 0.0 {
        return Err("latency must be > 0 ms".into());
    }
    Ok(v)
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
    fn merge_adds_rows_and_refuses_duplicate_devices() {
        let mut t = LatencyTable::new(SpaceId::Nb201);
        t.merge(parse(&format!("arch,d1\n{A},1\n")).unwrap(), DeviceSource::Computed("x".into())).unwrap();
        t.merge(parse(&format!("arch,d2\n{B},2\n{A},4\n")).unwrap(), DeviceSource::Computed("y".into())).unwrap();
        assert_eq!(t.len(), 2);
        let a = Nb201.parse(A).unwrap();
        let b = Nb201.parse(B).unwrap();
        assert_eq!(t.latency(&a, 1), Some(4.0));
        assert_eq!(t.latency(&b, 0), None);
        assert_eq!(t.paired(0, 1), (vec![1.0], vec![4.0]));
        let err = t.merge(parse(&format!("arch,d1\n{A},1\n")).unwrap(), DeviceSource::File("z.csv".into()));
        assert!(err.unwrap_err().to_string().contains("device 'd1' is already defined (x)"));
        assert!(t.device_index("nope").unwrap_err().to_string().contains("known devices: d1, d2"));
    }

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
        // The same rule guards headers and in-memory columns.
        let e = parse(&format!("arch,\"a,b\"\n{A},1\n")).unwrap_err().to_string();
        assert!(e.contains("my.csv: column 2: invalid device name 'a,b'"), "{e}");
        let mut t = LatencyTable::new(SpaceId::Nb201);
        assert!(t.add_device("x\ny", DeviceSource::Computed("test".into()), []).is_err());
    }

    #[test]
    fn a_repeated_arch_column_is_an_error_not_a_device() {
        let e = parse(&format!("arch,arch\n{A},{A}\n")).unwrap_err().to_string();
        assert!(e.contains("duplicate column 'arch' (columns 1 and 2)"), "{e}");
        let e = parse(&format!("index,arch,dev,index\n0,{A},1,0\n")).unwrap_err().to_string();
        assert!(e.contains("duplicate column 'index' (columns 1 and 4)"), "{e}");
    }

    #[test]
    fn implausible_values_are_kept_as_warnings_with_file_and_line() {
        let csv = parse(&format!("arch,ok,fast\n{A},1.5,0.0000002\n{B},2,3\n")).unwrap();
        assert_eq!(csv.warnings.len(), 1, "{:?}", csv.warnings);
        let w = &csv.warnings[0];
        assert_eq!((w.file.as_deref(), w.line, w.column.as_deref()), (Some("my.csv"), Some(2), Some("fast")));
        let mut t = LatencyTable::new(SpaceId::Nb201);
        t.merge(csv, DeviceSource::File("my.csv".into())).unwrap();
        assert_eq!(t.warnings().len(), 1);
        assert!(t.warnings()[0].to_string().starts_with("my.csv:2: column 'fast': implausibly fast"));
    }

    #[test]
    fn bundled_data_raises_no_warning() {
        for space in [SpaceId::Nb201, SpaceId::Fbnet, SpaceId::OfaMbv3] {
            let t = LatencyTable::bundled_with(space, &[]).unwrap();
            assert!(t.warnings().is_empty(), "{space}: {:?}", t.warnings());
        }
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
