//! The command line: an optional subcommand, then flags. Every input of the table in
//! [`crate::inputs`] is also a flag, `--<id> <value>` or `--<id>=<value>`; a boolean input
//! may also stand alone (`--wait` is `true`, `--no-wait` is `false`). Flags are a layer in
//! front of the environment ([`Invocation::lookup`]): a flag wins over `INPUT_*`, which wins
//! over `MATILLION_*`/`DATALAB_*`, which win over the default. Nothing typed is ignored: an
//! unknown word or flag, a missing or empty value, a flag given twice, or a stray value is
//! refused (exit 2, before any request) with the closest known word when one is near.
//! `--help` renders the table per platform in 100 columns.

use crate::exit::Exit;
use crate::inputs::{self, INPUTS, Input, Scope};
use crate::suggest;

/// What the program was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Trigger and wait (the default).
    Run,
    /// Cancel an execution by id.
    Cancel,
    /// The GitHub post step, by hand.
    Post,
    /// Print the help.
    Help,
    /// Print the version.
    Version,
}

/// The subcommands, with one line of help each.
pub const COMMANDS: &[(&str, Command, &str)] = &[
    (
        "run",
        Command::Run,
        "Trigger the pipeline, wait for it, report its steps (the default).",
    ),
    (
        "cancel",
        Command::Cancel,
        "Cancel an execution: `--execution-id`, else the id in `result-file` or `dotenv-file`.",
    ),
    (
        "post",
        Command::Post,
        "The GitHub Action's post step: cancel a run the main step could not stop.",
    ),
    (
        "help",
        Command::Help,
        "Print this help (also `--help`, `-h`).",
    ),
    (
        "version",
        Command::Version,
        "Print the version (also `--version`, `-V`).",
    ),
];

/// The help and version flags, besides the inputs.
const OTHER_FLAGS: &[&str] = &["--help", "--version"];

/// One flag given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Given {
    input: &'static Input,
    /// As typed, without a value (`--no-wait`), for messages.
    typed: String,
    value: String,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The subcommand.
    pub command: Command,
    flags: Vec<Given>,
}

impl Invocation {
    /// The value given for `flag` (`--timeout`), if any.
    pub fn flag(&self, flag: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|g| g.input.id == flag.strip_prefix("--").unwrap_or(""))
            .map(|g| g.value.as_str())
    }

    /// The lookup the configuration is read through: a flag's name (`--timeout`, which
    /// [`inputs::read`] asks first) is answered from the command line, and never from `env`;
    /// any other name from `env`.
    pub fn lookup<'a>(
        &'a self,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name: &str| {
            if name.starts_with("--") {
                self.flag(name).map(str::to_string)
            } else {
                env(name)
            }
        }
    }
}

/// Shorten a word for a message (a stray word is shown; a flag's value never is).
fn show(word: &str) -> String {
    let clean: String = word
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > 40 {
        format!("'{}…'", clean.chars().take(40).collect::<String>())
    } else {
        format!("'{clean}'")
    }
}

/// Every flag name an input answers to.
fn flag_names() -> Vec<String> {
    let mut names: Vec<String> = OTHER_FLAGS.iter().map(|s| s.to_string()).collect();
    for i in INPUTS {
        names.push(inputs::flag(i));
        if i.boolean {
            names.push(format!("--no-{}", i.id));
        }
    }
    names
}

/// " Did you mean '--x'?" for a flag typed wrong (`name` with its dashes), or nothing.
fn did_you_mean_flag(name: &str) -> String {
    let bare = name.trim_start_matches('-');
    let names = flag_names();
    // A single dash (`-dry-run`): the same flag with two.
    if let Some(n) = names.iter().find(|n| n[2..] == *bare) {
        return format!(" Did you mean '{n}'?");
    }
    let typed = format!("--{bare}");
    suggest::closest(&typed, names.iter().map(String::as_str))
        .map(|n| format!(" Did you mean '{n}'?"))
        .unwrap_or_default()
}

/// The suggestion for a word that is neither a subcommand in first place nor a value.
fn did_you_mean_word(word: &str, first: bool, command: Option<Command>) -> String {
    let (name, has_value) = match word.split_once('=') {
        Some((n, _)) => (n, true),
        None => (word, false),
    };
    if let Some(i) = inputs::find(name) {
        let form = if has_value {
            format!("--{name}=…")
        } else {
            inputs::flag(i)
        };
        return format!(" Inputs are flags: did you mean '{form}'?");
    }
    if first {
        if let Some(c) = suggest::closest(word, COMMANDS.iter().map(|(n, _, _)| *n)) {
            return format!(" Did you mean '{c}'?");
        }
    }
    if let Some(id) = suggest::closest(name, INPUTS.iter().map(|i| i.id)) {
        return format!(" Did you mean '--{id}'?");
    }
    if command == Some(Command::Cancel) {
        return " Give the execution to cancel as '--execution-id <id>'.".into();
    }
    String::new()
}

