//! `pipeline-run`: see the README. Everything lives in the library; this only exits with
//! the code `run()` chose.

fn main() {
    std::process::exit(pipeline_run::cli::main_entry());
}
