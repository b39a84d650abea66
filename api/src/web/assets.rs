//! The stylesheet and the script, embedded in the binary: nothing is fetched from
//! elsewhere at build or run time.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../assets/casefile.css");
const JS: &str = include_str!("../../assets/casefile.js");

/// Short caching: a new release's assets reach browsers within the hour.
const CACHE: &str = "public, max-age=3600";

pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
