//! A declaration of FBNet behaves as the built-in FBNet in everything but its network.

use super::*;
use crate::space::seeded_rng;

fn fbnet_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/fbnet.toml")
}

fn declared_fbnet() -> SpaceId {
    load(&fbnet_file()).unwrap()
}

#[test]
fn the_fbnet_declaration_encodes_names_and_groups_as_fbnet() {
    let (d, b) = (declared_fbnet().space(), SpaceId::Fbnet.space());
    assert_eq!(d.gene_cardinalities(), b.gene_cardinalities());
    assert_eq!(d.num_features(), b.num_features());
    assert_eq!(d.feature_names(), b.feature_names());
    assert_eq!(d.feature_groups(), b.feature_groups());
    assert_eq!(d.reference_features(), b.reference_features());
    assert_eq!(d.kinds_share_cost(), b.kinds_share_cost());
    assert!(d.enumerate().is_none());
}

#[test]
fn the_fbnet_declaration_samples_mutates_and_crosses_as_fbnet() {
    let (d, b) = (declared_fbnet().space(), SpaceId::Fbnet.space());
    let (mut rd, mut rb) = (seeded_rng(5), seeded_rng(5));
    for _ in 0..200 {
        let (x, y) = (d.sample(&mut rd), b.sample(&mut rb));
        assert_eq!(x, y);
        assert_eq!(d.format(&x), b.format(&y));
        assert_eq!(d.parse(&b.format(&y)).unwrap(), y);
        assert_eq!(d.encode(&x), b.encode(&y));
        assert_eq!(d.mutate(&x, &mut rd), b.mutate(&y, &mut rb));
        let (p, q) = (d.sample(&mut rd), b.sample(&mut rb));
        assert_eq!(d.crossover(&x, &p, &mut rd), b.crossover(&y, &q, &mut rb));
    }
    let mut rng = seeded_rng(9);
    for _ in 0..20 {
        let w: Vec<f64> = (0..b.num_features()).map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0)).collect();
        assert_eq!(d.argmin_additive(&w), b.argmin_additive(&w));
        assert_eq!(d.min_additive(&w), b.min_additive(&w));
    }
}

#[test]
fn loading_the_same_declaration_twice_gives_the_same_space() {
    let (a, b) = (declared_fbnet(), declared_fbnet());
    assert_eq!(a, b);
    assert_eq!(a.name(), "fbnet-declared");
    assert_eq!(SpaceId::from_name("fbnet-declared"), Some(a));
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"fbnet-declared\"");
    assert_eq!(serde_json::from_str::<SpaceId>("\"fbnet-declared\"").unwrap(), a);
    assert!(a.require_network("FLOPs").is_err());
    assert!(a.network_with(&a.space().sample(&mut seeded_rng(0)), crate::network::Execution::AsWritten).is_err());
    let text = std::fs::read_to_string(fbnet_file()).unwrap().replace("\"skip\"]", "\"skip\", \"k7_e6\"]");
    let other = file::parse(&text, Path::new("other.toml")).unwrap();
    let e = intern(other, Path::new("other.toml")).unwrap_err().to_string();
    assert!(e.starts_with("other.toml: a different space named 'fbnet-declared' is already loaded"), "{e}");
}

