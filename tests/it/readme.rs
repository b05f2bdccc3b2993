//! The README tells the truth: every input in the code's table is documented with its
//! default, and every exit code is in the exit-code table.

use pipeline_run::exit::Exit;
use pipeline_run::inputs::INPUTS;

const README: &str = include_str!("../../README.md");

#[test]
fn every_input_is_documented_with_its_default() {
    for i in INPUTS {
        let row = README
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", i.id)))
            .unwrap_or_else(|| panic!("README has no row for input '{}'", i.id));
        if let Some(d) = i.default {
            assert!(
                row.contains(&format!("| `{d}` |")),
                "README row for '{}' lacks default {d}: {row}",
                i.id
            );
        }
    }
}

#[test]
fn every_exit_code_is_documented() {
    for e in Exit::ALL {
        assert!(
            README
                .lines()
                .any(|l| l.starts_with(&format!("| {} |", e.code()))),
            "exit code {} is not in the README's table",
            e.code()
        );
    }
}
