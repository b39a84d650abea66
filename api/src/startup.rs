//! Building and running the service: configuration in, a bound server out.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::Router;
use casefile_domain::{Calendar, ComplaintServices, ProcedureRegistry};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use casefile_store::sequencer::Sequencer;
use casefile_store::users::UserRow;
use casefile_store::{Access, Store, StoreError};

use crate::auth::{hash_token, new_token, TokenCache};
use crate::cases::Cases;
use crate::config::Config;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub cases: Arc<Cases>,
    pub tokens: Arc<TokenCache>,
    pub body_limit: usize,
    /// The largest evidence file accepted, in bytes.
    pub evidence_limit: usize,
    /// Ids of every procedure, for the OpenAPI document.
    pub procedure_ids: Arc<Vec<String>>,
    pub web: Arc<crate::web::Web>,
    /// Letter templates, checked at start-up.
    pub letters: Arc<casefile_documents::Letters>,
    /// Who letters and bundles speak for.
    pub organisation: Arc<casefile_documents::Organisation>,
    /// The mail server alert emails go out by, if one is set: for a test email.
    pub mailer: Option<crate::watchdog::smtp::Mailer>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Procedure(#[from] casefile_domain::procedure::ProcedureError),
    #[error("bank holidays file {path}: {message}")]
    BankHolidays { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    WebTemplates(#[from] crate::web::templates::TemplateError),
    #[error("letter templates: {0}")]
    Letters(#[from] casefile_documents::LetterError),
    #[error("organisation: {0}")]
    Organisation(String),
    #[error("cannot bring the read models up to date: {0}")]
    Repair(#[source] casefile_store::LoadError),
    #[error("cannot set up the administrator: {0}")]
    Admin(#[source] sqlx::Error),
    #[error("cannot record the bank-holiday calendar: {0}")]
    Calendar(#[source] sqlx::Error),
    #[error("CASEFILE_SMTP_URL or CASEFILE_SMTP_FROM: {0}")]
    Smtp(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
}

/// The id of the administrator created on first start.
const ADMIN_ID: &str = "admin";

pub struct Application {
    store: Store,
    sequencer: Sequencer,
    watchdog: crate::watchdog::Watchdog,
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    admin_token: String,
    generated_admin_token: bool,
    admin_setup_path: Option<String>,
    backend: &'static str,
}

impl Application {
    /// Loads procedures and calendar, opens and migrates the store, seeds the administrator
    /// and binds the listener. Fails with a message naming what is wrong.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        crate::telemetry::init(&config.log, config.log_format);
        crate::metrics::handle();

        let mut procedures = ProcedureRegistry::builtin();
        for path in &config.procedures {
            procedures.load_file(path)?;
        }
        let mut calendar = Calendar::builtin();
        if let Some(path) = &config.bank_holidays {
            let failed = |message: String| StartupError::BankHolidays {
                path: path.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
            calendar = calendar
                .with_govuk_json(&text)
                .map_err(|e| failed(e.to_string()))?;
            tracing::info!(version = %calendar.version(), "bank holidays loaded");
        }

        // Checked before the store is touched: a template that does not render stops the
        // start with its file and line, not the first resident who needs that letter.
        let letters = casefile_documents::Letters::load(config.templates.as_deref())?;
        let organisation =
            casefile_store::bundle::load_organisation(config.organisation.as_deref())
                .map_err(StartupError::Organisation)?;

        let store = Store::open_with(
            &config.database_url,
            Access::Migrate,
            config.pool_settings(),
        )
        .await?;
        store
            .repair(&calendar)
            .await
            .map_err(StartupError::Repair)?;
        // Kept so that a case shown as of an earlier moment uses the calendar in force then.
        if store
            .record_calendar(&calendar, chrono::Utc::now())
            .await
            .map_err(StartupError::Calendar)?
        {
            tracing::info!(version = %calendar.version(), "bank-holiday calendar now in force");
        }
        let (admin_token, generated_admin_token) =
            seed_admin(&store, config.admin_token.as_ref().map(|s| s.expose()))
                .await
                .map_err(StartupError::Admin)?;

        let admin_setup_path = admin_setup_link(&store).await?;

        let procedure_ids = Arc::new(procedures.all().map(|p| p.id.clone()).collect());
        let procedure_options = procedures
            .all()
            .map(|p| crate::web::ProcedureOption {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect();
        let mut services = ComplaintServices::new(procedures, calendar);
        services.default_division = config.default_division;
        let web = crate::web::Web::new(
            config.web_templates.as_ref(),
            config.secure_cookies,
            services.calendar.clone(),
            procedure_options,
        )?;
        let sequencer = Sequencer::default();
        let letters = Arc::new(letters);
        let organisation = Arc::new(organisation);
        let automation = crate::watchdog::automation::Automation::new(
            services.procedures.clone(),
            letters.clone(),
            organisation.clone(),
        );
        let mailer = config
            .smtp_url
            .as_deref()
            .map(|url| crate::watchdog::smtp::Mailer::new(url, &config.smtp_from))
            .transpose()
            .map_err(StartupError::Smtp)?;
        let cases = Arc::new(Cases::new(store.clone(), services, sequencer.clone()));
        let in_flight = Arc::new(crate::in_flight::InFlight::default());
        let watchdog = crate::watchdog::Watchdog {
            store: store.clone(),
            committed: cases.committed(),
            cases: cases.clone(),
            automation,
            in_flight: in_flight.clone(),
            config: crate::watchdog::WatchdogConfig {
                interval: std::time::Duration::from_secs(config.watchdog_interval_secs),
                due_soon_days: config.due_soon_days,
                mailer: mailer.clone(),
            },
        };
        let state = AppState {
            store: store.clone(),
            cases,
            tokens: Arc::new(TokenCache::default()),
            body_limit: config.body_limit_bytes,
            evidence_limit: config.evidence_limit_bytes,
            procedure_ids,
            web: Arc::new(web),
            letters,
            organisation,
            mailer,
        };
        let request_id = HeaderName::from_static("x-request-id");
        let router = crate::routes::router(state)
            // Counted so that the watchdog's commands give way to people's requests.
            .layer(axum::middleware::from_fn_with_state(
                in_flight,
                crate::in_flight::track,
            ))
            .layer(DefaultBodyLimit::max(config.body_limit_bytes))
            .layer(PropagateRequestIdLayer::new(request_id.clone()))
            // A request answered with a server error was logged where it failed, with its
            // cause and at its level; the trace layer's line for it says only the status, so
            // it is kept for debugging. A response body that fails while it streams (an
            // export) is logged nowhere else: that stays an error.
            .layer(TraceLayer::new_for_http().on_failure(
                |class: ServerErrorsFailureClass,
                 latency: std::time::Duration,
                 _: &tracing::Span| match class {
                    ServerErrorsFailureClass::StatusCode(status) => {
                        tracing::debug!(%status, ?latency, "response failed");
                    }
                    ServerErrorsFailureClass::Error(error) => {
                        tracing::error!(%error, ?latency, "response failed");
                    }
                },
            ))
            // A bug must still answer with our error body, not drop the connection.
            .layer(CatchPanicLayer::custom(|_| {
                axum::response::IntoResponse::into_response(crate::error::ApiError::Internal(
                    "a request handler panicked".into(),
                ))
            }))
            .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));

        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    address: config.listen.clone(),
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: config.listen.clone(),
                source,
            })?;
        let backend = store.backend();
        Ok(Self {
            store,
            sequencer,
            watchdog,
            listener,
            router,
            address,
            admin_token,
            generated_admin_token,
            admin_setup_path,
            backend,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The administrator token set up by this start: the configured one, or one generated
    /// because no administrator had a token. Empty when an administrator already existed.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Whether [`admin_token`](Self::admin_token) was generated now and must be shown once.
    pub fn generated_admin_token(&self) -> bool {
        self.generated_admin_token
    }

    /// The path of a one-time link where the administrator sets a web sign-in email and
    /// password, made when no administrator can sign in to the web app yet.
    pub fn admin_setup_path(&self) -> Option<&str> {
        self.admin_setup_path.as_deref()
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight. The
    /// sequencer that gives committed events their global positions runs alongside.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let sequencer = tokio::spawn(self.sequencer.run(self.store.clone(), until_stopped()));
        let purger = tokio::spawn(purge_keys(self.store.clone(), until_stopped()));
        let watchdog = tokio::spawn(self.watchdog.run(until_stopped()));
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        let _ = sequencer.await;
        let _ = purger.await;
        let _ = watchdog.await;
        served
    }
}

/// Makes sure an administrator can sign in: with the configured token, or with a new one
/// when no administrator has a live token yet.
async fn seed_admin(
    store: &Store,
    configured: Option<&str>,
) -> Result<(String, bool), sqlx::Error> {
    let (token, generated) = match configured {
        Some(token) => (token.to_string(), false),
        None if store.admin_has_token().await? => return Ok((String::new(), false)),
        None => (new_token(), true),
    };
    store
        .insert_user(&UserRow {
            id: ADMIN_ID.to_string(),
            name: "Administrator".to_string(),
            roles: "admin".to_string(),
        })
        .await?;
    store.insert_token(ADMIN_ID, &hash_token(&token)).await?;
    Ok((token, generated))
}

/// A set-password link for the first administrator while no administrator has a web
/// password, so the web app can be reached without the API.
async fn admin_setup_link(store: &Store) -> Result<Option<String>, StartupError> {
    let failed =
        |err: crate::error::ApiError| StartupError::Admin(sqlx::Error::Protocol(err.to_string()));
    if store
        .admin_has_password()
        .await
        .map_err(StartupError::Admin)?
        || store
            .user(ADMIN_ID)
            .await
            .map_err(StartupError::Admin)?
            .is_none()
    {
        return Ok(None);
    }
    let (token, _) =
        crate::web::credentials::new_password_link(store, ADMIN_ID, chrono::Utc::now())
            .await
            .map_err(failed)?;
    Ok(Some(crate::web::credentials::password_link_path(&token)))
}

/// Forgets `Idempotency-Key` responses past their day, hourly.
async fn purge_keys(store: Store, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match store.purge_expired_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "forgot expired Idempotency-Key responses"),
            Err(err) => tracing::warn!(%err, "purging expired Idempotency-Key responses failed"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
