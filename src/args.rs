//! The command line: an optional subcommand, then flags. Every input of the table in
//! [`crate::inputs`] is also a flag, `--<id> <value>` or `--<id>=<value>`; a boolean input
//! may also stand alone (`--wait` is `true`, `--no-wait` is `false`). Flags are a layer in
//! front of the environment ([`Invocation::lookup`]): a flag wins over `INPUT_*`, which wins
//! over `MATILLION_*`/`DATALAB_*`, which win over the default. Nothing typed is ignored: an
//! unknown word or flag, a missing or empty value, a flag given twice, or a stray value is
//! refused (exit 2, before any request) with the closest known word when one is near.
//! `--help` renders the table per platform in 100 columns.

use crate::exit::Exit;
use crate::inputs::{self, INPUTS, Input};
use crate::suggest;

/// What the program was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Trigger and wait (the default).
    Run,
    /// Follow an execution this step did not start to its end, and report it.
    Wait,
    /// One look at an execution: report it as it is now.
    Status,
    /// Cancel an execution by id.
    Cancel,
    /// The GitHub post step, by hand.
    Post,
    /// Print the help.
    Help,
    /// Print the version.
    Version,
    /// Publish `artifact-dir` as an artifact version.
    Publish,
    /// Promote an artifact version to another environment.
    Promote,
}

