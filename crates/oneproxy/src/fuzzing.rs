//! Fuzzing harness: one function per fuzz target, shared by the cargo-fuzz targets in `fuzz/`
//! and by the corpus replay test (`tests/fuzz_corpus.rs`), so that the nightly fuzzer and the
//! stable test suite check exactly the same code paths and invariants.
//!
//! Each function takes arbitrary bytes, feeds them to a user-facing parser and, when the input
//! is accepted, checks invariants that must hold for every accepted input; a rejected input must
//! give an error with a message. A broken invariant panics: that is what the fuzzer and the test
//! look for. The functions never panic on their own otherwise, whatever the bytes.
//!
//! Not part of the public API (hidden from the docs); it lives in the library only because both
//! the fuzz crate and the integration test need it.

use crate::data::AccuracyTable;
use crate::data::{parse_latency_csv, DeviceSource, LatencyTable};
use crate::error::Error;
use crate::predictor::{AdditivePredictor, ProxyLatency};
use crate::space::{seeded_rng, Arch, SearchSpace, SpaceId};
use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

/// What a parser did with one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least one space accepted the input (and every invariant held).
    Accepted,
    /// Every space refused it with an error.
    Rejected,
}

impl Verdict {
    fn any(accepted: impl IntoIterator<Item = bool>) -> Self {
        // Not `Iterator::any`: every space must run, even after one accepts.
        let hits = accepted.into_iter().fold(0usize, |n, ok| n + usize::from(ok));
        if hits > 0 {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        }
    }
}

/// Run `parse` for each space in turn until one accepts the input, or refuses it for a reason
/// other than its architecture strings. Those other reasons (header, CSV syntax, values) do not
/// depend on the space, so the remaining spaces would only repeat them; stopping there keeps the
/// fuzzer fast (building a CSV reader dominates an execution). Every refusal must have a message.
fn first_accepting<T>(what: &str, mut parse: impl FnMut(SpaceId) -> crate::Result<T>) -> Option<(SpaceId, T)> {
    for id in SpaceId::ALL {
        match parse(id) {
            Ok(parsed) => return Some((id, parsed)),
            Err(e) => {
                check_error(what, &e);
                if !matches!(e, Error::BadArch { .. }) {
                    return None;
                }
            }
        }
    }
    None
}

/// The name inputs get in error messages.
const SOURCE: &str = "fuzz-input";

/// A few architectures per space, fixed by a seed: what `index` columns refer to and what loaded
/// predictors are asked to predict. Small, so that index lookups also hit "out of range".
fn reference_archs(space: SpaceId) -> &'static [Arch] {
    static CELLS: [OnceLock<Vec<Arch>>; SpaceId::ALL.len()] = [const { OnceLock::new() }; SpaceId::ALL.len()];
    let i = SpaceId::ALL.iter().position(|&s| s == space).unwrap_or(0);
    CELLS[i].get_or_init(|| {
        let mut rng = seeded_rng(8);
        (0..8).map(|_| space.space().sample(&mut rng)).collect()
    })
}

/// A rejected input must say why.
fn check_error(what: &str, err: &Error) {
    assert!(!err.to_string().trim().is_empty(), "{what}: error without a message: {err:?}");
}

/// What every accepted architecture must satisfy: genes in range and canonical, the canonical
/// string parses back to the same architecture and formats to itself, the encoding has the
/// space's length and finite values, and the network builds with positive cost.
pub fn check_arch(space: &dyn SearchSpace, arch: &Arch) {
    let id = space.id();
    let genes = arch.genes();
    let card = space.gene_cardinalities();
    assert_eq!(genes.len(), card.len(), "{id}: wrong number of genes {genes:?}");
    assert!(genes.iter().zip(card).all(|(g, c)| g < c), "{id}: gene out of range {genes:?}");
    let mut canonical = genes.to_vec();
    space.canonicalize(&mut canonical);
    assert_eq!(canonical, genes, "{id}: parsed genes are not canonical");
    let text = space.format(arch);
    let again = space.parse(&text).unwrap_or_else(|e| panic!("{id}: canonical string '{text}' does not parse: {e}"));
    assert_eq!(&again, arch, "{id}: '{text}' parses to another architecture");
    assert_eq!(space.format(&again), text, "{id}: formatting is not stable");
    let enc = space.encode(arch);
    assert_eq!(enc.len(), space.num_features(), "{id}: encoding length");
    assert!(enc.iter().all(|v| v.is_finite()), "{id}: non-finite encoding of '{text}'");
    let cost = id.cost(arch);
    assert!(cost.flops > 0 && cost.params > 0, "{id}: '{text}' has cost {cost:?}");
}

