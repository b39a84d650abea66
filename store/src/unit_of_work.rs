//! The seam where cqrs-es meets the store: a [`UnitOfWork`] is the `EventStore` of one
//! command. `load_aggregate` reads the case's fold (one row, however long the case);
//! `commit` hands the events to [`Store::commit`], which writes them with everything derived
//! from them in one transaction, and keeps what was committed for the response.

use std::collections::HashMap;
use std::sync::Mutex;

use casefile_domain::{Calendar, Complaint, ComplaintError};
use cqrs_es::{AggregateContext, AggregateError, EventEnvelope, EventStore};

use crate::commit::{Answer, CommitError, Committed, NewCommit};
use crate::evidence::EvidenceBlob;
use crate::idempotency::KeyClaim;
use crate::records::{EntryCache, Lists, LoadedCase};
use crate::Store;

/// One command's view of the store.
pub struct UnitOfWork<'a> {
    store: &'a Store,
    calendar: &'a Calendar,
    reference_year: Option<i32>,
    idempotency: Option<KeyClaim>,
    status: u16,
    answer: Option<Answer>,
    lists: Lists<'a>,
    file: Option<&'a EvidenceBlob>,
    outcome: Mutex<Option<Result<Committed, CommitError>>>,
}

/// The case a command runs against.
pub struct CaseContext {
    id: String,
    base: Option<LoadedCase>,
    aggregate: Complaint,
}

impl AggregateContext<Complaint> for CaseContext {
    fn aggregate(&mut self) -> &mut Complaint {
        &mut self.aggregate
    }
}

impl<'a> UnitOfWork<'a> {
    pub fn new(store: &'a Store, calendar: &'a Calendar) -> Self {
        Self {
            store,
            calendar,
            reference_year: None,
            idempotency: None,
            status: 200,
            answer: None,
            lists: Lists::All,
            file: None,
            outcome: Mutex::new(None),
        }
    }

    /// A new case: its `Logged` event gets the next reference serial of `year`.
    pub fn assigning_reference(mut self, year: i32) -> Self {
        self.reference_year = Some(year);
        self.status = 201;
        self
    }

    /// Answer with a body made from the committed events, with `status`.
    pub fn answering_with(mut self, status: u16, answer: Answer) -> Self {
        self.status = status;
        self.answer = Some(answer);
        self
    }

    /// Record the response under an `Idempotency-Key` in the same transaction.
    pub fn answering(mut self, claim: Option<KeyClaim>) -> Self {
        self.idempotency = claim;
        self
    }

    /// Store `file`, the upload the command's evidence names, in the same transaction.
    pub fn storing(mut self, file: Option<&'a EvidenceBlob>) -> Self {
        self.file = file;
        self
    }

    /// Answer without the case's lists, and so never read them (`Prefer: return=minimal`).
    pub fn without_lists(mut self) -> Self {
        self.lists = Lists::Without;
        self
    }

    /// Reuse the entries of long cases kept in `cache` (unless the lists are left out).
    pub fn with_entry_cache(mut self, cache: &'a EntryCache) -> Self {
        if !matches!(self.lists, Lists::Without) {
            self.lists = Lists::Cached(cache);
        }
        self
    }

    /// What the command committed, or why the store refused it. `None` if the command
    /// wrote nothing (it was rejected, or produced no event).
    pub fn outcome(&self) -> Option<Result<Committed, CommitError>> {
        self.outcome.lock().ok().and_then(|mut o| o.take())
    }
}

fn store_error(
    err: impl std::error::Error + Send + Sync + 'static,
) -> AggregateError<ComplaintError> {
    AggregateError::DatabaseConnectionError(Box::new(err))
}

/// By reference, so the caller keeps the unit and reads its outcome after the framework ran.
impl EventStore<Complaint> for &UnitOfWork<'_> {
    type AC = CaseContext;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<Complaint>>, AggregateError<ComplaintError>> {
        let events = self
            .store
            .case_events(aggregate_id)
            .await
            .map_err(store_error)?;
        Ok(events
            .into_iter()
            .map(|e| EventEnvelope {
                aggregate_id: e.aggregate_id,
                sequence: usize::try_from(e.sequence).unwrap_or(usize::MAX),
                payload: e.event,
                metadata: e.metadata,
            })
            .collect())
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<CaseContext, AggregateError<ComplaintError>> {
        let base = if self.reference_year.is_some() {
            // A new case: its id was made for this command.
            None
        } else {
            self.store
                .load_case_with(aggregate_id, self.lists)
                .await
                .map_err(store_error)?
        };
        let aggregate = base
            .as_ref()
            .map(|b| b.record.state.clone())
            .unwrap_or_default();
        Ok(CaseContext {
            id: aggregate_id.to_string(),
            base,
            aggregate,
        })
    }

    async fn commit(
        &self,
        events: Vec<casefile_domain::ComplaintEvent>,
        context: CaseContext,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<Complaint>>, AggregateError<ComplaintError>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let result = self
            .store
            .commit(NewCommit {
                id: &context.id,
                base: context.base,
                events,
                metadata,
                calendar: self.calendar,
                reference_year: self.reference_year,
                idempotency: self.idempotency.clone(),
                status: self.status,
                answer: self.answer,
                lists: !matches!(self.lists, Lists::Without),
                file: self.file,
            })
            .await;
        let envelopes = match &result {
            Ok(committed) => Ok(committed
                .events
                .iter()
                .map(|e| EventEnvelope {
                    aggregate_id: e.aggregate_id.clone(),
                    sequence: usize::try_from(e.sequence).unwrap_or(usize::MAX),
                    payload: e.event.clone(),
                    metadata: e.metadata.clone(),
                })
                .collect()),
            Err(CommitError::Conflict) => Err(AggregateError::AggregateConflict),
            Err(err) => Err(AggregateError::UnexpectedError(Box::new(
                std::io::Error::other(err.to_string()),
            ))),
        };
        if let Ok(mut outcome) = self.outcome.lock() {
            *outcome = Some(result);
        }
        envelopes
    }
}
