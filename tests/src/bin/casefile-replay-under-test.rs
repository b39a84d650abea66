//! The `casefile-replay` command, built inside the test crate so the suites can run it as a
//! process of its own (exit codes, stdout and stderr as an operator sees them) without
//! depending on another package's binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    casefile_replay::main()
}