/// Target `arch_string`: the bytes (as UTF-8) through every space's architecture parser.
pub fn arch_string(data: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(data) else {
        return Verdict::Rejected;
    };
    Verdict::any(SpaceId::ALL.map(|id| {
        let space = id.space();
        match space.parse(text) {
            Ok(arch) => {
                check_arch(space, &arch);
                true
            }
            Err(e) => {
                check_error("arch", &e);
                false
            }
        }
    }))
}

/// Target `latency_csv`: the bytes as a user latency CSV, for the first space whose
/// architecture strings it holds (an `index` column refers to [`reference_archs`]). An accepted
/// file has devices with unique non-empty names, at least one row, one value per device per row
/// (missing, or finite and > 0), unique and canonical architectures, and merges into an empty
/// table cell for cell.
pub fn latency_csv(data: &[u8]) -> Verdict {
    let parsed = first_accepting("latency csv", |id| {
        parse_latency_csv(data, Path::new(SOURCE), id.space(), Some(reference_archs(id)))
    });
    let Some((id, csv)) = parsed else {
        return Verdict::Rejected;
    };
    let space = id.space();
    assert!(!csv.devices.is_empty() && !csv.rows.is_empty(), "{id}: accepted a file without devices or rows");
    let names: HashSet<&str> = csv.devices.iter().map(String::as_str).collect();
    assert_eq!(names.len(), csv.devices.len(), "{id}: duplicate device in {:?}", csv.devices);
    assert!(!names.contains(""), "{id}: empty device name");
    let mut archs = HashSet::new();
    for (arch, values) in &csv.rows {
        check_arch(space, arch);
        assert!(archs.insert(arch.clone()), "{id}: duplicate row {}", space.format(arch));
        assert_eq!(values.len(), csv.devices.len(), "{id}: ragged row");
        assert!(values.iter().all(|v| v.is_nan() || (v.is_finite() && *v > 0.0)), "{id}: bad latency in {values:?}");
    }
    let mut table = LatencyTable::new(id);
    table
        .merge(csv.clone(), DeviceSource::Computed(SOURCE.into()))
        .unwrap_or_else(|e| panic!("{id}: a parsed file does not merge into an empty table: {e}"));
    assert_eq!(table.len(), csv.rows.len(), "{id}: rows lost in the merge");
    assert_eq!(table.device_names(), csv.devices, "{id}: devices changed in the merge");
    for (arch, values) in &csv.rows {
        for (d, v) in values.iter().enumerate() {
            let got = table.latency(arch, d);
            assert_eq!(got, (!v.is_nan()).then_some(*v), "{id}: cell changed in the merge");
        }
    }
    Verdict::Accepted
}

/// Target `predictor_json`: the bytes as a saved predictor. An accepted predictor predicts one
/// value per architecture for a few architectures of its space, the same with and without a
/// (here empty) latency table when it has no proxy terms, refuses an empty table when it has,
/// and survives a save/load round trip.
pub fn predictor_json(data: &[u8]) -> Verdict {
    let p = match AdditivePredictor::from_json(data, Path::new(SOURCE)) {
        Ok(p) => p,
        Err(e) => {
            check_error("predictor", &e);
            return Verdict::Rejected;
        }
    };
    let archs = reference_archs(p.space());
    let plain = p
        .predict(archs, ProxyLatency::Modelled)
        .unwrap_or_else(|e| panic!("predicting on the proxies' models needs no table, yet failed: {e}"));
    assert_eq!(plain.len(), archs.len(), "one prediction per architecture");
    let first = p.predict(&archs[..1], ProxyLatency::Modelled).unwrap_or_default();
    assert_eq!(first.first().map(|v| v.to_bits()), Some(plain[0].to_bits()), "one at a time and all at once disagree");
    let empty = LatencyTable::new(p.space());
    match p.predict(archs, ProxyLatency::Measured(&empty)) {
        Ok(with) => {
            assert!(!p.needs_table(), "proxy terms were looked up in an empty table");
            let same = with.iter().zip(&plain).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "a table changes the predictions of a predictor without proxy terms");
        }
        Err(e) => {
            assert!(p.needs_table(), "predicting with a table failed without proxy terms: {e}");
            check_error("predict", &e);
        }
    }
    let saved = serde_json::to_vec(&p).unwrap_or_else(|e| panic!("a loaded predictor does not serialise: {e}"));
    let back = AdditivePredictor::from_json(&saved, Path::new(SOURCE))
        .unwrap_or_else(|e| panic!("a saved predictor does not load back: {e}"));
    assert_eq!(
        (back.space(), back.weights().len(), back.proxy_terms().len()),
        (p.space(), p.weights().len(), p.proxy_terms().len())
    );
    Verdict::Accepted
}

