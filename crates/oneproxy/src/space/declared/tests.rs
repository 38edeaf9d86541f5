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
