//! Declared spaces: a search space read from a space file ([`file`]) instead of written in Rust.
//!
//! A declared space is a list of named positions, each with its choices; everything the layers
//! above ask of a space (strings, sampling, mutation, crossover, the one-hot encoding, its
//! feature groups and reference features, the exact additive minimum, enumeration of small
//! spaces) follows from that list, so AdaProxy, the hypotheses, planning and the searches work
//! on it unchanged.
//!
//! **String**: the choices in position order, joined by the file's `separator` (default `-`).
//! A declaration of FBNet therefore reads and writes FBNet's own strings. A layer beyond its
//! stage's elastic depth is written `~`.
//!
//! **Encoding**: one-hot per layer position, position-major (feature names `position:choice`);
//! a position's skip (or declared reference) is its reference feature; one feature group per
//! choice name, over the positions that offer it. With the optional structure
//! ([`file::Structure`]): a layer beyond its stage's depth encodes as zeros; with a declared
//! resolution every one-hot is `(res / largest res)^2` instead of 1, one feature is that factor
//! alone (the fixed stem and head), and one counts the layers run
//! ([`DeclaredSpace::layers_run`]), which the scaled one-hots can no longer express. A space
//! without these keys encodes exactly as before.
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

pub use file::{Position, Resolution, Role, Spec, Stage, Structure};

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
    /// First feature of each layer position (unused for depth and resolution positions).
    offsets: Vec<usize>,
    /// Number of features.
    features: usize,
    /// The `(res / largest res)^2` feature (the fixed stem and head), with a resolution.
    stem: Option<usize>,
    /// The layers-run feature, with a resolution where the layers run vary.
    layers: Option<usize>,
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
        // Layer positions own their one-hots; depth and resolution positions own none.
        let mut next = 0;
        let offsets = spec
            .positions
            .iter()
            .map(|p| {
                let at = next;
                if p.role == Role::Layer {
                    next += p.choices.len();
                }
                at
            })
            .collect();
        let structure = &spec.structure;
        let stem = structure.resolution.as_ref().map(|_| {
            next += 1;
            next - 1
        });
        let varies = structure.stages.len() + spec.positions.iter().filter(|p| p.skip.is_some()).count() > 0;
        let layers = (stem.is_some() && varies).then(|| {
            next += 1;
            next - 1
        });
        let name: &'static str = Box::leak(spec.name.clone().into_boxed_str());
        DeclaredSpace {
            spec,
            source: source.to_path_buf(),
            cardinalities,
            offsets,
            features: next,
            stem,
            layers,
            name,
            id: OnceLock::new(),
        }
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

    /// Number of architectures (saturating): layers beyond their stage's depth do not count.
    pub fn size(&self) -> u64 {
        let stages = &self.spec.structure.stages;
        let mut n = 1u64;
        for (i, p) in self.spec.positions.iter().enumerate() {
            match (p.role, p.stage) {
                (Role::Depth(k), _) => {
                    let stage = &stages[k];
                    let per_layer: Vec<u64> = stage
                        .layers
                        .iter()
                        .map(|l| l.iter().fold(1u64, |m, &j| m.saturating_mul(self.cardinalities[j] as u64)))
                        .collect();
                    let ways = stage.depths.iter().fold(0u64, |sum, &d| {
                        sum.saturating_add(per_layer[..d].iter().fold(1u64, |m, &w| m.saturating_mul(w)))
                    });
                    n = n.saturating_mul(ways);
                }
                (_, Some(_)) => {} // counted with its stage's depth
                _ => n = n.saturating_mul(self.cardinalities[i] as u64),
            }
        }
        n
    }

    /// Whether position `i` is part of the network of `genes` (it is unless it is a layer
    /// beyond its stage's depth).
    fn active(&self, genes: &[u8], i: usize) -> bool {
        match self.spec.positions[i].stage {
            Some((k, layer)) => {
                let stage = &self.spec.structure.stages[k];
                layer < stage.depths[genes[stage.depth] as usize]
            }
            None => true,
        }
    }

    /// `(res / largest res)^2`, the factor of a layer's work at this resolution (1 without a
    /// declared resolution).
    fn scale(&self, genes: &[u8]) -> f64 {
        match &self.spec.structure.resolution {
            Some(r) => {
                let largest = *r.pixels.iter().max().expect("a resolution position has choices") as f64;
                (r.pixels[genes[r.position] as usize] as f64 / largest).powi(2)
            }
            None => 1.0,
        }
    }

    /// What one layer position adds to [`layers_run`](Self::layers_run) when it runs: a layer of
    /// an elastic stage made of `n` positions counts `1/n` per position, so that it counts once.
    fn share(&self, i: usize) -> f64 {
        match self.spec.positions[i].stage {
            Some((k, layer)) => 1.0 / self.spec.structure.stages[k].layers[layer].len() as f64,
            None => 1.0,
        }
    }

    /// The layers an architecture runs: every layer position that is active and not at its skip
    /// choice (a stage's layer of several positions counts once). Why: at small batch a GPU's
    /// time follows how many layers it launches more than their arithmetic; this is the count
    /// the `layers` hypothesis prices.
    pub fn layers_run(&self, arch: &Arch) -> f64 {
        let g = arch.genes();
        self.spec
            .positions
            .iter()
            .enumerate()
            .filter(|(i, p)| p.role == Role::Layer && self.active(g, *i) && p.skip != Some(g[*i]))
            .map(|(i, _)| self.share(i))
            .sum()
    }

    /// [`layers_run`](Self::layers_run) as a linear function of the encoding, `(weights,
    /// intercept)`; `None` where every architecture runs the same layers (no skip, no elastic
    /// stage).
    pub fn layers_form(&self) -> Option<(Vec<f64>, f64)> {
        let positions = &self.spec.positions;
        if self.spec.structure.stages.is_empty() && positions.iter().all(|p| p.skip.is_none()) {
            return None;
        }
        let mut w = vec![0.0; self.features];
        match self.layers {
            // With a resolution the one-hots are scaled by the pixels: the count is a feature.
            Some(f) => w[f] = 1.0,
            None => {
                for (i, p) in positions.iter().enumerate().filter(|(_, p)| p.role == Role::Layer) {
                    for c in (0..p.choices.len()).filter(|&c| p.skip != Some(c as u8)) {
                        w[self.offsets[i] + c] = self.share(i);
                    }
                }
            }
        }
        Some((w, 0.0))
    }

    /// The cheapest genes of `encode . weights` at resolution factor `s` (the resolution gene
    /// is left to the caller), with their value without the stem feature.
    fn cheapest_at(&self, weights: &[f64], s: f64, genes: &mut [u8]) -> f64 {
        let positions = &self.spec.positions;
        let per_layer = self.layers.map_or(0.0, |f| weights[f]);
        // The cheapest choice of a layer position, as (value, choice).
        let cheapest = |i: usize| -> (f64, u8) {
            let p = &positions[i];
            (0..p.choices.len())
                .map(|c| {
                    let runs = if p.skip == Some(c as u8) { 0.0 } else { per_layer * self.share(i) };
                    (s * weights[self.offsets[i] + c] + runs, c as u8)
                })
                .fold((f64::INFINITY, 0), |best, x| if x.0 < best.0 { x } else { best })
        };
        let mut total = 0.0;
        for (i, p) in positions.iter().enumerate() {
            if p.role == Role::Layer && p.stage.is_none() {
                let (v, c) = cheapest(i);
                genes[i] = c;
                total += v;
            }
        }
        for stage in &self.spec.structure.stages {
            // prefix[d]: the cheapest first d layers.
            let mut prefix = vec![0.0];
            for layer in &stage.layers {
                let mut v = 0.0;
                for &i in layer {
                    let (value, c) = cheapest(i);
                    genes[i] = c;
                    v += value;
                }
                prefix.push(prefix.last().expect("starts with 0") + v);
            }
            let (value, choice) = stage
                .depths
                .iter()
                .enumerate()
                .map(|(c, &d)| (prefix[d], c as u8))
                .fold((f64::INFINITY, 0), |best, x| if x.0 < best.0 { x } else { best });
            genes[stage.depth] = choice;
            total += value;
        }
        total
    }
}

