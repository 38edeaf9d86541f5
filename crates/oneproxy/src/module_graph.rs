//! The crate's top-level modules must form a layered graph: a test reads every source file's
//! `crate::` paths (outside comments and test modules) and fails on a cycle, naming it.
//!
//! Why: a cycle between modules means neither can be understood, tested or moved without the
//! other; the layers (`error`, `files` at the bottom; `stats`, `network`; `space`; `output`,
//! `data`; then `predictor`, `search`, `measure`, `workflow` and the front ends) stay layers
//! only if something checks them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source folder is readable") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its test module and without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow `crate::` in `code`.
fn crate_paths(code: &str) -> Vec<&str> {
    code.match_indices("crate::")
        .filter(|&(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| {
            let rest = &code[i + m.len()..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// Names that `lib.rs` re-exports at the crate root (`pub use module::{A, B};`), with their
/// module, so that `crate::SpaceId` counts as a use of `space`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in code(lib).lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else { continue };
        let Some((module, names)) = rest.split_once("::") else { continue };
        for name in names.trim_end_matches(';').trim_matches(|c| c == '{' || c == '}').split(',') {
            out.insert(name.trim().to_string(), module.to_string());
        }
    }
    out
}

/// Edges `from -> to` between top-level modules.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    sources(&src, &mut files);
    let top = |p: &Path| -> String {
        let rel = p.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files.iter().map(|f| top(f)).filter(|m| m != "lib").collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in &files {
        let from = top(file);
        if from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        for name in crate_paths(&code(&text)) {
            let to = reexports.get(name).cloned().unwrap_or_else(|| name.to_string());
            if to != from && modules.contains(&to) {
                graph.get_mut(&from).expect("a module").insert(to);
            }
        }
    }
    graph
}

/// A cycle of the graph as a path `a -> b -> ... -> a`, if there is one (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_modules_have_no_import_cycle() {
        let graph = module_graph();
        assert!(graph.contains_key("space") && graph["data"].contains("space"), "the graph was read: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("import cycle between top-level modules: {}", cycle.join(" -> "));
        }
    }

    #[test]
    fn a_cycle_is_found_and_named() {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
            graph.entry(a.into()).or_default().insert(b.into());
        }
        assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
        graph.get_mut("c").unwrap().remove("a");
        assert_eq!(find_cycle(&graph), None);
    }

    #[test]
    fn paths_in_comments_and_tests_do_not_count() {
        let text = "use crate::a::X; // crate::b\n/// [`crate::c`]\nfn f() { $crate::d::g() }\n#[cfg(test)]\nmod tests { use crate::e; }";
        assert_eq!(crate_paths(&code(text)), ["a", "d"]);
    }
}
