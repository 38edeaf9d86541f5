//! Declared spaces: a search space read from a space file ([`file`]) instead of written in Rust.
//!
//! A declared space is a list of named positions, each with its choices; everything the layers
//! above ask of a space (strings, sampling, mutation, crossover, the one-hot encoding, its
//! feature groups and reference features, the exact additive minimum, enumeration of small
//! spaces) follows from that list, so AdaProxy, the hypotheses, planning and the searches work
//! on it unchanged.
//!
//! **String**: the choices in position order, joined by the file's `separator` (default `-`).
//! A declaration of FBNet therefore reads and writes FBNet's own strings.
//!
//! **Encoding**: one-hot per position, position-major (feature names `position:choice`); a
//! position's skip (or declared reference) is its reference feature; one feature group per
//! choice name, over the positions that offer it.
//!
//! **Network**: a declared space has none ([`Family::has_network`] is false): there are no
//! FLOPs, parameters or network counts to compute and no ONNX export. Commands that need them
//! say so; the `flops`/`params` pseudo-devices are not added; the hypotheses that read the
//! network do not apply.
//!
//! Declared spaces are interned process-wide ([`load`]): a [`SpaceId`] is `Copy` and its space
//! `'static`, so each distinct declaration is leaked once, and loading the same declaration
//! again (the same file read twice) returns the same id.

pub mod file;

pub use file::{Position, Spec};

use super::{Arch, Family, FeatureGroup, SearchSpace, SpaceId};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Spaces with at most this many architectures are enumerated (exhaustive search, exact
/// references).
pub const ENUMERATE_LIMIT: u64 = 100_000;

/// A search space declared in a space file.
#[derive(Debug)]
pub struct DeclaredSpace {
    spec: Spec,
    /// The file it was first read from (for messages).
    source: PathBuf,
    cardinalities: Vec<u8>,
    /// First feature of each position.
    offsets: Vec<usize>,
    name: &'static str,
    id: OnceLock<SpaceId>,
}

/// A handle on an interned [`DeclaredSpace`]: `Copy`, compared and hashed by identity (interning
/// makes identity the same as content).
#[derive(Clone, Copy)]
pub struct DeclaredRef(&'static DeclaredSpace);

impl DeclaredRef {
    /// The space.
    pub fn get(self) -> &'static DeclaredSpace {
        self.0
    }
}

impl PartialEq for DeclaredRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for DeclaredRef {}

impl std::hash::Hash for DeclaredRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state)
    }
}

impl std::fmt::Debug for DeclaredRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.name)
    }
}

fn registry() -> &'static Mutex<Vec<&'static DeclaredSpace>> {
    static REGISTRY: OnceLock<Mutex<Vec<&'static DeclaredSpace>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Read a space file and return its space's id (the same id for the same declaration).
pub fn load(path: &Path) -> Result<SpaceId> {
    intern(file::read(path)?, path)
}

/// The id of a checked declaration, interning it on first sight. A different declaration under
/// an already loaded name is refused: names identify spaces in tables and JSON.
pub fn intern(spec: Spec, source: &Path) -> Result<SpaceId> {
    let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = all.iter().find(|d| d.spec.name == spec.name) {
        if known.spec == spec {
            return Ok(known.id());
        }
        return Err(Error::BadSpaceFile {
            path: source.to_path_buf(),
            line: None,
            reason: format!(
                "a different space named '{}' is already loaded (from {}); give this one another name",
                spec.name,
                known.source.display()
            ),
        });
    }
    let space: &'static DeclaredSpace = Box::leak(Box::new(DeclaredSpace::new(spec, source)));
    let _ = space.id.set(SpaceId::Declared(DeclaredRef(space)));
    all.push(space);
    Ok(space.id())
}

/// A loaded declared space by name.
pub fn find(name: &str) -> Option<SpaceId> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).iter().find(|d| d.name == name).map(|d| d.id())
}

impl DeclaredSpace {
    fn new(spec: Spec, source: &Path) -> Self {
        let cardinalities: Vec<u8> = spec.positions.iter().map(|p| p.choices.len() as u8).collect();
        let offsets = spec
            .positions
            .iter()
            .scan(0, |next, p| {
                let at = *next;
                *next += p.choices.len();
                Some(at)
            })
            .collect();
        let name: &'static str = Box::leak(spec.name.clone().into_boxed_str());
        DeclaredSpace { spec, source: source.to_path_buf(), cardinalities, offsets, name, id: OnceLock::new() }
    }

