//! The GitLab reports of a real run against the simulator, read the way GitLab reads them:
//! the dotenv report under GitLab's parser rules, the JUnit report through a small strict
//! XML 1.0 well-formedness checker. The run's step names and messages are hostile: markup,
//! quotes, `&`, non-ASCII, control characters, line breaks, forged dotenv lines.

use crate::common::*;
use pipeline_run_sim::{Environment, Project, PublishedPipeline, RunScript, SimConfig};
use std::time::Duration;

const PROJECT_ID: &str = "0b6f3d5e-1c2a-4e8f-9a7b-3c4d5e6f7a8b";
const PIPELINE: &str = "Load \"orders\" <&> $HOME 100% ✓";

/// Step names, as the platform sends them.
fn step_names() -> Vec<&'static str> {
    vec![
        "Start",
        "a < b & \"c\" 'd' > e",
        "Ünïcödé ✓ 数据 🚀",
        "Line\nbreak\r\n]]> <!-- c --> <![CDATA[x]]>",
        "\u{1}\u{8}\u{1b}[31mred\u{7f} \u{fffe}",
        "::error::pwned",
        "&amp; &#0; &lt;",
        "End",
    ]
}

const FAIL_1: &str = "bad <row> & \"x\" 'y'\r\nsecond line\t$HOME %PATH%";
const RUN_MESSAGE_HEAD: &str =
    "first\r\nPIPELINE_RUN_STATUS=SUCCESS\n# comment $HOME ${CI_JOB_TOKEN} %PATH% \u{0}\u{1b}[0K ";

fn hostile_script() -> RunScript {
    let mut s = RunScript::new(Duration::from_millis(800), 8)
        .status("FAILED")
        .message(&format!("{RUN_MESSAGE_HEAD}{}", "ü".repeat(3000)))
        .fail_step(1, FAIL_1)
        .step_status(5, "SKIPPED")
        .fail_step(6, "");
    for (i, n) in step_names().into_iter().enumerate() {
        s = s.step_name(i, n);
    }
    s
}

struct Run {
    code: i32,
    id: String,
    dotenv: String,
    junit: String,
    json: serde_json::Value,
}

fn hostile_run(ci: &[(&str, &str)]) -> Run {
    let (sim, clock) = start_sim_held(SimConfig::new().project(
        Project::new(PROJECT_ID, "Analytics").environment(
            Environment::new("prod").pipeline(PublishedPipeline::new(PIPELINE, hostile_script())),
        ),
    ));
    let dir = Scratch::new("gitlab-reports");
    let mut env = matillion_env(&sim, "Analytics", "prod", PIPELINE);
    set(
        &mut env,
        "MATILLION_DOTENV_FILE",
        dir.path("out/run.env").display().to_string(),
    );
    set(
        &mut env,
        "MATILLION_JUNIT_FILE",
        dir.path("out/junit.xml").display().to_string(),
    );
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("out/result.json").display().to_string(),
    );
    for (k, v) in ci {
        set(&mut env, k, *v);
    }
    let out = ended_once(&clock, &env, &[], TRIGGERED);
    let execs = sim.executions();
    assert_eq!(execs.len(), 1, "{out:?}");
    Run {
        code: out.code,
        id: execs[0].id.clone(),
        dotenv: std::fs::read_to_string(dir.path("out/run.env")).expect("dotenv file"),
        junit: std::fs::read_to_string(dir.path("out/junit.xml")).expect("junit file"),
        json: serde_json::from_str(&dir.read("out/result.json")).expect("result JSON"),
    }
}

// ---------------------------------------------------------------------------------------
// dotenv

