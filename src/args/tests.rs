//! Tests of the command line: parsing, refusals, help.

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
        ["unexpected argument '01234567'. Give the execution to cancel as '--execution-id <id>'."]
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

#[test]
fn the_command_input_selects_a_command_unless_one_is_typed() {
    let look = |v: &'static str| move |k: &str| (k == "INPUT_COMMAND").then(|| v.to_string());
    assert_eq!(ok(&[]).command_with(&look("wait")), Ok(Command::Wait));
    assert_eq!(ok(&[]).command_with(&look(" STATUS ")), Ok(Command::Status));
    assert_eq!(ok(&[]).command_with(&|_: &str| None), Ok(Command::Run));
    assert_eq!(ok(&["run"]).command_with(&look("wait")), Ok(Command::Run));
    assert_eq!(
        ok(&["--command", "cancel"])
            .command_with(&|k: &str| ok(&["--command", "cancel"]).flag(k).map(str::to_string)),
        Ok(Command::Cancel)
    );
    // Only the commands a step may be: never the post step, help or version.
    assert_eq!(
        ok(&[]).command_with(&look("post")),
        Err("input 'command': got 'post' (from INPUT_COMMAND); expected `run`, `wait`, `status`, `publish`, `promote` or `cancel`.".into())
    );
}