#[test]
fn a_small_declared_space_is_enumerated_and_its_minimum_is_exact() {
    let text = "name = \"small-test\"\nseparator = \"/\"\n[[position]]\nname = \"op\"\nrepeat = 3\nchoices = [\"a\", \"b\", \"none\"]\nskip = \"none\"\n[[position]]\nname = \"res\"\nchoices = [\"r32\", \"r64\"]\n";
    let id = intern(file::parse(text, Path::new("small.toml")).unwrap(), Path::new("small.toml")).unwrap();
    let s = id.space();
    let all = s.enumerate().unwrap();
    assert_eq!(all.len(), 54);
    assert_eq!(s.format(&all[1]), "a/a/a/r64");
    assert_eq!(s.reference_features(), [2, 5, 8]);
    let names: Vec<String> = s.feature_groups().into_iter().map(|g| g.name).collect();
    assert_eq!(names, ["a", "b", "none", "r32", "r64"]);
    let mut rng = seeded_rng(2);
    for _ in 0..10 {
        let w: Vec<f64> = (0..s.num_features()).map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0)).collect();
        let brute = all.iter().map(|a| crate::stats::dot(&s.encode(a), &w)).fold(f64::INFINITY, f64::min);
        assert!((brute - s.min_additive(&w)).abs() < 1e-12);
    }
    let e = s.parse("a/a/c/r32").unwrap_err().to_string();
    assert!(e.contains("position op3: unknown choice 'c'"), "{e}");
}

fn ofa_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/ofa-mbv3.toml")
}

/// The declared string of a built-in OFA architecture: resolution, then per stage its depth,
/// its kernel sizes and its expand ratios, `~` beyond the depth.
fn ofa_as_declared(arch: &Arch) -> String {
    use crate::space::OfaMbv3;
    let mut parts = vec![format!("r{}", OfaMbv3::resolution(arch))];
    for (d, blocks) in OfaMbv3::depths(arch).iter().zip(OfaMbv3::SPEC.blocks(arch)) {
        parts.push(format!("d{d}"));
        let slot = |j: usize, f: &dyn Fn(&(u8, u8)) -> String| blocks.get(j).map_or("~".to_string(), f);
        parts.extend((0..4).map(|j| slot(j, &|b| format!("k{}", b.0))));
        parts.extend((0..4).map(|j| slot(j, &|b| format!("e{}", b.1))));
    }
    parts.join("-")
}

/// Where each built-in OFA feature sits in the declared encoding (names `s1b2:k5` and
/// `s1k2:k5` are the same feature).
fn ofa_feature_map(declared: &dyn SearchSpace) -> Vec<usize> {
    let names = declared.feature_names();
    SpaceId::OfaMbv3
        .space()
        .feature_names()
        .iter()
        .map(|n| {
            let want = match n.split_once(':') {
                Some((slot, choice)) => {
                    let (stage, block) = slot.split_once('b').unwrap();
                    format!("{stage}{}{block}:{choice}", &choice[..1])
                }
                None => n.clone(),
            };
            names.iter().position(|m| *m == want).unwrap_or_else(|| panic!("{want} not declared"))
        })
        .collect()
}

#[test]
fn the_ofa_declaration_encodes_every_block_as_the_built_in_ofa_and_counts_the_blocks_run() {
    let d = load(&ofa_file()).unwrap().space();
    let b = SpaceId::OfaMbv3.space();
    let map = ofa_feature_map(d);
    assert_eq!(d.num_features(), b.num_features() + 1, "one more feature: the blocks run");
    assert_eq!(d.feature_names().last().unwrap(), "layers run");
    let per_stage: u64 = (2..=4).map(|depth| 81u64.pow(depth)).sum();
    let SpaceId::Declared(r) = d.id() else { unreachable!() };
    assert_eq!(r.get().size(), 25u64.saturating_mul(per_stage.saturating_pow(5)));
    let mut rng = seeded_rng(4);
    for _ in 0..200 {
        let arch = b.sample(&mut rng);
        let text = ofa_as_declared(&arch);
        let parsed = d.parse(&text).unwrap();
        assert_eq!(d.format(&parsed), text, "canonical strings round-trip");
        let (enc_d, enc_b) = (d.encode(&parsed), b.encode(&arch));
        for (i, &j) in map.iter().enumerate() {
            assert_eq!(enc_b[i], enc_d[j], "{text}: feature {i}");
        }
        let blocks: u8 = crate::space::OfaMbv3::depths(&arch).iter().sum();
        assert_eq!(enc_d[d.num_features() - 1], blocks as f64);
    }
    // Without a cost per block run, the declared minimum is the built-in one.
    for _ in 0..20 {
        let wb: Vec<f64> = (0..b.num_features()).map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0) + 0.3).collect();
        let mut wd = vec![0.0; d.num_features()];
        for (i, &j) in map.iter().enumerate() {
            wd[j] = wb[i];
        }
        assert!((d.min_additive(&wd) - b.min_additive(&wb)).abs() < 1e-9);
    }
}

