//! The space file: a TOML document that declares a search space as named positions, each with
//! its choices. Reading it checks everything the space relies on, and every refusal names the
//! file and, where the parser gives one, the line.
//!
//! ```toml
//! name = "tiny"                  # how the space is named in tables, JSON and messages
//! description = "two layers"     # optional
//! separator = "-"                # optional (default "-"): joins the choices of an architecture
//! kinds_share_cost = false       # optional (default false): a choice costs the same at every position
//!
//! [[position]]
//! name = "layer"                 # position names: layer1, layer2 (with `repeat`)
//! repeat = 2                     # optional (default 1): this many positions alike, numbered from 1
//! choices = ["conv3", "conv5", "skip"]
//! skip = "skip"                  # optional: the choice that skips the layer (the reference feature)
//! reference = "conv3"            # optional: the reference feature where there is no skip
//! ```
//!
//! Optional structure (see [`Structure`]): `resolution = true` on the position whose choices are
//! input resolutions, `stage = "s1"` on the positions of a stage whose depth is elastic (the
//! `i`-th copy of each repeated position is the stage's layer `i`), and `depth_of = "s1"` on the
//! position whose choices are that stage's depths. The numbers are read from the end of each
//! choice (`r224`, `224`, `d3`).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;

/// Most choices one position may have (genes are bytes).
pub const MAX_CHOICES: usize = u8::MAX as usize;

/// A space as declared, checked: what [`super::DeclaredSpace`] is built from. Two specs that
/// are equal declare the same space (the file they came from does not matter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    /// The space's name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Joins the choices of an architecture string.
    pub separator: String,
    /// Whether a choice costs about the same wherever it sits ([`crate::SearchSpace::kinds_share_cost`]).
    pub kinds_share_cost: bool,
    /// The positions, in gene order.
    pub positions: Vec<Position>,
    /// Elastic depth and input resolution, where declared.
    pub structure: Structure,
}

/// What a space file may say about its network beyond "one choice per position": which
/// position is the input resolution, and which stages have an elastic depth (OFA-style
/// supernets: a stage runs its first `d` layers, the others are not part of the network).
///
/// Why: both change every architecture's cost in a way a one-hot per position cannot say. A
/// layer's work grows with the pixels (so the encoding scales every layer's features by
/// `(res / largest res)^2`), and a layer beyond its stage's depth costs nothing whatever its
/// choices (so its features are zero and its genes canonical).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Structure {
    /// The resolution position, if one is declared.
    pub resolution: Option<Resolution>,
    /// The stages with an elastic depth, in order of their depth positions.
    pub stages: Vec<Stage>,
}

/// The position whose choices are input resolutions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resolution {
    /// Its index among the positions.
    pub position: usize,
    /// Pixels (one side) of each choice.
    pub pixels: Vec<u32>,
}

/// A stage whose depth is chosen by a position: layer `i` runs only when the depth is above `i`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Stage {
    /// Its name (the `stage` and `depth_of` value).
    pub name: String,
    /// The index of the position choosing its depth.
    pub depth: usize,
    /// The depth of each choice of that position.
    pub depths: Vec<usize>,
    /// Its layers, each the positions it is made of.
    pub layers: Vec<Vec<usize>>,
}

/// What a position is in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A choice of a layer (most positions).
    Layer,
    /// The input resolution.
    Resolution,
    /// The depth of stage `n` of [`Structure::stages`].
    Depth(usize),
}

