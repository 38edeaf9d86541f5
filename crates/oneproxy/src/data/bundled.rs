//! The datasets embedded in the library (gzip-compressed CSV), so that oneproxy works from any
//! directory on a fresh machine. Provenance and licences: `crates/oneproxy/data/README.md`.
//!
//! Each space's bundle is decompressed and parsed once per process, on first use.

use crate::data::manifest::InputFile;
use crate::data::AccuracyTable;
use crate::data::{parse_latency_csv, DeviceSource, LatencyTable};
use crate::error::{Error, Origin, Result};
use crate::space::{Arch, Dataset, Embedded, PerSpace, SpaceId};
use std::io::Read;
use std::path::Path;

/// The HELP paper's 10 reference architectures of NB201 (declared with the NB201 dataset).
pub use crate::space::nb201::HELP10_NB201;

/// Everything bundled for one space.
#[derive(Debug)]
pub struct Bundle {
    /// Architectures in the order of the dataset's `index` column.
    pub archs: Vec<Arch>,
    /// Latencies of every bundled device.
    pub latency: LatencyTable,
    /// Accuracy tables (NB201 only): `cifar10`, `cifar100`, `imagenet16-120`.
    pub accuracy: Vec<AccuracyTable>,
}

impl Bundle {
    /// An accuracy table by name.
    pub fn accuracy(&self, name: &str) -> Option<&AccuracyTable> {
        self.accuracy.iter().find(|a| a.name() == name)
    }
}

fn inflate(e: &Embedded) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(e.gz)
        .read_to_end(&mut out)
        .map_err(|err| Error::io(format!("bundled:{}", e.name), err))?;
    Ok(out)
}

/// Whether a bundled device's latencies come from a simulator or an estimator rather than a
/// measurement (HW-NAS-Bench's `eyeriss` and `fpga`, in NB201 and FBNet; each space's
/// [`Dataset::simulated`]): such a device is never a default proxy (`run`'s choice, the `auto`
/// pool) unless the user names it.
pub fn is_simulated(space: SpaceId, device: &str) -> bool {
    space.family().dataset().is_some_and(|d| d.simulated.contains(&device))
}

/// One device's result as the proxy of every other bundled device.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankedProxy {
    /// Device name, or `auto` (the pool, chosen per target).
    pub proxy: String,
    /// Mean regret per latency budget over the targets (points).
    pub mean_regret: f64,
    /// Mean target measurements per target.
    pub mean_measurements: f64,
    /// Targets it served.
    pub targets: usize,
}

/// The shipped ranking of default proxies: each bundled measured device as the proxy of the
/// flow with default settings for all the others, best first. Computed once by
/// `scripts/proxy_ranking.sh` (minutes), read by `run` at start-up (instant).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProxyRanking {
    /// How it was computed.
    pub command: String,
    /// Best first.
    pub ranking: Vec<RankedProxy>,
}

/// The shipped proxy ranking of a space, if there is one.
pub fn proxy_ranking(space: SpaceId) -> Option<ProxyRanking> {
    serde_json::from_str(space.family().dataset()?.proxy_ranking?).ok()
}

/// The bundled data of a space (parsed on first call, then shared).
pub fn bundle(space: SpaceId) -> Result<&'static Bundle> {
    static CELLS: PerSpace<std::result::Result<Bundle, String>> = PerSpace::new();
    CELLS
        .get_or_init(space, || load(space).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::InvalidParameter(format!("bundled data for {space} is corrupt: {e}")))
}

