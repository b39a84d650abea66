//! The `casefile` command: configuration from flags and environment, the service run until
//! ctrl-c or SIGTERM. Shared by the binary and the test suites' copy of it.

use std::process::ExitCode;

use clap::Parser;

use crate::config::Config;
use crate::startup::Application;

/// The `casefile` command: bounds the allocator's arenas before any thread starts (see
/// [`crate::memory`]), then runs the service on a multi-threaded runtime.
pub fn main() -> ExitCode {
    crate::memory::bound_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("casefile: cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line, starts the service and serves until asked to stop.
async fn run() -> ExitCode {
    let config = Config::parse();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("casefile: {err}");
            return ExitCode::FAILURE;
        }
    };
    let url = format!("http://{}", app.local_addr());
    println!("Casefile is listening on {url} (store: {})", app.backend());
    println!("API guide: {url}/api/v1/docs");
    if app.generated_admin_token() {
        println!(
            "Administrator token (shown once, keep it safe): {}",
            app.admin_token()
        );
    }
    println!("Staff web app: {url}/");
    if let Some(path) = app.admin_setup_path() {
        println!("Set the administrator's web sign-in (one-time link): {url}{path}");
    }
    tracing::info!(%url, "listening");
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("casefile: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
