//! Who the documents speak for and where they send the resident: the landlord and the
//! redress schemes' published contact details.

use casefile_domain::procedure::Scheme;
use serde::{Deserialize, Serialize};

/// The landlord the letters are written for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    /// Postal address, one line per element.
    #[serde(default)]
    pub address: Vec<String>,
    /// Where residents reach the complaints team; escalation requests go here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Organisation {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            address: Vec::new(),
            email: None,
            phone: None,
        }
    }
}

/// How a resident reaches a redress scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeContact {
    pub name: String,
    /// Postal address, one line per element.
    pub address: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub website: String,
}

impl SchemeContact {
    /// The scheme's details as published: the Housing Ombudsman's by local authorities'
    /// complaints policies, the other two in the procedures of the landlords that use them
    /// (the seed procedures of Ocasa, CloudRooms and Cloud Direct). Cloud Direct's
    /// procedure gives Ombudsman Services no telephone number or e-mail, so none is
    /// printed; an organisation that wants one supplies its own `SchemeContact`.
    pub fn builtin(scheme: Scheme) -> Self {
        let lines = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect();
        match scheme {
            Scheme::HousingOmbudsman => Self {
                name: "Housing Ombudsman Service".into(),
                address: lines(&["PO Box 1484", "Unit D", "Preston", "PR2 0ET"]),
                phone: Some("0300 111 3000".into()),
                email: Some("info@housing-ombudsman.org.uk".into()),
                website: "www.housing-ombudsman.org.uk".into(),
            },
            Scheme::PropertyRedressScheme => Self {
                name: "The Property Redress Scheme".into(),
                address: lines(&[
                    "Premiere House, 1st Floor",
                    "Elstree Way",
                    "Borehamwood",
                    "WD6 1JH",
                ]),
                phone: Some("0333 321 9418".into()),
                email: Some("info@theprs.co.uk".into()),
                website: "www.theprs.co.uk".into(),
            },
            Scheme::OmbudsmanServices => Self {
                name: "Ombudsman Services".into(),
                address: lines(&[
                    "The Brew House",
                    "Wilderspool Park",
                    "Greenall's Avenue",
                    "Warrington",
                    "WA4 6HL",
                ]),
                phone: None,
                email: None,
                website: "www.ombudsman-services.org".into(),
            },
        }
    }
}
