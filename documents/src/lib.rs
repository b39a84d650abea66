//! The documents a case produces: letters to the resident and the bundle an ombudsman
//! receives. Pure: the caller supplies the case, the raw event stream and the evidence
//! content; nothing here touches a store, a network or the clock.
//!
//! # Layout
//!
//! - [`contact`]: the landlord and the redress schemes' contact details.
//! - [`letters`]: letter templates (built in, overridable per organisation) and rendering.
//! - [`bundle`]: the zip an ombudsman receives, byte-identical for the same case.
//! - [`format`]: dates, money and the domain's codes in words.

pub mod bundle;
pub mod contact;
mod engine;
pub mod format;
pub mod letters;

pub use bundle::{
    write_bundle, BundleError, BundleInput, BundleLetter, ChainSummary, EvidenceSource, StreamLine,
};
pub use contact::{Organisation, SchemeContact};
pub use letters::{LetterContext, LetterError, LetterKind, Letters, RenderedLetter};