/// GitLab's reading of a dotenv report (`Ci::ParseDotenvArtifactService`): the whole file
/// under 5 KiB, every line `^(.*?)=(.*)$` with both sides stripped, keys `[A-Za-z0-9_]+`.
/// Stricter than GitLab where this program promises more: no blank or comment lines, no
/// control characters, no `$` or `%` (a later job would expand them), no duplicate keys.
fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    assert!(text.len() < 5_120, "dotenv is {} bytes", text.len());
    let body = text.strip_suffix('\n').expect("ends with a newline");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.split('\n') {
        assert!(!line.is_empty(), "blank line in {text:?}");
        assert!(!line.starts_with('#'), "comment line {line:?}");
        assert!(
            !line.chars().any(char::is_control),
            "control character in {line:?}"
        );
        let (k, v) = line.split_once('=').expect("Invalid Format");
        let (k, v) = (k.trim(), v.trim());
        assert!(
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad key {k:?}"
        );
        assert!(!v.contains('$') && !v.contains('%'), "would expand: {v:?}");
        assert!(!out.iter().any(|(seen, _)| seen == k), "duplicate key {k}");
        out.push((k.to_string(), v.to_string()));
    }
    out
}

#[test]
fn dotenv_parses_under_gitlab_rules_with_hostile_text() {
    let r = hostile_run(&[("GITLAB_CI", "true")]);
    assert_eq!(r.code, 1);
    let parsed = parse_dotenv(&r.dotenv);
    let s = |k: &str| r.json[k].as_str().unwrap().to_string();
    // One line, nothing to expand, cut on a character boundary to 500 bytes.
    let head = "first PIPELINE_RUN_STATUS=SUCCESS # comment ＄HOME ＄{CI_JOB_TOKEN} ％PATH％ [0K ";
    let message = format!("{head}{}", "ü".repeat((500 - head.len()) / 2));
    let expected: Vec<(String, String)> = [
        ("PIPELINE_RUN_EXECUTION_ID", r.id.clone()),
        (
            "PIPELINE_RUN_EXECUTION_URL",
            format!(
                "https://app.matillion.com/observability-dashboard/pipeline/{}",
                r.id
            ),
        ),
        ("PIPELINE_RUN_STATUS", "FAILED".into()),
        ("PIPELINE_RUN_OUTCOME", "failed".into()),
        ("PIPELINE_RUN_STARTED_AT", s("started_at")),
        ("PIPELINE_RUN_FINISHED_AT", s("finished_at")),
        ("PIPELINE_RUN_DURATION", "0".into()),
        ("PIPELINE_RUN_STEPS_TOTAL", "8".into()),
        ("PIPELINE_RUN_STEPS_FAILED", "2".into()),
        (
            "PIPELINE_RUN_PIPELINE",
            "Load \"orders\" <&> ＄HOME 100％ ✓".into(),
        ),
        ("PIPELINE_RUN_MESSAGE", message),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(parsed, expected);
    assert!(expected[10].1.len() <= 500);
}

// ---------------------------------------------------------------------------------------
// JUnit

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
    fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

/// XML 1.0 `Char`.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A strict XML 1.0 well-formedness checker for the subset a JUnit report uses (an
/// optional declaration, elements, attributes, text, comments, CDATA); panics on anything
/// malformed, and returns the root with references decoded and line ends and attribute
/// white space normalised as a conforming parser does.
fn parse_xml(doc: &str) -> Element {
    assert!(
        doc.chars().all(xml_char),
        "a character XML 1.0 does not allow"
    );
    // End-of-line handling (XML 1.0 §2.11).
    let doc = doc.replace("\r\n", "\n").replace('\r', "\n");
    let mut p = Parser { s: &doc, i: 0 };
    if p.rest().starts_with("<?xml") {
        let end = p.rest().find("?>").expect("unterminated declaration");
        let decl = &p.rest()[..end];
        assert!(
            decl.starts_with("<?xml version=\"1.0\""),
            "declaration {decl:?}"
        );
        p.i += end + 2;
    }
    p.misc();
    assert!(p.rest().starts_with('<'), "no root element");
    let root = p.element();
    p.misc();
    assert!(
        p.rest().is_empty(),
        "content after the root: {:?}",
        p.rest()
    );
    root
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.rest().starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn spaces(&mut self) -> bool {
        let n = self.rest().len() - self.rest().trim_start_matches([' ', '\t', '\n']).len();
        self.i += n;
        n > 0
    }
    /// White space and comments outside the root.
    fn misc(&mut self) {
        loop {
            self.spaces();
            if self.rest().starts_with("<!--") {
                self.comment();
            } else {
                break;
            }
        }
    }
    fn comment(&mut self) {
        assert!(self.eat("<!--"));
        let end = self.rest().find("--").expect("unterminated comment");
        assert!(
            self.rest()[end..].starts_with("-->"),
            "`--` inside a comment"
        );
        self.i += end + 3;
    }
    fn name(&mut self) -> String {
        let r = self.rest();
        let len = r
            .char_indices()
            .find(|&(k, c)| {
                let first = c.is_ascii_alphabetic() || c == '_' || c == ':';
                let other = first || c.is_ascii_digit() || c == '-' || c == '.';
                !(if k == 0 { first } else { other })
            })
            .map(|(k, _)| k)
            .unwrap_or(r.len());
        assert!(len > 0, "expected a name at {:?}", &r[..r.len().min(30)]);
        self.i += len;
        r[..len].to_string()
    }
    /// `&...;` at the cursor, decoded.
    fn reference(&mut self) -> char {
        assert!(self.eat("&"));
        let end = self.rest().find(';').expect("unterminated reference");
        let body = self.rest()[..end].to_string();
        self.i += end + 1;
        let c = match body.as_str() {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(hex) = body.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).expect("bad hex reference")
                } else if let Some(dec) = body.strip_prefix('#') {
                    assert!(
                        dec.chars().all(|c| c.is_ascii_digit()),
                        "bad reference &{body};"
                    );
                    dec.parse().expect("bad decimal reference")
                } else {
                    panic!("undeclared entity &{body};")
                };
                char::from_u32(n).expect("reference to no character")
            }
        };
        assert!(xml_char(c), "reference to a forbidden character {c:?}");
        c
    }
    fn attr_value(&mut self) -> String {
        let q = if self.eat("\"") {
            '"'
        } else if self.eat("'") {
            '\''
        } else {
            panic!("unquoted attribute value at {:?}", &self.rest()[..20])
        };
        let mut v = String::new();
        loop {
            let c = self
                .rest()
                .chars()
                .next()
                .expect("unterminated attribute value");
            if c == q {
                self.i += 1;
                return v;
            }
            match c {
                '<' => panic!("`<` in an attribute value"),
                '&' => v.push(self.reference()),
                // Attribute-value normalisation: literal white space becomes a space.
                '\t' | '\n' => {
                    self.i += 1;
                    v.push(' ');
                }
                _ => {
                    self.i += c.len_utf8();
                    v.push(c);
                }
            }
        }
    }
    fn element(&mut self) -> Element {
        assert!(self.eat("<"));
        let name = self.name();
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let had_space = self.spaces();
            if self.eat("/>") {
                return Element {
                    name,
                    attrs,
                    children: Vec::new(),
                };
            }
            if self.eat(">") {
                break;
            }
            assert!(
                had_space,
                "attributes must be separated by white space in <{name}>"
            );
            let a = self.name();
            self.spaces();
            assert!(self.eat("="), "expected `=` after {a}");
            self.spaces();
            let v = self.attr_value();
            assert!(
                !attrs.iter().any(|(k, _)| *k == a),
                "duplicate attribute {a}"
            );
            attrs.push((a, v));
        }
        let mut children = Vec::new();
        let mut text = String::new();
        loop {
            let r = self.rest();
            assert!(!r.is_empty(), "<{name}> is not closed");
            if r.starts_with("</") {
                self.i += 2;
                let end = self.name();
                assert_eq!(end, name, "mismatched end tag");
                self.spaces();
                assert!(self.eat(">"), "bad end tag </{end}");
                break;
            } else if r.starts_with("<!--") {
                self.comment();
            } else if r.starts_with("<![CDATA[") {
                let end = r.find("]]>").expect("unterminated CDATA");
                text.push_str(&r[9..end]);
                self.i += end + 3;
            } else if r.starts_with('<') {
                if !text.is_empty() {
                    children.push(Node::Text(std::mem::take(&mut text)));
                }
                children.push(Node::Element(self.element()));
            } else if r.starts_with('&') {
                text.push(self.reference());
            } else {
                assert!(!r.starts_with("]]>"), "`]]>` in text");
                let c = r.chars().next().unwrap_or_default();
                self.i += c.len_utf8();
                text.push(c);
            }
        }
        if !text.is_empty() {
            children.push(Node::Text(text));
        }
        Element {
            name,
            attrs,
            children,
        }
    }
}