/// Target `accuracy_csv`: the bytes as an `arch,accuracy` CSV, for the first space whose
/// architecture strings it holds. An accepted table is non-empty, lists each architecture once,
/// and holds a finite accuracy for each.
pub fn accuracy_csv(data: &[u8]) -> Verdict {
    let parsed =
        first_accepting("accuracy csv", |id| AccuracyTable::from_csv_bytes(data, Path::new(SOURCE), id.space()));
    let Some((id, table)) = parsed else {
        return Verdict::Rejected;
    };
    let archs = table.archs();
    assert!(!archs.is_empty() && archs.len() == table.len(), "{id}: accuracy table size");
    assert!(archs.windows(2).all(|w| w[0] < w[1]), "{id}: archs not sorted and unique");
    for a in &archs {
        check_arch(id.space(), a);
        assert!(table.get(a).is_some_and(f64::is_finite), "{id}: missing or non-finite accuracy");
    }
    Verdict::Accepted
}

/// A fuzz target: bytes in, a verdict out (it panics on a bug).
pub type Target = fn(&[u8]) -> Verdict;

/// Every target by its name in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: [(&str, Target); 4] = [
    ("latency_csv", latency_csv),
    ("arch_string", arch_string),
    ("predictor_json", predictor_json),
    ("accuracy_csv", accuracy_csv),
];

#[cfg(test)]
mod tests {
    use super::*;

    const NB201: &str =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    const OFA: &str = "r204_k75-55-77-57-573_e64-46-63-43-336";

    #[test]
    fn csv_targets_find_the_space_of_the_architectures() {
        // OFA strings are refused by NB201 and FBNet first: the search must go on past them.
        for text in [format!("arch,dev\n{NB201},1.5\n"), format!("arch,dev\n{OFA},2\n"), "index,dev\n7,1\n".into()] {
            assert_eq!(latency_csv(text.as_bytes()), Verdict::Accepted, "{text}");
        }
        assert_eq!(accuracy_csv(format!("arch,accuracy\n{OFA},75.5\n").as_bytes()), Verdict::Accepted);
        for text in
            ["arch,dev\n".to_string(), format!("arch,dev\n{OFA},-1\n"), "index,dev\n8,1\n".into(), "\u{ff}".into()]
        {
            assert_eq!(latency_csv(text.as_bytes()), Verdict::Rejected, "{text}");
            assert_eq!(accuracy_csv(text.as_bytes()), Verdict::Rejected, "{text}");
        }
    }

    #[test]
    fn arch_and_predictor_targets_accept_real_input_and_refuse_garbage() {
        assert_eq!(arch_string(format!(" {NB201}\n").as_bytes()), Verdict::Accepted);
        assert_eq!(arch_string(b"r204_k75"), Verdict::Rejected);
        let space = SpaceId::Fbnet.space();
        let archs = reference_archs(SpaceId::Fbnet);
        let y: Vec<f64> = (0..archs.len()).map(|i| 1.0 + i as f64).collect();
        let p = AdditivePredictor::fit(space, "dev", archs, &y, 1e-3).unwrap();
        assert_eq!(predictor_json(&serde_json::to_vec(&p).unwrap()), Verdict::Accepted);
        assert_eq!(predictor_json(b"{\"space\":\"fbnet\"}"), Verdict::Rejected);
    }
}