#[test]
fn a_block_beyond_its_stage_depth_is_written_as_a_tilde_and_ignored() {
    let d = load(&ofa_file()).unwrap().space();
    let stage = "d2-k3-k5-~-~-e3-e6-~-~";
    let rest = ["d4-k3-k3-k3-k3-e3-e3-e3-e3"; 4].join("-");
    let text = format!("r160-{stage}-{rest}");
    let arch = d.parse(&text).unwrap();
    assert_eq!(d.format(&arch), text);
    // A choice where the tilde belongs is accepted and dropped.
    let loose = text.replacen("k5-~", "k5-k7", 1);
    assert_eq!(d.parse(&loose).unwrap(), arch);
    // A tilde inside the depth is not.
    let e = d.parse(&text.replacen("k5", "~", 1)).unwrap_err().to_string();
    assert!(e.contains("position s1k2: '~' marks a layer beyond its stage's depth, but stage s1 runs 2 layers"), "{e}");
    let e = d.parse(&text.replacen("r160", "~", 1)).unwrap_err().to_string();
    assert!(e.contains("position res: unknown choice '~'"), "{e}");
}

/// A small space with every kind of structure: a resolution, a stage of elastic depth whose
/// layers have two positions, and a position with a skip.
fn small_structured() -> SpaceId {
    let text = r#"
name = "small-structured"
[[position]]
name = "res"
choices = ["r16", "r32"]
resolution = true
[[position]]
name = "depth"
choices = ["d1", "d2", "d3"]
depth_of = "body"
[[position]]
name = "k"
repeat = 3
choices = ["k3", "k5"]
stage = "body"
[[position]]
name = "e"
repeat = 3
choices = ["e1", "e2", "skip"]
skip = "skip"
stage = "body"
[[position]]
name = "head"
choices = ["h1", "none"]
skip = "none"
"#;
    intern(file::parse(text, Path::new("small.toml")).unwrap(), Path::new("small.toml")).unwrap()
}

#[test]
fn a_structured_space_enumerates_each_network_once_and_its_minimum_is_exact() {
    let id = small_structured();
    let s = id.space();
    let all = s.enumerate().unwrap();
    // 2 resolutions x (6 + 6^2 + 6^3 body layers) x 2 heads.
    assert_eq!(all.len(), 2 * (6 + 36 + 216) * 2);
    let distinct: std::collections::HashSet<&Arch> = all.iter().collect();
    assert_eq!(distinct.len(), all.len());
    for a in &all {
        let mut g = a.genes().to_vec();
        s.canonicalize(&mut g);
        assert_eq!(g, a.genes(), "{}", s.format(a));
        assert_eq!(&s.parse(&s.format(a)).unwrap(), a);
    }
    let SpaceId::Declared(r) = id else { unreachable!() };
    assert_eq!(r.get().size(), all.len() as u64);
    // Layers run: the body's layers (a skipped `e` halves its layer's count) and the head.
    let a = s.parse("r16-d2-k3-k5-~-e1-skip-~-h1").unwrap();
    assert_eq!(r.get().layers_run(&a), 1.0 + 0.5 + 1.0);
    let enc = s.encode(&a);
    assert_eq!(*enc.last().unwrap(), 2.5);
    assert_eq!(enc[enc.len() - 2], 0.25, "the stem feature is (16/32)^2");
    let mut rng = seeded_rng(8);
    for draw in 0..30 {
        let shift = [0.0, 0.7, -0.7][draw % 3];
        let w: Vec<f64> = (0..s.num_features()).map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0) + shift).collect();
        let brute = all.iter().map(|a| crate::stats::dot(&s.encode(a), &w)).fold(f64::INFINITY, f64::min);
        assert!((brute - s.min_additive(&w)).abs() < 1e-12, "draw {draw}: {brute} vs {}", s.min_additive(&w));
        let top = all.iter().map(|a| crate::stats::dot(&s.encode(a), &w)).fold(f64::NEG_INFINITY, f64::max);
        assert!((top - s.max_additive(&w)).abs() < 1e-12);
    }
    // The layers-run form reproduces the count, here where it is a feature.
    let (form, c) = r.get().layers_form().unwrap();
    for a in all.iter().step_by(37) {
        assert_eq!(crate::stats::dot(&s.encode(a), &form) + c, r.get().layers_run(a));
    }
}

