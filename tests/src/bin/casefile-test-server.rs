//! The `casefile` command, built inside the test crate so the suites can run the service as a
//! real process (and kill it with SIGKILL) without depending on another package's binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    casefile_api::cli::main()
}
