//! `pipeline-run --help`: the commands, then every input of the one table as a flag, per
//! platform, wrapped at [`HELP_WIDTH`] columns, secrets marked.

use super::{COMMANDS, OTHER_FLAGS};
use crate::inputs::{self, INPUTS, Input, Scope};

/// Help lines are at most this wide.
pub const HELP_WIDTH: usize = 100;
/// Where an input's description starts.
const HELP_INDENT: usize = 34;

/// Append `text` to `out`, wrapped at [`HELP_WIDTH`]: the first line continues `out`'s last
/// line (which is `first_used` characters long), the others start at `indent`.
fn wrap(out: &mut String, text: &str, first_used: usize, indent: usize) {
    let mut used = first_used;
    let mut at_start = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !at_start && used + 1 + len > HELP_WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            used = indent;
            at_start = true;
        }
        if !at_start {
            out.push(' ');
            used += 1;
        }
        out.push_str(word);
        used += len;
        at_start = false;
    }
    out.push('\n');
}

fn help_entry(out: &mut String, input: &Input) {
    let left = if input.boolean {
        format!("  --{id}, --no-{id}", id = input.id)
    } else {
        format!("  --{} <value>", input.id)
    };
    let mut text = input.help.to_string();
    if let Some(d) = input.default {
        text.push_str(&format!(" [default: {d}]"));
    }
    if input.secret {
        text.push_str(" [secret]");
    }
    if OTHER_FLAGS.contains(&inputs::flag(input).as_str()) {
        text.push_str(&format!(
            " (Alone, `--{}` prints pipeline-run's own.)",
            input.id
        ));
    }
    out.push_str(&left);
    let used = left.chars().count();
    if used + 2 > HELP_INDENT {
        out.push('\n');
        out.push_str(&" ".repeat(HELP_INDENT));
    } else {
        out.push_str(&" ".repeat(HELP_INDENT - used));
    }
    wrap(out, &text, HELP_INDENT, HELP_INDENT);
}

/// `pipeline-run --help`.
pub fn help() -> String {
    let mut s = format!(
        "pipeline-run {}: trigger a published data pipeline, wait for it, report its steps.\n\n\
         Usage: pipeline-run [run] [--<input> <value>]...\n       \
         pipeline-run wait | status [--execution-id <id>] [--<input> <value>]...\n       \
         pipeline-run cancel [--execution-id <id>] [--<input> <value>]...\n       \
         pipeline-run publish | promote [--<input> <value>]...\n       \
         pipeline-run post | help | version\n\nCommands:\n",
        env!("CARGO_PKG_VERSION")
    );
    for (name, _, text) in COMMANDS {
        let left = format!("  {name}");
        s.push_str(&left);
        s.push_str(&" ".repeat(12 - left.len()));
        wrap(&mut s, text, 12, 12);
    }
    s.push('\n');
    wrap(
        &mut s,
        "Every input is a flag, `--<id> <value>` or `--<id>=<value>`, and an environment \
         variable: INPUT_<ID> (GitHub Actions), or MATILLION_<ID> / DATALAB_<ID> with the id in \
         upper snake case (MATILLION_CLIENT_ID). The first given wins: flag, then INPUT_<ID>, \
         then MATILLION_<ID> / DATALAB_<ID>, then the default. A boolean flag may stand alone: \
         `--wait` is true, `--no-wait` false. A [secret] given as a flag shows in `ps` and in \
         the shell's history: prefer its environment variable. Unknown flags are refused; \
         unknown INPUT_*, MATILLION_* and DATALAB_* variables are warned about.",
        0,
        0,
    );
    for (title, scope) in [
        ("Inputs for every platform:", Scope::Common),
        ("Inputs for platform matillion:", Scope::Matillion),
        ("Inputs for platform datalab:", Scope::Datalab),
    ] {
        s.push('\n');
        s.push_str(title);
        s.push('\n');
        for i in INPUTS.iter().filter(|i| i.scope == scope) {
            help_entry(&mut s, i);
        }
    }
    s.push('\n');
    wrap(
        &mut s,
        "Exit codes: 0 success, 1 the run failed, 2 bad input, 3 timed out, 4 refused or \
         unreachable, 5 still running (`status`), 130/143 interrupted.",
        0,
        0,
    );
    s
}
