//! Value types shared by commands, events and read models.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Who did something: the authenticated user behind a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// Stable user id.
    pub id: String,
    /// Display name at the time of acting.
    pub name: String,
}

/// How a complaint or a piece of correspondence reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Email,
    WebForm,
    Portal,
    Letter,
    InPerson,
}

impl Channel {
    /// The snake_case id, as serde writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
            Self::WebForm => "web_form",
            Self::Portal => "portal",
            Self::Letter => "letter",
            Self::InPerson => "in_person",
        }
    }
}

/// The longest resident id, in bytes: an id is a key the landlord's systems give, and it
/// is indexed (PostgreSQL's index entries cannot exceed about 2.7 kB).
pub const MAX_RESIDENT_ID: usize = 200;

/// The person complaining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Complainant {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The landlord's own id for the resident or tenancy, to find their other cases; at
    /// most [`MAX_RESIDENT_ID`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
    /// A UK postcode; stored in its usual form (`SW1A 1AA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// How the resident prefers to be contacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_contact: Option<ContactMethod>,
}

/// A way of reaching the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Email,
    Phone,
    TextMessage,
    Letter,
    InPerson,
}

/// Who a representative is to the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    Advocate,
    Family,
    Friend,
    /// A Member of Parliament.
    Mp,
    Councillor,
    Solicitor,
    /// Acting for the estate of a resident who has died.
    Executor,
    Other,
}

/// How to reach someone; each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none() && self.address.is_none()
    }
}

/// How and when the resident consented to someone acting for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// E.g. "signed consent form", "verbal consent by phone, call recorded".
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub how: String,
    pub given_on: NaiveDate,
}

/// Who the case's letters and emails go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorrespondenceTo {
    Resident,
    Representative,
    Both,
}

/// The finding of a stage response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Upheld,
    PartlyUpheld,
    NotUpheld,
}

/// What the landlord puts right: actions and compensation in pence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Remedy {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub compensation_pence: u64,
}

/// A Stage 1 or Stage 2 response, as sent to the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageResponse {
    pub outcome: Outcome,
    pub decision: String,
    pub reasons: String,
    pub remedy: Remedy,
    pub outstanding_actions: Vec<String>,
}

/// Where a tracked action comes from in a stage response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    /// One of the remedy's actions.
    Remedy,
    /// One of the actions the response said were still outstanding.
    Outstanding,
}

/// The kind of record a complaint can be linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Repair,
    AntiSocialBehaviour,
    Tenancy,
    Contact,
}

/// Which way a piece of correspondence went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Why a complaint may be refused (Complaint Handling Code 2024, 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The issue arose more than twelve months before the complaint was received.
    OlderThanTwelveMonths,
    /// Legal proceedings have started (a claim has been filed at court).
    LegalProceedings,
    /// The matter was already considered under the complaints policy.
    PreviouslyConsidered,
}

/// The letters Casefile writes to a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    Acknowledgement,
    Extension,
    Stage1Response,
    Stage2Response,
    Deadlock,
    Refusal,
}

impl LetterKind {
    pub const ALL: [LetterKind; 6] = [
        LetterKind::Acknowledgement,
        LetterKind::Extension,
        LetterKind::Stage1Response,
        LetterKind::Stage2Response,
        LetterKind::Deadlock,
        LetterKind::Refusal,
    ];

    /// The snake_case id, as serde writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::Extension => "extension",
            Self::Stage1Response => "stage1_response",
            Self::Stage2Response => "stage2_response",
            Self::Deadlock => "deadlock",
            Self::Refusal => "refusal",
        }
    }
}

impl std::fmt::Display for LetterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two in-house stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Stage1,
    Stage2,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stage1 => "stage 1",
            Self::Stage2 => "stage 2",
        })
    }
}

/// The tenure of the home a complaint is about. The regulator's Tenant Satisfaction Measures
/// are reported separately for low-cost rental and low-cost home ownership homes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tenure {
    /// Low-cost rental accommodation (LCRA).
    Lcra,
    /// Low-cost home ownership (LCHO), such as shared ownership.
    Lcho,
    /// Anything else, and any case whose tenure was never recorded.
    #[default]
    Other,
}

impl Tenure {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Lcra => "lcra",
            Self::Lcho => "lcho",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for Tenure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