/// How an inactive layer (beyond its stage's depth) is written in an architecture string.
pub const INACTIVE: &str = "~";

impl SearchSpace for DeclaredSpace {
    fn id(&self) -> SpaceId {
        *self.id.get().expect("a declared space is used only once interned")
    }

    fn gene_cardinalities(&self) -> &[u8] {
        &self.cardinalities
    }

    /// Every position's choice; a layer beyond its stage's depth may be written as `~` (its
    /// canonical form) or with any of its choices (ignored).
    fn parse_str(&self, s: &str) -> std::result::Result<Arch, String> {
        let sep = self.spec.separator.as_str();
        let parts: Vec<&str> = s.split(sep).collect();
        let positions = &self.spec.positions;
        if parts.len() != positions.len() {
            return Err(format!("expected {} '{sep}'-separated choices, found {}", positions.len(), parts.len()));
        }
        let mut unset = Vec::new();
        let mut genes = Vec::with_capacity(parts.len());
        for (i, (part, p)) in parts.iter().zip(positions).enumerate() {
            if *part == INACTIVE && p.stage.is_some() {
                unset.push(i);
                genes.push(0);
                continue;
            }
            let c = p.choices.iter().position(|c| c == part).ok_or_else(|| {
                format!("position {}: unknown choice '{part}' (choices: {})", p.name, p.choices.join(", "))
            })?;
            genes.push(c as u8);
        }
        if let Some(&i) = unset.iter().find(|&&i| self.active(&genes, i)) {
            let (k, _) = positions[i].stage.expect("only stage positions are unset");
            let stage = &self.spec.structure.stages[k];
            return Err(format!(
                "position {}: '{INACTIVE}' marks a layer beyond its stage's depth, but stage {} runs {} layers here",
                positions[i].name, stage.name, stage.depths[genes[stage.depth] as usize]
            ));
        }
        self.canonicalize(&mut genes);
        Ok(Arch::from_genes(genes))
    }