/// One decision of the space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// Its name (unique in the space).
    pub name: String,
    /// Its choices, in gene order (unique within the position).
    pub choices: Vec<String>,
    /// The choice that skips the layer, if one does.
    pub skip: Option<u8>,
    /// The choice whose feature is pinned to zero in additive fits: the skip where there is one,
    /// else the declared `reference`, else none.
    pub reference: Option<u8>,
    /// Layer choice, resolution or depth.
    pub role: Role,
    /// The elastic stage and layer the position belongs to, if any.
    pub stage: Option<(usize, usize)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpace {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    separator: Option<Spanned<String>>,
    #[serde(default)]
    kinds_share_cost: bool,
    #[serde(default)]
    position: Vec<RawPosition>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosition {
    name: Spanned<String>,
    repeat: Option<Spanned<i64>>,
    choices: Spanned<Vec<Spanned<String>>>,
    skip: Option<Spanned<String>>,
    reference: Option<Spanned<String>>,
    stage: Option<Spanned<String>>,
    depth_of: Option<Spanned<String>>,
    resolution: Option<Spanned<bool>>,
}

/// Read and check a space file.
pub fn read(path: &Path) -> Result<Spec> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

/// Check a space file's text; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<Spec> {
    let at = |span: std::ops::Range<usize>, reason: String| Error::BadSpaceFile {
        path: path.to_path_buf(),
        line: Some(line_of(text, span.start)),
        reason,
    };
    let raw: RawSpace = toml::from_str(text).map_err(|e| Error::BadSpaceFile {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)),
        reason: e.message().trim().to_string(),
    })?;
    let name = raw.name.get_ref().trim().to_string();
    check_space_name(&name).map_err(|r| at(raw.name.span(), r))?;
    let separator = match &raw.separator {
        Some(s) if s.get_ref().is_empty() || s.get_ref().chars().any(char::is_whitespace) => {
            return Err(at(s.span(), "the separator must be non-empty and without spaces".into()))
        }
        Some(s) => s.get_ref().clone(),
        None => "-".to_string(),
    };
    if raw.position.is_empty() {
        return Err(Error::BadSpaceFile {
            path: path.to_path_buf(),
            line: None,
            reason: "no position declared: add at least one [[position]] with its choices".into(),
        });
    }
    let mut positions = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    // Per declared entry: the positions it made, for the structure checks below.
    let mut made: Vec<std::ops::Range<usize>> = Vec::new();
    for p in &raw.position {
        let line = line_of(text, p.name.span().start);
        let base = p.name.get_ref().trim();
        check_word(base).map_err(|r| at(p.name.span(), format!("position name '{base}': {r}")))?;
        let choices: Vec<String> = p.choices.get_ref().iter().map(|c| c.get_ref().trim().to_string()).collect();
        if choices.is_empty() {
            return Err(at(p.choices.span(), format!("position '{base}' has no choices")));
        }
        if choices.len() > MAX_CHOICES {
            return Err(at(
                p.choices.span(),
                format!("position '{base}' has {} choices, more than {MAX_CHOICES}", choices.len()),
            ));
        }
        for (i, (c, raw_c)) in choices.iter().zip(p.choices.get_ref()).enumerate() {
            check_word(c).map_err(|r| at(raw_c.span(), format!("position '{base}': choice '{c}': {r}")))?;
            if c.contains(separator.as_str()) {
                return Err(at(
                    raw_c.span(),
                    format!("position '{base}': choice '{c}' contains the separator '{separator}'"),
                ));
            }
            if choices[..i].contains(c) {
                return Err(at(raw_c.span(), format!("position '{base}': choice '{c}' is listed twice")));
            }
        }
        let pick = |field: &Option<Spanned<String>>, what: &str| -> Result<Option<u8>> {
            let Some(f) = field else { return Ok(None) };
            let want = f.get_ref().trim();
            match choices.iter().position(|c| c == want) {
                Some(i) => Ok(Some(i as u8)),
                None => Err(at(
                    f.span(),
                    format!("position '{base}': {what} '{want}' is not one of its choices ({})", choices.join(", ")),
                )),
            }
        };
        let skip = pick(&p.skip, "skip")?;
        let reference = pick(&p.reference, "reference")?;
        if let (Some(s), Some(r)) = (skip, reference) {
            if s != r {
                return Err(at(
                    p.reference.as_ref().map_or(p.name.span(), |r| r.span()),
                    format!("position '{base}': the reference must be the skip choice when there is one"),
                ));
            }
        }
        let repeat = match &p.repeat {
            None => None,
            Some(r) if (1..=4096).contains(r.get_ref()) => Some(*r.get_ref() as usize),
            Some(r) => return Err(at(r.span(), format!("position '{base}': repeat must be 1 to 4096"))),
        };
        let names: Vec<String> = match repeat {
            None => vec![base.to_string()],
            Some(n) => (1..=n).map(|i| format!("{base}{i}")).collect(),
        };
        let start = positions.len();
        for name in names {
            if let Some(first) = first_line.insert(name.clone(), line) {
                return Err(at(p.name.span(), format!("position '{name}' is declared twice (first on line {first})")));
            }
            positions.push(Position {
                name,
                choices: choices.clone(),
                skip,
                reference: reference.or(skip),
                role: Role::Layer,
                stage: None,
            });
        }
        made.push(start..positions.len());
    }
    let structure = structure(&raw.position, &made, &mut positions, &at)?;
    Ok(Spec {
        name,
        description: raw.description.trim().to_string(),
        separator,
        kinds_share_cost: raw.kinds_share_cost,
        positions,
        structure,
    })
}

