//! The one error type of the API ([`ApiError`]) and its `application/problem+json`
//! (RFC 9457) rendering, plus the extractors that turn every malformed request (bad JSON,
//! wrong content type, oversized body, bad path or query) into a 4xx problem rather than
//! axum's plain-text rejections.
//!
//! Each variant maps to one documented status. Details a client can act on go into
//! `detail`; internal failures (the store, a bug) are logged with their cause and reach
//! the client only as a generic 503/500.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

use deconflict_store::StoreError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is not well-formed (syntax, a bad path id or query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no bearer token, or one the service does not know.
    #[error("a valid bearer token is required: send `Authorization: Bearer TOKEN`")]
    Unauthorized,
    /// 403: the caller's role may not do this (a party calling an admin endpoint).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such object, or one belonging to another party (never told apart).
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists but not with this method.
    #[error("method not allowed here")]
    MethodNotAllowed,
    /// 409: a stale version, or an object that already exists.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body exceeds the named limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed JSON whose values are unusable (a bad coordinate, too many volumes).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: the caller exceeded its request rate; retry after the given seconds. `per` says
    /// what the rate is counted per (a party, or a client address sending unknown tokens).
    #[error("too many requests: at most {per_s} per second per {per}; retry in {retry_after_s} s")]
    TooManyRequests {
        per_s: u32,
        per: &'static str,
        retry_after_s: u64,
    },
    /// 503: the store or the write pipeline is unavailable; the cause is logged.
    #[error("the service is temporarily unavailable; retry shortly")]
    Unavailable,
    /// 500: a bug; the cause is logged.
    #[error("internal error; it has been logged")]
    Internal,
}

/// The problem document of RFC 9457.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem (relative: `/problems/stale-version`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::NotFound(format!("no {what} {id:?} visible to you"))
    }

    /// A store failure: logged in full, answered as 503.
    pub fn store(error: StoreError) -> Self {
        tracing::error!(%error, "store operation failed");
        ApiError::Unavailable
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::store(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if let ApiError::TooManyRequests { retry_after_s, .. } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON request body: checks the content type, the size limit and the syntax, then
/// deserializes with `serde_path_to_error` so a type error names its JSON path.
/// Syntax errors answer 400, well-formed JSON of the wrong shape 422, a missing or wrong
/// content type 415, an oversized body 413.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(request, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The raw bytes of a JSON request body, after the content-type and size checks.
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        json_bytes(request, state).await.map(JsonBytes)
    }
}

async fn json_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") => {}
        Some(other) if other.ends_with("+json") => {}
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body must be JSON with `Content-Type: application/json`, not {other:?}"
            )))
        }
        None => return Err(ApiError::UnsupportedMediaType(
            "the body must be JSON with `Content-Type: application/json`; the header is missing"
                .into(),
        )),
    }
    axum::body::Bytes::from_request(request, state)
        .await
        .map_err(bytes_rejection)
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "the body exceeds {} bytes (BODY_BYTES_MAX); split the request",
            crate::limits::BODY_BYTES_MAX
        ))
    } else {
        ApiError::BadRequest(format!(
            "the body could not be read: {}",
            rejection.body_text()
        ))
    }
}

/// Parses a JSON document, naming the JSON path and position of the first problem;
/// syntax errors are 400, shape errors 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json_borrowed(bytes)
}

/// [`parse_json`] for types that borrow from the body (strings without escapes are not
/// copied). The document is parsed once without bookkeeping; only a refused one is parsed
/// again to name the path of its first problem, so good bodies pay nothing for it.
pub fn parse_json_borrowed<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match parsed {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let place = if path == "." {
                String::new()
            } else {
                format!("at {path}: ")
            };
            let message = format!("{place}{inner}");
            return Err(match inner.classify() {
                serde_json::error::Category::Data => ApiError::Unprocessable(message),
                _ => ApiError::BadRequest(format!("the body is not valid JSON: {message}")),
            });
        }
    };
    deserializer.end().map_err(|error| {
        ApiError::BadRequest(format!(
            "the body has trailing data after the JSON value: {error}"
        ))
    })?;
    Ok(value)
}

/// A path parameter whose rejection is a 400 problem.
pub struct PathParam<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|rejection: PathRejection| {
                ApiError::BadRequest(format!("bad path: {}", rejection.body_text()))
            })
    }
}

/// A query string whose rejection is a 400 problem.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::BadRequest(format!("bad query string: {}", rejection.body_text()))
            })
    }
}