    fn format(&self, arch: &Arch) -> String {
        let g = arch.genes();
        let choices: Vec<&str> = self
            .spec
            .positions
            .iter()
            .enumerate()
            .map(|(i, p)| if self.active(g, i) { p.choices[g[i] as usize].as_str() } else { INACTIVE })
            .collect();
        choices.join(&self.spec.separator)
    }

    /// Layers beyond their stage's depth take their first choice (written `~`).
    fn canonicalize(&self, genes: &mut [u8]) {
        for i in 0..genes.len() {
            if !self.active(genes, i) {
                genes[i] = 0;
            }
        }
    }

    fn enumerate(&self) -> Option<Vec<Arch>> {
        if self.size() > ENUMERATE_LIMIT {
            return None;
        }
        // For each combination of stage depths (mixed radix), every combination of the
        // positions that are then active (mixed radix, the last position fastest).
        let depth_genes: Vec<usize> = self.spec.structure.stages.iter().map(|s| s.depth).collect();
        let mut genes = vec![0u8; self.cardinalities.len()];
        let mut all = Vec::with_capacity(self.size() as usize);
        let next = |genes: &mut [u8], order: &[usize]| -> bool {
            let Some(at) = order.iter().rposition(|&i| genes[i] + 1 < self.cardinalities[i]) else {
                return false;
            };
            genes[order[at]] += 1;
            for &i in &order[at + 1..] {
                genes[i] = 0;
            }
            true
        };
        loop {
            let free: Vec<usize> =
                (0..genes.len()).filter(|i| !depth_genes.contains(i) && self.active(&genes, *i)).collect();
            for i in (0..genes.len()).filter(|i| !depth_genes.contains(i)) {
                genes[i] = 0;
            }
            loop {
                all.push(Arch::from_genes(genes.clone()));
                if !next(&mut genes, &free) {
                    break;
                }
            }
            if !next(&mut genes, &depth_genes) {
                return Some(all);
            }
        }
    }