/// Check the `resolution`, `depth_of` and `stage` keys of the declared entries (`made[i]`: the
/// positions entry `i` made) and mark the positions' roles.
fn structure(
    raw: &[RawPosition],
    made: &[std::ops::Range<usize>],
    positions: &mut [Position],
    at: &dyn Fn(std::ops::Range<usize>, String) -> Error,
) -> Result<Structure> {
    let mut out = Structure::default();
    // Resolution and depth positions first: stages are named by their depth positions.
    for (p, range) in raw.iter().zip(made) {
        let base = p.name.get_ref().trim();
        let special = |what: &str| -> Result<()> {
            if range.len() != 1 {
                return Err(at(p.name.span(), format!("position '{base}': a {what} position cannot be repeated")));
            }
            if p.skip.is_some() || p.reference.is_some() {
                return Err(at(
                    p.name.span(),
                    format!("position '{base}': a {what} position has no skip or reference"),
                ));
            }
            if let Some(s) = &p.stage {
                return Err(at(s.span(), format!("position '{base}': a {what} position cannot be in a stage")));
            }
            Ok(())
        };
        let numbers = |what: &str| -> Result<Vec<u32>> {
            let mut seen: Vec<u32> = Vec::new();
            for c in p.choices.get_ref() {
                let text = c.get_ref().trim();
                let n = trailing_number(text).ok_or_else(|| {
                    at(c.span(), format!("position '{base}': {what} choice '{text}' does not end in a number"))
                })?;
                if seen.contains(&n) {
                    return Err(at(c.span(), format!("position '{base}': two {what} choices are {n}")));
                }
                seen.push(n);
            }
            Ok(seen)
        };
        let is_resolution = p.resolution.as_ref().is_some_and(|r| *r.get_ref());
        if is_resolution && p.depth_of.is_some() {
            return Err(at(p.name.span(), format!("position '{base}': resolution and depth_of exclude each other")));
        }
        if is_resolution {
            let r = p.resolution.as_ref().expect("checked");
            special("resolution")?;
            if out.resolution.is_some() {
                return Err(at(r.span(), format!("position '{base}': a second resolution position")));
            }
            let pixels = numbers("resolution")?;
            if let Some(c) = p.choices.get_ref().iter().zip(&pixels).find(|(_, &n)| n == 0) {
                return Err(at(c.0.span(), format!("position '{base}': a resolution of 0 pixels")));
            }
            positions[range.start].role = Role::Resolution;
            out.resolution = Some(Resolution { position: range.start, pixels });
        }
        if let Some(d) = &p.depth_of {
            special("depth")?;
            let stage = d.get_ref().trim().to_string();
            check_word(&stage).map_err(|r| at(d.span(), format!("stage name '{stage}': {r}")))?;
            if out.stages.iter().any(|s| s.name == stage) {
                return Err(at(d.span(), format!("stage '{stage}' has two depth positions")));
            }
            let depths = numbers("depth")?.into_iter().map(|n| n as usize).collect();
            positions[range.start].role = Role::Depth(out.stages.len());
            out.stages.push(Stage { name: stage, depth: range.start, depths, layers: Vec::new() });
        }
    }
    // Then the stages' layers: copy `i` of each entry of a stage is its layer `i`.
    let mut first_entry: Vec<Option<(usize, String)>> = vec![None; out.stages.len()];
    for (p, range) in raw.iter().zip(made) {
        let Some(s) = &p.stage else { continue };
        let base = p.name.get_ref().trim();
        let name = s.get_ref().trim();
        let Some(k) = out.stages.iter().position(|st| st.name == name) else {
            return Err(at(
                s.span(),
                format!(
                    "position '{base}': stage '{name}' has no depth position (declare one with depth_of = \"{name}\")"
                ),
            ));
        };
        if p.depth_of.is_some() || p.resolution.as_ref().is_some_and(|r| *r.get_ref()) {
            continue; // refused above
        }
        let stage = &mut out.stages[k];
        match &first_entry[k] {
            None => {
                stage.layers = range.clone().map(|i| vec![i]).collect();
                first_entry[k] = Some((range.len(), base.to_string()));
            }
            Some((n, first)) if *n != range.len() => {
                return Err(at(
                    s.span(),
                    format!(
                        "position '{base}' has {} copies but '{first}' of the same stage '{name}' has {n}: every position of a stage has one copy per layer",
                        range.len()
                    ),
                ))
            }
            Some(_) => {
                for (layer, i) in stage.layers.iter_mut().zip(range.clone()) {
                    layer.push(i);
                }
            }
        }
        for (layer, i) in range.clone().enumerate() {
            positions[i].stage = Some((k, layer));
        }
    }
    for (stage, (p, _)) in out.stages.iter().zip(raw.iter().zip(made).filter(|(p, _)| p.depth_of.is_some())) {
        let span = p.depth_of.as_ref().expect("filtered").span();
        if stage.layers.is_empty() {
            return Err(at(
                span,
                format!("stage '{}' has no positions (mark them with stage = \"{}\")", stage.name, stage.name),
            ));
        }
        if let Some(&d) = stage.depths.iter().find(|&&d| d > stage.layers.len()) {
            return Err(at(
                span,
                format!("stage '{}': depth {d} is more than its {} layers", stage.name, stage.layers.len()),
            ));
        }
    }
    Ok(out)
}