#[test]
fn the_checker_rejects_malformed_xml() {
    let bad = [
        "<a>",
        "<a></b>",
        "<a x=1/>",
        "<a x=\"<\"/>",
        "<a>&</a>",
        "<a>&nbsp;</a>",
        "<a>&#0;</a>",
        "<a>\u{1}</a>",
        "<a>]]></a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a/><b/>",
        "<a><!-- -- --></a>",
    ];
    for doc in bad {
        let r = std::panic::catch_unwind(|| parse_xml(doc));
        assert!(r.is_err(), "accepted {doc:?}");
    }
    let ok = parse_xml(
        "<?xml version=\"1.0\"?>\n<a x='&lt;&#10;&#x41;\tb'>t&amp;<![CDATA[<&]]><b/></a>\n",
    );
    assert_eq!(ok.attr("x"), Some("<\nA b"));
    assert_eq!(ok.text(), "t&<&");
}

/// What a conforming parser gives back for text this program wrote: the characters XML
/// cannot hold are gone, everything else is intact.
fn xml_kept(s: &str) -> String {
    s.chars().filter(|&c| xml_char(c)).collect()
}

#[test]
fn junit_is_well_formed_with_one_case_per_step_and_the_right_failures() {
    let r = hostile_run(&[]);
    assert_eq!(r.code, 1);
    let root = parse_xml(&r.junit);
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attr("tests"), Some("8"));
    assert_eq!(root.attr("failures"), Some("2"));
    assert_eq!(root.attr("skipped"), Some("1"));
    let suites: Vec<&Element> = root.elements().collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.name, "testsuite");
    assert_eq!(suite.attr("name"), Some(PIPELINE));
    assert_eq!(suite.attr("tests"), Some("8"));
    assert_eq!(suite.attr("failures"), Some("2"));
    assert_eq!(suite.attr("errors"), Some("0"));
    assert_eq!(suite.attr("skipped"), Some("1"));

    let cases: Vec<&Element> = suite.elements().collect();
    let names = step_names();
    assert_eq!(cases.len(), names.len());
    let steps = r.json["steps"].as_array().unwrap();
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(case.name, "testcase");
        assert_eq!(
            case.attr("name"),
            Some(xml_kept(names[i]).as_str()),
            "step {i}"
        );
        assert_eq!(case.attr("classname"), Some(PIPELINE));
        // The step's duration, in seconds with milliseconds, as in the JSON result.
        let secs = steps[i]["duration_seconds"].as_f64().unwrap();
        assert_eq!(
            case.attr("time"),
            Some(format!("{secs:.3}").as_str()),
            "step {i}"
        );
        assert!((0.05..0.2).contains(&secs), "step {i} took {secs}s");
        let inner: Vec<&Element> = case.elements().collect();
        match i {
            1 => {
                assert_eq!(inner.len(), 1);
                assert_eq!(inner[0].name, "failure");
                assert_eq!(inner[0].attr("message"), Some("bad <row> & \"x\" 'y'"));
                assert_eq!(inner[0].attr("type"), Some("FAILED"));
                assert_eq!(inner[0].text(), FAIL_1);
            }
            6 => {
                // No message: the status stands in.
                assert_eq!(inner.len(), 1);
                assert_eq!(inner[0].name, "failure");
                assert_eq!(inner[0].attr("message"), Some("FAILED"));
                assert_eq!(inner[0].text(), "FAILED");
            }
            5 => {
                assert_eq!(inner.len(), 1);
                assert_eq!(inner[0].name, "skipped");
                assert_eq!(inner[0].attr("message"), Some("SKIPPED"));
            }
            _ => assert!(inner.is_empty(), "step {i}: {inner:?}"),
        }
    }
}
