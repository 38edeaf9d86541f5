//! [`LatencyTable`]: latencies of architectures (rows) on devices (columns), in ms per image,
//! missing cells allowed. Nothing else: the CSV format is [`super::latency_csv`], the bundled
//! data and user files are assembled by [`super::load`], the `flops` and `params` pseudo-devices
//! come from [`super::pseudo`].

use super::device::{validate_device_name, Device, DeviceSource};
use super::latency_csv::{read_latency_csv, LatencyCsv};
use super::manifest::InputFile;
use super::plausibility::Warning;
use crate::error::{Error, Result};
use crate::space::{Arch, Encoded, SpaceId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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
    /// The rows encoded for prediction, on first need ([`LatencyTable::encoded`]); shared by
    /// the copies of the table, reset when a row is added.
    encoded: OnceLock<Arc<Encoded>>,
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
            encoded: OnceLock::new(),
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

    /// The rows encoded for prediction ([`Encoded`]), computed on first need: every refit of
    /// the flow predicts the table's rows again.
    pub fn encoded(&self) -> &Encoded {
        self.encoded.get_or_init(|| Arc::new(Encoded::new(self.space, &self.archs)))
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

    /// Whether a device's latencies come from a simulator or an estimator, not a measurement:
    /// a bundled device of the space's simulated list ([`super::is_simulated`]); a user's file
    /// is taken as measured, whatever its device is called.
    pub fn simulated(&self, device: usize) -> bool {
        let d = &self.devices[device];
        super::is_simulated(self.space, &d.name) && matches!(d.source, DeviceSource::Bundled(_))
    }

    /// The row of `arch`, added (all cells missing) if absent.
    pub fn ensure_row(&mut self, arch: &Arch) -> usize {
        if let Some(&r) = self.rows.get(arch) {
            return r;
        }
        let r = self.archs.len();
        self.archs.push(arch.clone());
        self.encoded = OnceLock::new();
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

    /// Record an input (used by the bundled loader).
    pub(crate) fn push_input(&mut self, input: InputFile) {
        self.inputs.push(input);
    }

    /// The table without the named devices (names it does not hold are ignored): the rows, their
    /// order and the inputs stay, so that flows over it draw the same architectures.
    pub fn without_devices(&self, names: &[String]) -> LatencyTable {
        let keep: Vec<usize> = (0..self.devices.len()).filter(|&d| !names.contains(&self.devices[d].name)).collect();
        LatencyTable {
            devices: keep.iter().map(|&d| self.devices[d].clone()).collect(),
            columns: keep.iter().map(|&d| self.columns[d].clone()).collect(),
            ..self.clone_rows()
        }
    }

    /// The rows, inputs and warnings, without devices.
    fn clone_rows(&self) -> LatencyTable {
        LatencyTable {
            space: self.space,
            archs: self.archs.clone(),
            rows: self.rows.clone(),
            devices: Vec::new(),
            columns: Vec::new(),
            inputs: self.inputs.clone(),
            warnings: self.warnings.clone(),
            encoded: self.encoded.clone(),
        }
    }

    /// Rows where both devices are measured, and the two value vectors.
    pub fn paired(&self, a: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
        let (ca, cb) = (&self.columns[a], &self.columns[b]);
        ca.iter().zip(cb).filter(|(x, y)| !x.is_nan() && !y.is_nan()).map(|(x, y)| (*x, *y)).unzip()
    }
}

/// The correlation matrix reads a table through [`DeviceColumns`]; each method is the table's own.
impl crate::stats::DeviceColumns for LatencyTable {
    fn rows(&self) -> usize {
        self.len()
    }
    fn measured_device_names(&self) -> Vec<String> {
        LatencyTable::measured_device_names(self)
    }
    fn device_index(&self, name: &str) -> Result<usize> {
        LatencyTable::device_index(self, name)
    }
    fn column(&self, device: usize) -> &[f64] {
        LatencyTable::column(self, device)
    }
    fn measured_count(&self, device: usize) -> usize {
        LatencyTable::measured_count(self, device)
    }
    fn paired(&self, a: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
        LatencyTable::paired(self, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::latency_csv::parse_latency_csv;
    use crate::space::{Nb201, SearchSpace};

    const A: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    const B: &str = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    #[test]
    fn only_a_bundled_simulator_column_is_simulated() {
        let a = Nb201.parse(A).unwrap();
        let mut t = LatencyTable::new(SpaceId::Nb201);
        t.add_device("eyeriss", DeviceSource::Bundled("latency.csv"), [(a.clone(), 2.0)]).unwrap();
        t.add_device("pixel3", DeviceSource::Bundled("latency.csv"), [(a.clone(), 3.0)]).unwrap();
        assert!(t.simulated(0) && !t.simulated(1));
        // A user's file measured a real board, whatever it is called.
        let mut mine = LatencyTable::new(SpaceId::Nb201);
        mine.add_device("eyeriss", DeviceSource::File("e.csv".into()), [(a, 2.0)]).unwrap();
        assert!(!mine.simulated(0));
    }

    fn parse(text: &str) -> Result<LatencyCsv> {
        parse_latency_csv(text.as_bytes(), Path::new("my.csv"), &Nb201, None)
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
    fn headers_and_columns_share_the_device_name_rule() {
        let e = parse(&format!("arch,\"a,b\"\n{A},1\n")).unwrap_err().to_string();
        assert!(e.contains("my.csv: column 2: invalid device name 'a,b'"), "{e}");
        let mut t = LatencyTable::new(SpaceId::Nb201);
        assert!(t.add_device("x\ny", DeviceSource::Computed("test".into()), []).is_err());
    }
}
