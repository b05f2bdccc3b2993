//! `action.yml` agrees with the code: every input of `inputs::INPUTS` with the same
//! description (which names the default: no input declares one, the binary applies them),
//! every output the step writes, and a post entrypoint that
//! selects the post step (which can never trigger). Parsed by hand: the file uses a small,
//! plain subset of YAML (block mappings, plain or single-quoted scalars), and the parser
//! refuses anything else rather than guess.

use pipeline_run::inputs::INPUTS;
use pipeline_run::report::{PlatformKind, RunReport, outputs};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Node::Scalar(_) => None,
        }
    }
    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Node::Scalar(s) => Some(s),
            Node::Map(_) => None,
        }
    }
    fn keys(&self) -> Vec<&str> {
        match self {
            Node::Map(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            Node::Scalar(_) => Vec::new(),
        }
    }
}

fn scalar(raw: &str, line: usize) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .unwrap_or_else(|| panic!("line {line}: unterminated quote"));
        assert!(
            !inner.replace("''", "").contains('\''),
            "line {line}: stray quote"
        );
        return inner.replace("''", "'");
    }
    assert!(
        !raw.starts_with(['"', '|', '>', '[', '{', '&', '*', '!']),
        "line {line}: unsupported YAML: {raw}"
    );
    assert!(!raw.contains(" #"), "line {line}: trailing comment");
    raw.to_string()
}

/// (indent, key, inline value) for each meaningful line.
fn lines(text: &str) -> Vec<(usize, String, Option<String>, usize)> {
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        assert!(!l.contains('\t'), "line {}: tab", n + 1);
        let indent = l.len() - t.len();
        let (k, v) = t
            .split_once(':')
            .unwrap_or_else(|| panic!("line {}: not `key: value`: {l}", n + 1));
        let v = v.trim();
        let v = (!v.is_empty()).then(|| scalar(v, n + 1));
        out.push((indent, k.to_string(), v, n + 1));
    }
    out
}

fn parse_map(ls: &[(usize, String, Option<String>, usize)], i: &mut usize, indent: usize) -> Node {
    let mut map: Vec<(String, Node)> = Vec::new();
    while *i < ls.len() {
        let (ind, key, val, line) = &ls[*i];
        if *ind < indent {
            break;
        }
        assert_eq!(*ind, indent, "line {line}: unexpected indentation");
        assert!(
            map.iter().all(|(k, _)| k != key),
            "line {line}: duplicate key {key}"
        );
        *i += 1;
        let node = match val {
            Some(v) => Node::Scalar(v.clone()),
            None => {
                let child = ls.get(*i).map(|l| l.0).unwrap_or(0);
                assert!(child > indent, "line {line}: {key} has no value");
                parse_map(ls, i, child)
            }
        };
        map.push((key.clone(), node));
    }
    Node::Map(map)
}

fn action() -> Node {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml"))
        .expect("read action.yml");
    let ls = lines(&text);
    let mut i = 0;
    let root = parse_map(&ls, &mut i, 0);
    assert_eq!(i, ls.len());
    root
}

#[test]
fn metadata() {
    let a = action();
    assert_eq!(a.str("name"), Some("pipeline-run"));
    assert!(a.str("description").is_some_and(|d| d.len() > 20));
    let branding = a.get("branding").expect("branding");
    assert!(branding.str("icon").is_some_and(|s| !s.is_empty()));
    assert!(branding.str("color").is_some_and(|s| !s.is_empty()));
}

#[test]
fn inputs_agree_with_the_input_table() {
    let a = action();
    let inputs = a.get("inputs").expect("inputs");
    let ids: Vec<&str> = INPUTS.iter().map(|i| i.id).collect();
    assert_eq!(inputs.keys(), ids, "same inputs, same order");
    for i in INPUTS {
        let node = inputs.get(i.id).expect("input");
        assert_eq!(
            node.str("description"),
            Some(i.description().as_str()),
            "{}",
            i.id
        );
        // A default here would be passed as INPUT_<ID> and beat an explicit MATILLION_<ID>.
        assert_eq!(node.str("default"), None, "{} declares a default", i.id);
        // Required inputs depend on the platform: the program checks them and names
        // what is missing; the runner's own check would only warn.
        assert_eq!(node.str("required"), Some("false"), "{}", i.id);
        for key in node.keys() {
            assert!(
                ["description", "required"].contains(&key),
                "{}: unexpected {key}",
                i.id
            );
        }
    }
}

#[test]
fn outputs_agree_with_what_the_step_writes() {
    let a = action();
    let outs = a.get("outputs").expect("outputs");
    let report = RunReport::new(PlatformKind::Matillion, "p");
    let single: Vec<&str> = outputs::values(&report).iter().map(|(n, _)| *n).collect();
    // Several pipelines write the same outputs, then `results`.
    let fleet = pipeline_run::report::fleet::FleetReport {
        runs: vec![report.clone(), report.clone()],
        max_parallel: 4,
        fail_fast: false,
        rejected_requests: 0,
    };
    let names: Vec<&str> = pipeline_run::report::fleet::output_values(&fleet)
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names[..single.len()], single[..]);
    // `publish` and `promote` write theirs.
    let mut names = names;
    names.extend(pipeline_run::report::artifact::OUTPUT_NAMES);
    assert_eq!(outs.keys(), names);
    for n in names {
        let d = outs.get(n).and_then(|o| o.str("description")).unwrap_or("");
        assert!(d.len() > 10, "output {n} needs a description");
    }
}

#[test]
fn runs_a_container_with_a_post_step_that_cannot_trigger() {
    let a = action();
    let runs = a.get("runs").expect("runs");
    assert_eq!(runs.str("using"), Some("docker"));
    let image = runs.str("image").expect("image");
    assert!(
        image == "Dockerfile" || image.starts_with("docker://"),
        "{image}"
    );
    let main = runs.str("entrypoint").expect("entrypoint");
    let post = runs.str("post-entrypoint").expect("post-entrypoint");
    assert!(!pipeline_run::post::invoked_as_post(main));
    assert!(pipeline_run::post::invoked_as_post(post));
    // `runs.args` would be given to the post entrypoint as well.
    assert_eq!(runs.get("args"), None);
    assert_eq!(runs.get("pre-entrypoint"), None);

    // The image provides both paths.
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("read Dockerfile");
    let last_stage = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, s)| s)
        .expect("a final stage");
    assert!(
        last_stage.starts_with("scratch"),
        "final stage FROM scratch"
    );
    for forbidden in ["\nUSER", "\nRUN", "\nSHELL", "\nWORKDIR"] {
        assert!(
            !last_stage.contains(forbidden),
            "{forbidden:?} in the final stage"
        );
    }
    assert!(last_stage.contains(&format!("ENTRYPOINT [\"{main}\"]")));
    assert!(dockerfile.contains(post.trim_start_matches('/')));
}
