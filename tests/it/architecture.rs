//! The layering written in `src/lib.rs` is true: every `crate::` path in `src/` (outside
//! unit-test modules) names a module of a lower layer, or one listed before it in its own
//! layer, and every top-level module has its place in the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer table of `lib.rs`'s documentation: each module's (layer, place in it).
fn layers(lib: &str) -> BTreeMap<String, (usize, usize)> {
    let mut items: Vec<String> = Vec::new();
    let mut in_table = false;
    for line in lib.lines().map_while(|l| l.strip_prefix("//!")) {
        let line = line.trim();
        let numbered = line
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        match numbered {
            Some((_, rest)) => {
                in_table = true;
                items.push(rest.to_string());
            }
            None if in_table && !line.is_empty() => {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(line);
                }
            }
            None => in_table = false,
        }
    }
    let mut out = BTreeMap::new();
    for (layer, item) in items.iter().enumerate() {
        let names = item.split(':').next().unwrap_or_default();
        for (place, name) in names.split('`').skip(1).step_by(2).enumerate() {
            out.entry(name.to_string()).or_insert((layer, place));
        }
    }
    out
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The text of a source file without its unit-test module (`#[cfg(test)] mod x { … }`,
/// always last; a `mod tests;` in a file of its own is left out by [`is_test_file`]).
fn without_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let start = from + i;
        let after = text[start + "#[cfg(test)]".len()..].trim_start();
        if let Some(decl) = after.strip_prefix("mod ") {
            let end = decl.find(['{', ';']);
            if end.is_some_and(|e| decl[e..].starts_with('{')) {
                return &text[..start];
            }
        }
        from = start + 1;
    }
    text
}

/// Every module named by a `crate::` path in `text`: `crate::x…` and `use crate::{x, y…}`.
fn imports(text: &str) -> BTreeSet<String> {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut part) = (0, String::new());
            for c in group.chars() {
                match c {
                    '}' if depth == 0 => break,
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(word(part.trim()));
                        part.clear();
                        continue;
                    }
                    _ => {}
                }
                part.push(c);
            }
            out.insert(word(part.trim()));
        } else {
            out.insert(word(rest));
        }
    }
    out.remove("");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import that goes up the table or sideways against its order, as
/// "module -> imported"; `table` gives each module's (layer, place).
fn violations(
    table: &BTreeMap<String, (usize, usize)>,
    graph: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (module, names) in graph {
        let Some(&from) = table.get(module) else {
            bad.push(format!("{module}: not in the layer table"));
            continue;
        };
        for name in names
            .iter()
            .filter(|n| graph.contains_key(*n) && *n != module)
        {
            match table.get(name) {
                Some(&to) if to < from => {}
                _ => bad.push(format!("{module} -> {name}")),
            }
        }
    }
    bad
}

/// Test-only files: unit-test modules kept in files of their own.
fn is_test_file(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.starts_with("tests"))
}

#[test]
fn every_import_goes_down_the_layers_of_lib_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let table = layers(&lib);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source");
        graph
            .entry(module)
            .or_default()
            .extend(imports(without_tests(&text)));
    }
    assert!(graph.len() > 20, "modules found: {:?}", graph.keys());
    let unknown: Vec<&String> = table.keys().filter(|m| !graph.contains_key(*m)).collect();
    assert!(
        unknown.is_empty(),
        "the table names no such module: {unknown:?}"
    );
    assert_eq!(violations(&table, &graph), Vec::<String>::new());
}

#[test]
fn the_check_sees_an_import_up_the_table_and_a_module_left_out() {
    let lib = "//! # Layers\n//!\n//! 1. `a`, `b`: low; `c` is mentioned\n//!    but not placed.\n//! 2. `c`: high.\n";
    let table = layers(lib);
    let at = |m: &str| table.get(m).copied();
    assert_eq!(
        (at("a"), at("b"), at("c")),
        (Some((0, 0)), Some((0, 1)), Some((1, 0)))
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["a", "c"]),
        ("c", vec!["a", "d"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, i)| (m.to_string(), i.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        violations(&table, &graph),
        ["a -> b", "b -> c", "c -> d", "d: not in the layer table"]
    );
    let text = "use crate::{x::{Y, V}, z};\nfn f() { crate::w::g(); }\n#[cfg(test)]\nmod tests {\n    use crate::q;\n}\n";
    assert_eq!(
        imports(without_tests(text)),
        ["w", "x", "z"].into_iter().map(String::from).collect()
    );
}