    fn num_features(&self) -> usize {
        self.features
    }

    fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .spec
            .positions
            .iter()
            .filter(|p| p.role == Role::Layer)
            .flat_map(|p| p.choices.iter().map(move |c| format!("{}:{c}", p.name)))
            .collect();
        names.extend(self.stem.map(|_| STEM.to_string()));
        names.extend(self.layers.map(|_| LAYERS.to_string()));
        names
    }

    /// One-hot per active layer position times `(res / largest res)^2`; then that factor alone
    /// (the fixed stem and head) and the layers run, where a resolution is declared.
    fn encode_into(&self, arch: &Arch, out: &mut [f64]) {
        out.fill(0.0);
        let g = arch.genes();
        let s = self.scale(g);
        for (i, p) in self.spec.positions.iter().enumerate() {
            if p.role == Role::Layer && self.active(g, i) {
                out[self.offsets[i] + g[i] as usize] = s;
            }
        }
        if let Some(f) = self.stem {
            out[f] = s;
        }
        if let Some(f) = self.layers {
            out[f] = self.layers_run(arch);
        }
    }

    /// One group per choice name, in order of first appearance, over the layer positions
    /// offering it; then the stem and the layers run, each a group of its own.
    fn feature_groups(&self) -> Vec<FeatureGroup> {
        let mut groups: Vec<FeatureGroup> = Vec::new();
        for (p, &at) in self.spec.positions.iter().zip(&self.offsets).filter(|(p, _)| p.role == Role::Layer) {
            for (c, name) in p.choices.iter().enumerate() {
                match groups.iter_mut().find(|g| &g.name == name) {
                    Some(g) => g.features.push(at + c),
                    None => groups.push(FeatureGroup { name: name.clone(), features: vec![at + c] }),
                }
            }
        }
        for (f, name) in [(self.stem, STEM), (self.layers, LAYERS)] {
            if let Some(f) = f {
                groups.push(FeatureGroup { name: name.into(), features: vec![f] });
            }
        }
        groups
    }

    fn reference_features(&self) -> Vec<usize> {
        self.spec
            .positions
            .iter()
            .zip(&self.offsets)
            .filter(|(p, _)| p.role == Role::Layer)
            .filter_map(|(p, &at)| p.reference.map(|r| at + r as usize))
            .collect()
    }

    /// Exact: at a given resolution every position outside the stages is independent, and each
    /// stage takes the cheapest prefix of its layers among its depths; so the cheapest
    /// architecture is found per resolution choice, and the cheapest of those kept.
    fn argmin_additive(&self, weights: &[f64]) -> Arch {
        let mut genes = vec![0u8; self.cardinalities.len()];
        match &self.spec.structure.resolution {
            None => {
                self.cheapest_at(weights, 1.0, &mut genes);
            }
            Some(r) => {
                let stem = self.stem.map_or(0.0, |f| weights[f]);
                let mut best = (f64::INFINITY, genes.clone());
                for c in 0..r.pixels.len() {
                    let mut g = vec![0u8; self.cardinalities.len()];
                    g[r.position] = c as u8;
                    let s = self.scale(&g);
                    let value = self.cheapest_at(weights, s, &mut g) + s * stem;
                    if value < best.0 {
                        best = (value, g);
                    }
                }
                genes = best.1;
            }
        }
        self.canonicalize(&mut genes);
        Arch::from_genes(genes)
    }

    fn kinds_share_cost(&self) -> bool {
        self.spec.kinds_share_cost
    }
}

/// Feature names of the stem (`(res / largest res)^2`) and of the layers run.
const STEM: &str = "resolution^2";
const LAYERS: &str = "layers run";

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
