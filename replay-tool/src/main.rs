//! `casefile-replay`: see the library for the commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    casefile_replay::main()
}