#[test]
fn without_a_resolution_the_layers_run_are_a_function_of_the_one_hots() {
    let text = "name = \"small-depth\"\n[[position]]\nname = \"depth\"\nchoices = [\"1\", \"2\"]\ndepth_of = \"s\"\n[[position]]\nname = \"op\"\nrepeat = 2\nchoices = [\"a\", \"b\", \"skip\"]\nskip = \"skip\"\nstage = \"s\"\n";
    let id = intern(file::parse(text, Path::new("d.toml")).unwrap(), Path::new("d.toml")).unwrap();
    let SpaceId::Declared(r) = id else { unreachable!() };
    let s = id.space();
    assert_eq!(s.num_features(), 6, "one-hots only");
    let all = s.enumerate().unwrap();
    assert_eq!(all.len(), 3 + 9);
    let (form, c) = r.get().layers_form().unwrap();
    for a in &all {
        assert_eq!(crate::stats::dot(&s.encode(a), &form) + c, r.get().layers_run(a), "{}", s.format(a));
    }
    let mut rng = seeded_rng(1);
    for _ in 0..50 {
        let a = s.sample(&mut rng);
        assert_ne!(s.mutate(&a, &mut rng), a);
    }
}

#[test]
fn malformed_structure_is_refused_with_the_line() {
    let err = |body: &str| file::parse(&format!("name = \"x\"\n{body}"), Path::new("s.toml")).unwrap_err().to_string();
    let depth = "[[position]]\nname = \"d\"\nchoices = [\"2\", \"5\"]\ndepth_of = \"s\"\n";
    let layers = "[[position]]\nname = \"op\"\nrepeat = 4\nchoices = [\"a\"]\nstage = \"s\"\n";
    assert_eq!(err(&format!("{depth}{layers}")), "s.toml:5: stage 's': depth 5 is more than its 4 layers");
    assert_eq!(
        err(layers),
        "s.toml:6: position 'op': stage 's' has no depth position (declare one with depth_of = \"s\")"
    );
    assert_eq!(err(depth), "s.toml:5: stage 's' has no positions (mark them with stage = \"s\")");
    let other = "[[position]]\nname = \"e\"\nrepeat = 3\nchoices = [\"b\"]\nstage = \"s\"\n";
    let e = err(&format!("{}{layers}{other}", depth.replace("\"5\"", "\"4\"")));
    assert!(e.starts_with("s.toml:15: position 'e' has 3 copies but 'op' of the same stage 's' has 4"), "{e}");
    let res = "[[position]]\nname = \"res\"\nchoices = [\"small\", \"r32\"]\nresolution = true\n";
    assert_eq!(err(res), "s.toml:4: position 'res': resolution choice 'small' does not end in a number");
    let twice = "[[position]]\nname = \"r\"\nchoices = [\"r1\"]\nresolution = true\n";
    assert_eq!(
        err(&format!("{twice}{}", twice.replace("\"r\"", "\"q\""))),
        "s.toml:9: position 'q': a second resolution position"
    );
    let repeated = "[[position]]\nname = \"r\"\nrepeat = 2\nchoices = [\"r1\"]\nresolution = true\n";
    assert_eq!(err(repeated), "s.toml:3: position 'r': a resolution position cannot be repeated");
}