/// Parse the arguments after the program's name. `Err`: every problem, one sentence each.
pub fn parse(args: &[String]) -> Result<Invocation, Vec<String>> {
    let mut command: Option<Command> = None;
    let mut flags: Vec<Given> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut asked: Option<Command> = None;
    let is_bool = |v: &str| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false");
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let first = i == 0;
        i += 1;
        match arg {
            "--help" | "-h" => {
                asked.get_or_insert(Command::Help);
                continue;
            }
            // `--version` with a value is the Matillion input `version`; alone, the program's.
            "--version" if args.get(i).is_some_and(|v| !v.starts_with('-')) => {}
            "--version" | "-V" => {
                asked.get_or_insert(Command::Version);
                continue;
            }
            _ => {}
        }
        if let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag = format!("--{name}");
            let (input, value) = if let Some(input) = inputs::find(name) {
                let value = match inline {
                    Some(v) => v.to_string(),
                    None if input.boolean => match args.get(i) {
                        Some(v) if is_bool(v) => {
                            i += 1;
                            v.clone()
                        }
                        _ => "true".to_string(),
                    },
                    None => match args.get(i) {
                        Some(v) if !v.starts_with("--") => {
                            i += 1;
                            v.clone()
                        }
                        _ => {
                            errors.push(format!(
                                "flag '{flag}' needs a value: '{flag} <value>' or '{flag}=<value>'."
                            ));
                            continue;
                        }
                    },
                };
                (input, value)
            } else if let Some(input) = name
                .strip_prefix("no-")
                .and_then(inputs::find)
                .filter(|i| i.boolean)
            {
                if inline.is_some() {
                    errors.push(format!(
                        "flag '{flag}' takes no value; give '--{}=<true|false>' instead.",
                        input.id
                    ));
                    continue;
                }
                (input, "false".to_string())
            } else {
                // Its value, if it has one, is never shown: it may be a secret.
                let mut msg = format!("unknown flag '{}'.", crate::http::clean(&flag));
                msg.push_str(&did_you_mean_flag(&flag));
                if inline.is_none() && args.get(i).is_some_and(|v| !v.starts_with('-')) {
                    i += 1;
                    msg.push_str(" (Its value is not shown.)");
                }
                errors.push(msg);
                continue;
            };
            if value.trim().is_empty() {
                errors.push(format!(
                    "flag '{flag}' has an empty value; give a value, or leave the flag out."
                ));
                continue;
            }
            if let Some(earlier) = flags.iter().find(|g| g.input.id == input.id) {
                errors.push(format!(
                    "input '{}' is given twice on the command line ('{}' and '{flag}'); give it once.",
                    input.id, earlier.typed
                ));
                continue;
            }
            flags.push(Given {
                input,
                typed: flag,
                value,
            });
            continue;
        }
        if arg.starts_with('-') {
            errors.push(format!(
                "unknown flag {}.{}",
                show(arg.split('=').next().unwrap_or(arg)),
                did_you_mean_flag(arg.split('=').next().unwrap_or(arg))
            ));
            continue;
        }
        let known = COMMANDS.iter().find(|(n, _, _)| *n == arg).map(|c| c.1);
        match known {
            Some(c) if first => command = Some(c),
            Some(_) => errors.push(format!(
                "the subcommand '{arg}' must come first: 'pipeline-run {arg} [flags]'."
            )),
            None => errors.push(format!(
                "unexpected argument {}.{}",
                show(arg),
                did_you_mean_word(arg, first, command)
            )),
        }
    }
    // Asking for help (or the version) is answered whatever else was typed.
    if let Some(command) = asked {
        return Ok(Invocation { command, flags });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Invocation {
        command: command.unwrap_or(Command::Run),
        flags,
    })
}

/// Report a refused command line in the log and give the exit code (2).
pub fn refuse(errors: &[String], env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    for e in errors {
        log::error!("{e}");
    }
    log::error!("nothing was triggered: fix the command line (see pipeline-run --help).");
    Exit::BadInput
}