    /// The space's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The declaration.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The file the declaration was first read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Number of architectures (saturating).
    pub fn size(&self) -> u64 {
        self.cardinalities.iter().fold(1u64, |n, &k| n.saturating_mul(k as u64))
    }
}

impl SearchSpace for DeclaredSpace {
    fn id(&self) -> SpaceId {
        *self.id.get().expect("a declared space is used only once interned")
    }

    fn gene_cardinalities(&self) -> &[u8] {
        &self.cardinalities
    }

    fn parse_str(&self, s: &str) -> std::result::Result<Arch, String> {
        let sep = self.spec.separator.as_str();
        let parts: Vec<&str> = s.split(sep).collect();
        let positions = &self.spec.positions;
        if parts.len() != positions.len() {
            return Err(format!("expected {} '{sep}'-separated choices, found {}", positions.len(), parts.len()));
        }
        let genes = parts
            .iter()
            .zip(positions)
            .map(|(part, p)| {
                p.choices.iter().position(|c| c == part).map(|c| c as u8).ok_or_else(|| {
                    format!("position {}: unknown choice '{part}' (choices: {})", p.name, p.choices.join(", "))
                })
            })
            .collect::<std::result::Result<Vec<u8>, String>>()?;
        Ok(Arch::from_genes(genes))
    }

    fn format(&self, arch: &Arch) -> String {
        let choices: Vec<&str> =
            arch.genes().iter().zip(&self.spec.positions).map(|(&g, p)| p.choices[g as usize].as_str()).collect();
        choices.join(&self.spec.separator)
    }

    fn enumerate(&self) -> Option<Vec<Arch>> {
        if self.size() > ENUMERATE_LIMIT {
            return None;
        }
        // Mixed-radix counting, the last position fastest.
        let mut genes = vec![0u8; self.cardinalities.len()];
        let mut all = Vec::with_capacity(self.size() as usize);
        loop {
            all.push(Arch::from_genes(genes.clone()));
            let Some(i) = (0..genes.len()).rev().find(|&i| genes[i] + 1 < self.cardinalities[i]) else {
                return Some(all);
            };
            genes[i] += 1;
            genes[i + 1..].fill(0);
        }
    }

    fn num_features(&self) -> usize {
        self.cardinalities.iter().map(|&k| k as usize).sum()
    }

    fn feature_names(&self) -> Vec<String> {
        self.spec.positions.iter().flat_map(|p| p.choices.iter().map(move |c| format!("{}:{c}", p.name))).collect()
    }

    fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        for (&g, &at) in arch.genes().iter().zip(&self.offsets) {
            out[at + g as usize] = 1.0;
        }
    }

    /// One group per choice name, in order of first appearance, over the positions offering it.
    fn feature_groups(&self) -> Vec<FeatureGroup> {
        let mut groups: Vec<FeatureGroup> = Vec::new();
        for (p, &at) in self.spec.positions.iter().zip(&self.offsets) {
            for (c, name) in p.choices.iter().enumerate() {
                match groups.iter_mut().find(|g| &g.name == name) {
                    Some(g) => g.features.push(at + c),
                    None => groups.push(FeatureGroup { name: name.clone(), features: vec![at + c] }),
                }
            }
        }
        groups
    }

    fn reference_features(&self) -> Vec<usize> {
        self.spec
            .positions
            .iter()
            .zip(&self.offsets)
            .filter_map(|(p, &at)| p.reference.map(|r| at + r as usize))
            .collect()
    }

    fn argmin_additive(&self, weights: &[f64]) -> Arch {
        let genes = self
            .offsets
            .iter()
            .zip(&self.cardinalities)
            .map(|(&at, &k)| super::argmin(&weights[at..at + k as usize]) as u8)
            .collect::<Vec<u8>>();
        Arch::from_genes(genes)
    }

    fn kinds_share_cost(&self) -> bool {
        self.spec.kinds_share_cost
    }
}

impl Family for DeclaredSpace {
    fn has_network(&self) -> bool {
        false
    }

    fn network(&self, _arch: &Arch) -> crate::network::Network {
        // Callers check `has_network` (SpaceId::network_with, the cost pseudo-devices, the
        // hypotheses that read networks); reaching this is a bug, not a user error.
        panic!("the declared space '{}' has no network (callers must check Family::has_network)", self.name)
    }
}

#[cfg(test)]
mod tests;
