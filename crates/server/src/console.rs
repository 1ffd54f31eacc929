//! The web console: `GET /` (its `index.html`) and `GET /assets/…` (scripts, styles and
//! the basemap), served from files embedded in the binary at build time.
//!
//! The files are `crates/server/console-dist/`, the committed build of `console/` (see
//! `build.rs`), so the binary needs nothing at run time and a fresh checkout needs no
//! Node.js. Asset names carry a content hash, so they are cached for good; `index.html`
//! is revalidated on every load so a new build is picked up at once.
//!
//! The console is a static page: it holds no secret and reads everything through the
//! authenticated `/v1` API with the token the user signs in with.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, PathParam};

include!(concat!(env!("OUT_DIR"), "/console_files.rs"));

/// Hashed assets never change under the same name.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page itself is revalidated on every load.
const CACHE_REVALIDATE: &str = "no-cache";
/// Everything the console loads comes from this origin: no tiles, fonts or scripts from
/// elsewhere. MapLibre sets inline styles and may start its worker from a blob.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The embedded file at `path` (relative to `console-dist/`), if any.
pub fn file(path: &str) -> Option<&'static [u8]> {
    CONSOLE_FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

/// The content type of a console file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(path: &str, bytes: &'static [u8], cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if path.ends_with(".html") {
        headers.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// `GET /`: the console page; no authentication (signing in happens in the page).
pub async fn index() -> Result<Response, ApiError> {
    let bytes = file("index.html").ok_or_else(|| {
        ApiError::NotFound("this build carries no console (console-dist is empty)".into())
    })?;
    Ok(respond("index.html", bytes, CACHE_REVALIDATE))
}

/// `GET /assets/{path}`: one of the console's hashed assets.
pub async fn asset(PathParam(path): PathParam<String>) -> Result<Response, ApiError> {
    let full = format!("assets/{path}");
    let bytes = file(&full)
        .ok_or_else(|| ApiError::NotFound(format!("the console has no asset {path:?}")))?;
    Ok(respond(&full, bytes, CACHE_IMMUTABLE))
}