/// One warning for each secret given as a flag (its value shows in `ps` and in the shell's
/// history); it is still used.
pub fn secret_flag_warnings(lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    INPUTS
        .iter()
        .filter(|i| i.secret)
        .filter(|i| lookup(&inputs::flag(i)).is_some())
        .map(|i| {
            let names = inputs::env_names(i);
            let env = names.last().map(String::as_str).unwrap_or("");
            format!(
                "the secret '{}' was given as a flag: it shows in `ps` and in the shell's history; set {env} instead.",
                i.id
            )
        })
        .collect()
}

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
         pipeline-run cancel [--execution-id <id>] [--<input> <value>]...\n       \
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
         unreachable, 130/143 interrupted.",
        0,
        0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn ok(a: &[&str]) -> Invocation {
        match parse(&args(a)) {
            Ok(i) => i,
            Err(e) => panic!("{a:?}: {e:?}"),
        }
    }

    fn errs(a: &[&str]) -> Vec<String> {
        match parse(&args(a)) {
            Ok(i) => panic!("{a:?} was accepted: {i:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn subcommands() {
        assert_eq!(ok(&[]).command, Command::Run);
        assert_eq!(ok(&["run"]).command, Command::Run);
        assert_eq!(ok(&["cancel"]).command, Command::Cancel);
        assert_eq!(ok(&["post"]).command, Command::Post);
        assert_eq!(ok(&["help"]).command, Command::Help);
        assert_eq!(ok(&["-V"]).command, Command::Version);
        assert_eq!(ok(&["version"]).command, Command::Version);
        assert_eq!(ok(&["--version"]).command, Command::Version);
        assert_eq!(
            ok(&["run", "--version", "--dry-run"]).command,
            Command::Version
        );
        // With a value, `--version` is the input of that name (the artifact version).
        let i = ok(&["--version", "1.2.3"]);
        assert_eq!(
            (i.command, i.flag("--version")),
            (Command::Run, Some("1.2.3"))
        );
        assert_eq!(ok(&["--version=2"]).flag("--version"), Some("2"));
        assert_eq!(ok(&["run", "--help"]).command, Command::Help);
        // Asking for help is answered even with a typo beside it.
        assert_eq!(ok(&["--dryrun", "-h"]).command, Command::Help);
    }

    #[test]
    fn flag_forms() {
        let i = ok(&[
            "run",
            "--timeout",
            "5m",
            "--pipeline=Load orders",
            "--dry-run",
            "--no-wait",
            "--cancel-on-timeout",
            "FALSE",
            "--variables=a=1",
        ]);
        assert_eq!(i.flag("--timeout"), Some("5m"));
        assert_eq!(i.flag("--pipeline"), Some("Load orders"));
        assert_eq!(i.flag("--dry-run"), Some("true"));
        assert_eq!(i.flag("--wait"), Some("false"));
        assert_eq!(i.flag("--cancel-on-timeout"), Some("FALSE"));
        assert_eq!(i.flag("--variables"), Some("a=1"));
        assert_eq!(i.flag("--project"), None);
        // A bare boolean does not take a following word that is not a boolean.
        assert_eq!(errs(&["--dry-run", "yes"]), ["unexpected argument 'yes'."]);
        // `=` passes any value on, to be checked with the inputs.
        assert_eq!(ok(&["--dry-run=yes"]).flag("--dry-run"), Some("yes"));
    }

    #[test]
    fn the_command_line_is_a_layer_over_the_environment() {
        let i = ok(&["cancel", "--execution-id", "X"]);
        let env = |name: &str| match name {
            "INPUT_EXECUTION-ID" => Some("from-env".to_string()),
            "--wait" => Some("an environment variable named like a flag".to_string()),
            "MATILLION_PROJECT" => Some("p".to_string()),
            _ => None,
        };
        let look = i.lookup(&env);
        let g = inputs::read(inputs::find("execution-id").unwrap(), &look).unwrap();
        assert_eq!((g.value.as_str(), g.from.as_str()), ("X", "--execution-id"));
        assert_eq!(look("MATILLION_PROJECT").as_deref(), Some("p"));
        assert_eq!(
            look("--wait"),
            None,
            "flags come from the command line only"
        );
    }

    #[test]
    fn refusals_say_what_was_meant() {
        assert_eq!(
            errs(&["rnu"]),
            ["unexpected argument 'rnu'. Did you mean 'run'?"]
        );
        assert_eq!(
            errs(&["run", "--dryrun"]),
            ["unknown flag '--dryrun'. Did you mean '--dry-run'?"]
        );
        assert_eq!(
            errs(&["-dry-run"]),
            ["unknown flag '-dry-run'. Did you mean '--dry-run'?"]
        );
        assert_eq!(
            errs(&["--no-timeout"]),
            ["unknown flag '--no-timeout'. Did you mean '--timeout'?"]
        );
        assert_eq!(
            errs(&["--client-secrt", "hunter2"]),
            [
                "unknown flag '--client-secrt'. Did you mean '--client-secret'? (Its value is not shown.)"
            ]
        );
        assert_eq!(
            errs(&["--client-secrt=hunter2"]),
            ["unknown flag '--client-secrt'. Did you mean '--client-secret'?"]
        );
        assert_eq!(errs(&["-x"]), ["unknown flag '-x'."]);
        assert_eq!(
            errs(&["run", "dry-run"]),
            ["unexpected argument 'dry-run'. Inputs are flags: did you mean '--dry-run'?"]
        );
        assert_eq!(
            errs(&["timeout=5m"]),
            ["unexpected argument 'timeout=5m'. Inputs are flags: did you mean '--timeout=…'?"]
        );
        assert_eq!(
            errs(&["cancel", "01234567"]),
            [
                "unexpected argument '01234567'. Give the execution to cancel as '--execution-id <id>'."
            ]
        );
        assert_eq!(
            errs(&["--dry-run", "run"]),
            ["the subcommand 'run' must come first: 'pipeline-run run [flags]'."]
        );
        assert_eq!(
            errs(&["--timeout"]),
            ["flag '--timeout' needs a value: '--timeout <value>' or '--timeout=<value>'."]
        );
        assert_eq!(
            errs(&["--timeout", "--dry-run"]),
            ["flag '--timeout' needs a value: '--timeout <value>' or '--timeout=<value>'."]
        );
        assert_eq!(
            errs(&["--timeout="]),
            ["flag '--timeout' has an empty value; give a value, or leave the flag out."]
        );
        assert_eq!(
            errs(&["--no-wait=true"]),
            ["flag '--no-wait' takes no value; give '--wait=<true|false>' instead."]
        );
        assert_eq!(
            errs(&["--wait", "--no-wait"]),
            [
                "input 'wait' is given twice on the command line ('--wait' and '--no-wait'); give it once."
            ]
        );
        assert_eq!(errs(&["--", "x"]).len(), 2);
        assert_eq!(
            errs(&["help", "--dryrun"]),
            ["unknown flag '--dryrun'. Did you mean '--dry-run'?"]
        );
    }

    #[test]
    fn secrets_given_as_flags_are_warned_about_without_their_value() {
        let i = ok(&[
            "--client-secret",
            "hunter2",
            "--client-id=abc",
            "--timeout=5m",
        ]);
        let env = |_: &str| None;
        let w = secret_flag_warnings(&i.lookup(&env));
        assert_eq!(
            w,
            [
                "the secret 'client-id' was given as a flag: it shows in `ps` and in the shell's history; set MATILLION_CLIENT_ID instead.",
                "the secret 'client-secret' was given as a flag: it shows in `ps` and in the shell's history; set MATILLION_CLIENT_SECRET instead.",
            ]
        );
        assert!(
            w.iter()
                .all(|l| !l.contains("hunter2") && !l.contains("abc"))
        );
    }

    #[test]
    fn help_lists_commands_and_every_input_per_platform_in_100_columns() {
        let h = help();
        for l in h.lines() {
            assert!(l.chars().count() <= HELP_WIDTH, "too wide: {l:?}");
        }
        for (name, _, _) in COMMANDS {
            assert!(h.contains(&format!("\n  {name} ")), "{name}");
        }
        for i in INPUTS {
            assert!(
                h.contains(&format!("  --{} ", i.id)) || h.contains(&format!("  --{},", i.id)),
                "{}",
                i.id
            );
        }
        let datalab = h.find("Inputs for platform datalab:").unwrap();
        let matillion = h.find("Inputs for platform matillion:").unwrap();
        assert!(h[matillion..datalab].contains("--project <value>"));
        assert!(h[datalab..].contains("--api-key <value>"));
        assert!(h.contains("  --wait, --no-wait"));
        assert!(h.contains("[default: 2h]"));
        assert_eq!(
            h.matches("[secret]").count(),
            5,
            "4 secrets and the explanation"
        );
    }
}