fn load(space: SpaceId) -> Result<Bundle> {
    // Spaces without a dataset: no architectures, no devices (measure your own).
    let Some(dataset) = space.family().dataset() else {
        return Ok(Bundle { archs: Vec::new(), latency: LatencyTable::new(space), accuracy: Vec::new() });
    };
    let archs_csv = inflate(&dataset.archs)?;
    let (archs, accuracy) = parse_archs(space, dataset, &archs_csv)?;
    let mut latency = LatencyTable::new(space);
    for arch in &archs {
        latency.ensure_row(arch);
    }
    latency.push_input(InputFile::from_bytes(format!("bundled:{}", dataset.archs.name), &archs_csv));
    for file in dataset.latency {
        let bytes = inflate(file)?;
        let label = format!("bundled:{}", file.name);
        let csv = parse_latency_csv(&bytes, Path::new(&label), space.space(), Some(&archs))?;
        latency.merge(csv, DeviceSource::Bundled(file.name))?;
    }
    Ok(Bundle { archs, latency, accuracy })
}

/// The architectures of a bundled architecture file and its accuracy tables: an `index` column,
/// the space's architecture fields, then one column per accuracy table.
fn parse_archs(space: SpaceId, dataset: &Dataset, bytes: &[u8]) -> Result<(Vec<Arch>, Vec<AccuracyTable>)> {
    let path = Path::new(dataset.archs.name);
    let fields = 1..1 + dataset.arch_columns;
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let mut archs = Vec::new();
    let mut acc: Vec<Vec<f64>> = vec![Vec::new(); dataset.accuracy.len()];
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|source| Error::Csv { path: path.into(), source })?;
        let origin = Origin::File { path: path.into(), line: i as u64 + 2 };
        if rec[0].parse::<usize>().ok() != Some(i) {
            return Err(Error::BadValue {
                origin,
                column: "index".into(),
                value: rec[0].into(),
                reason: "bundled indices must be 0, 1, 2, ...".into(),
            });
        }
        let described: Vec<&str> = fields.clone().filter_map(|f| rec.get(f)).collect();
        let arch = space.family().parse_bundled(&described).map_err(|reason| Error::BadArch {
            origin,
            space: space.name(),
            value: described.join(","),
            reason,
        })?;
        for (k, a) in acc.iter_mut().enumerate() {
            a.push(rec.get(fields.end + k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN));
        }
        archs.push(arch);
    }
    let accuracy = dataset
        .accuracy
        .iter()
        .zip(acc)
        .map(|(n, values)| AccuracyTable::new(n, archs.iter().cloned().zip(values)))
        .collect::<Result<Vec<_>>>()?;
    Ok((archs, accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nb201_bundle_is_complete() {
        let b = bundle(SpaceId::Nb201).unwrap();
        assert_eq!(b.archs.len(), 15625);
        assert_eq!(b.latency.len(), 15625);
        assert_eq!(b.latency.devices().len(), 29);
        let pixel3 = b.latency.device_index("pixel3").unwrap();
        assert_eq!(b.latency.measured_count(pixel3), 15625);
        let edgetpu = b.latency.device_index("edgetpu").unwrap();
        assert_eq!(b.latency.measured_count(edgetpu), 1999 - 259);
        // Row 0 of the shared data: pixel3 = 3.60585 ms.
        assert_eq!(b.latency.get(0, pixel3), Some(3.60585));
        let c100 = b.accuracy("cifar100").unwrap();
        assert_eq!(c100.get(&b.archs[0]), Some(52.9133));
        let mut sorted = b.archs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 15625, "bundled archs are distinct");
    }

    #[test]
    fn other_bundles_load() {
        let f = bundle(SpaceId::Fbnet).unwrap();
        assert_eq!((f.archs.len(), f.latency.devices().len()), (5000, 27));
        let o = bundle(SpaceId::OfaMbv3).unwrap();
        assert_eq!((o.archs.len(), o.latency.devices().len()), (5000, 12));
        assert!(o.accuracy.is_empty());
    }

    #[test]
    fn spaces_without_data_have_empty_bundles() {
        for s in [SpaceId::Mbv2, SpaceId::Proxyless] {
            let b = bundle(s).unwrap();
            assert!(b.archs.is_empty() && b.latency.is_empty() && b.latency.devices().is_empty());
        }
    }
}
