//! `casefile`: runs the service until ctrl-c or SIGTERM.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    casefile_api::cli::run().await
}