/// The subcommands, with one line of help each.
pub(crate) const COMMANDS: &[(&str, Command, &str)] = &[
    (
        "run",
        Command::Run,
        "Trigger the pipeline, wait for it, report its steps (the default).",
    ),
    (
        "wait",
        Command::Wait,
        "Follow a run already going to its end, report it as `run` does: `--execution-id`, or the running one of `--pipeline` (see docs/attach.md).",
    ),
    (
        "status",
        Command::Status,
        "One look at a run (`--execution-id`, or the latest of `--pipeline`): report it; exit 5 while it runs.",
    ),
    (
        "cancel",
        Command::Cancel,
        "Cancel an execution: `--execution-id`, else the id in `result-file` or `dotenv-file`.",
    ),
    (
        "publish",
        Command::Publish,
        "Publish `artifact-dir` as artifact version `version` in `environment` (see docs/publish.md).",
    ),
    (
        "promote",
        Command::Promote,
        "Promote artifact version `version` from `from-environment` to `environment`.",
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

/// The commands the `command` input may name (the others are chosen on the command line
/// only, or by the program's name).
const BY_INPUT: &[Command] = &[
    Command::Run,
    Command::Wait,
    Command::Status,
    Command::Publish,
    Command::Promote,
    Command::Cancel,
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
pub(crate) struct Invocation {
    /// The subcommand.
    pub(crate) command: Command,
    /// Whether the subcommand was typed (else it is `run`, or the `command` input's).
    typed: bool,
    flags: Vec<Given>,
}

impl Invocation {
    /// The command to run: the one typed, else the `command` input's (read through
    /// `lookup`: the command line over the environment), else `run`. `Err`: the input's
    /// value names no command it may select, a sentence for the log.
    pub(crate) fn command_with(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, String> {
        if self.typed {
            return Ok(self.command);
        }
        let Some(given) = inputs::find("command").and_then(|i| inputs::read(i, lookup)) else {
            return Ok(self.command);
        };
        let named = |c: &Command| COMMANDS.iter().find(|(_, k, _)| k == c).map(|(n, _, _)| *n);
        BY_INPUT
            .iter()
            .find(|c| named(c).is_some_and(|n| n.eq_ignore_ascii_case(&given.value)))
            .copied()
            .ok_or_else(|| {
                let mut accepted: Vec<String> = BY_INPUT
                    .iter()
                    .filter_map(named)
                    .map(|n| format!("`{n}`"))
                    .collect();
                let last = accepted.pop().unwrap_or_default();
                format!(
                    "input 'command': got {} (from {}); expected {} or {last}.",
                    show(&given.value),
                    given.from,
                    accepted.join(", ")
                )
            })
    }

    /// The value given for `flag` (`--timeout`), if any.
    pub(crate) fn flag(&self, flag: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|g| g.input.id == flag.strip_prefix("--").unwrap_or(""))
            .map(|g| g.value.as_str())
    }

    /// The lookup the configuration is read through: a flag's name (`--timeout`, which
    /// [`inputs::read`] asks first) is answered from the command line, and never from `env`;
    /// any other name from `env`.
    pub(crate) fn lookup<'a>(
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

/// The state of one parse: where it is in the arguments, and what it found.
struct Parser<'a> {
    args: &'a [String],
    /// The next argument's index.
    i: usize,
    command: Option<Command>,
    flags: Vec<Given>,
    errors: Vec<String>,
    /// `--help` or `--version`, answered whatever else was typed.
    asked: Option<Command>,
}

fn is_bool(v: &str) -> bool {
    v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
}

impl Parser<'_> {
    /// The next argument as a value when `take` accepts it (it is then consumed).
    fn value_if(&mut self, take: impl Fn(&str) -> bool) -> Option<String> {
        let v = self.args.get(self.i).filter(|v| take(v))?.clone();
        self.i += 1;
        Some(v)
    }

    /// `--help`, `-h`, `--version` (alone), `-V`: `true` when `arg` was one of them.
    fn asked_for(&mut self, arg: &str) -> bool {
        let asked = match arg {
            "--help" | "-h" => Command::Help,
            // `--version` with a value is the Matillion input `version`; alone, the program's.
            "--version" if self.args.get(self.i).is_some_and(|v| !v.starts_with('-')) => {
                return false;
            }
            "--version" | "-V" => Command::Version,
            _ => return false,
        };
        self.asked.get_or_insert(asked);
        true
    }

    /// The input and value of `--name[=value]` when `name` is an input (or `no-<boolean>`).
    fn input_value(
        &mut self,
        name: &str,
        inline: Option<&str>,
    ) -> Option<(&'static Input, String)> {
        let flag = format!("--{name}");
        if let Some(input) = inputs::find(name) {
            let value = match inline {
                Some(v) => Some(v.to_string()),
                None if input.boolean => {
                    Some(self.value_if(is_bool).unwrap_or_else(|| "true".into()))
                }
                None => self.value_if(|v| !v.starts_with("--")),
            };
            if value.is_none() {
                self.errors.push(format!(
                    "flag '{flag}' needs a value: '{flag} <value>' or '{flag}=<value>'."
                ));
            }
            return value.map(|v| (input, v));
        }
        if let Some(input) = name
            .strip_prefix("no-")
            .and_then(inputs::find)
            .filter(|i| i.boolean)
        {
            if inline.is_some() {
                self.errors.push(format!(
                    "flag '{flag}' takes no value; give '--{}=<true|false>' instead.",
                    input.id
                ));
                return None;
            }
            return Some((input, "false".to_string()));
        }
        // Its value, if it has one, is never shown: it may be a secret.
        let mut msg = format!("unknown flag '{}'.", crate::http::clean(&flag));
        msg.push_str(&did_you_mean_flag(&flag));
        if inline.is_none() && self.value_if(|v| !v.starts_with('-')).is_some() {
            msg.push_str(" (Its value is not shown.)");
        }
        self.errors.push(msg);
        None
    }

    /// `--name`, `--name value` or `--name=value`.
    fn flag(&mut self, body: &str) {
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let flag = format!("--{name}");
        let Some((input, value)) = self.input_value(name, inline) else {
            return;
        };
        if value.trim().is_empty() {
            self.errors.push(format!(
                "flag '{flag}' has an empty value; give a value, or leave the flag out."
            ));
            return;
        }
        if let Some(earlier) = self.flags.iter().find(|g| g.input.id == input.id) {
            self.errors.push(format!(
                "input '{}' is given twice on the command line ('{}' and '{flag}'); give it once.",
                input.id, earlier.typed
            ));
            return;
        }
        self.flags.push(Given {
            input,
            typed: flag,
            value,
        });
    }

    /// A word: the subcommand in first place, else a mistake.
    fn word(&mut self, arg: &str, first: bool) {
        let known = COMMANDS.iter().find(|(n, _, _)| *n == arg).map(|c| c.1);
        match known {
            Some(c) if first => self.command = Some(c),
            Some(_) => self.errors.push(format!(
                "the subcommand '{arg}' must come first: 'pipeline-run {arg} [flags]'."
            )),
            None => self.errors.push(format!(
                "unexpected argument {}.{}",
                show(arg),
                did_you_mean_word(arg, first, self.command)
            )),
        }
    }
}

/// Parse the arguments after the program's name. `Err`: every problem, one sentence each.
pub(crate) fn parse(args: &[String]) -> Result<Invocation, Vec<String>> {
    let mut p = Parser {
        args,
        i: 0,
        command: None,
        flags: Vec::new(),
        errors: Vec::new(),
        asked: None,
    };
    while let Some(arg) = args.get(p.i) {
        let first = p.i == 0;
        p.i += 1;
        if p.asked_for(arg) {
            continue;
        }
        if let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) {
            p.flag(body);
        } else if arg.starts_with('-') {
            let name = arg.split('=').next().unwrap_or(arg);
            p.errors.push(format!(
                "unknown flag {}.{}",
                show(name),
                did_you_mean_flag(name)
            ));
        } else {
            p.word(arg, first);
        }
    }
    // Asking for help (or the version) is answered whatever else was typed.
    if let Some(command) = p.asked {
        return Ok(Invocation {
            command,
            typed: true,
            flags: p.flags,
        });
    }
    if !p.errors.is_empty() {
        return Err(p.errors);
    }
    Ok(Invocation {
        command: p.command.unwrap_or(Command::Run),
        typed: p.command.is_some(),
        flags: p.flags,
    })
}

/// Report a refused command line in the log and give the exit code (2).
pub(crate) fn refuse(errors: &[String], env: &dyn Fn(&str) -> Option<String>) -> Exit {
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
pub(crate) fn secret_flag_warnings(lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
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

mod help;
#[cfg(test)]
mod tests;

pub use help::{HELP_WIDTH, help};