/// The number a choice ends with (`r224` and `224` give 224, `d3` gives 3).
fn trailing_number(choice: &str) -> Option<u32> {
    let digits = choice.len() - choice.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    choice[choice.len() - digits..].parse().ok()
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// A name or choice must survive CSV cells, JSON and command lines unquoted.
fn check_word(w: &str) -> std::result::Result<(), String> {
    if w.is_empty() {
        return Err("empty".into());
    }
    match w.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.+".contains(*c))) {
        Some(c) => Err(format!("'{c}' is not allowed (letters, digits and _ - . + only)")),
        None => Ok(()),
    }
}

/// A space's name is a lowercase word that no built-in space uses.
fn check_space_name(name: &str) -> std::result::Result<(), String> {
    check_word(name).map_err(|r| format!("space name '{name}': {r}"))?;
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("space name '{name}': use lowercase"));
    }
    if name.parse::<crate::SpaceId>().is_ok() {
        return Err(format!("space name '{name}' is a built-in space's; choose another (e.g. '{name}-declared')"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("s.toml")).unwrap_err().to_string()
    }

    #[test]
    fn a_repeated_position_numbers_its_copies() {
        let s = parse(
            "name = \"tiny\"\n[[position]]\nname = \"layer\"\nrepeat = 2\nchoices = [\"a\", \"skip\"]\nskip = \"skip\"\n[[position]]\nname = \"res\"\nchoices = [\"r1\", \"r2\"]\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let names: Vec<&str> = s.positions.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["layer1", "layer2", "res"]);
        assert_eq!((s.positions[0].skip, s.positions[0].reference), (Some(1), Some(1)));
        assert_eq!((s.positions[2].skip, s.positions[2].reference), (None, None));
        assert_eq!(s.separator, "-");
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_entry() {
        let dup = "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\n[[position]]\nname = \"a\"\nchoices = [\"q\"]\n";
        assert_eq!(err(dup), "s.toml:6: position 'a' is declared twice (first on line 3)");
        let empty = "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = []\n";
        assert_eq!(err(empty), "s.toml:4: position 'a' has no choices");
        let unknown = "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\nkind = 3\n";
        let e = err(unknown);
        assert!(e.starts_with("s.toml:5: unknown field `kind`"), "{e}");
        let bad_skip = "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\nskip = \"none\"\n";
        assert_eq!(err(bad_skip), "s.toml:5: position 'a': skip 'none' is not one of its choices (p)");
        assert!(err("name = \"fbnet\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\n").contains("built-in"));
        assert!(err("name = \"x\"\n").contains("no position declared"));
        assert!(err("name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p-q\"]\n").contains("separator"));
        assert!(err("name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\", \"p\"]\n").contains("listed twice"));
        assert!(err("name = \"x\"\n[[position\n").starts_with("s.toml:2: "));
    }
}
