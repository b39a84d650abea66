//! `casefile`: runs the service until ctrl-c or SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    casefile_api::cli::main()
}
