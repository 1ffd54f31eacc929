//! The hotline's routes: sending a message, listing messages, acknowledging one.
//!
//! Handlers check the shape of a request (errors name the field) and hand it to the
//! engine, which checks it against parties, conflicts and earlier messages and decides
//! (see `engine/hotline.rs`). Reads go to the store.
//!
//! Who sees what: a party reads the messages it sent or received, an observer every
//! message, an admin none (admins manage parties; 403). A message the caller cannot read
//! does not exist for it (404). Only its recipient acknowledges a message: the sender or
//! an observer trying to is refused with 403, since they can read it anyway.

use axum::extract::State;
use axum::http::header::LINK;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use deconflict_store::{HotlineMessageRecord, Role};

use crate::api::clamp_limit;
use crate::auth::Caller;
use crate::clock::rfc3339_ms;
use crate::engine::{hotline_can_see, About, Command, HotlineSend};
use crate::error::{ApiError, JsonBody, PathParam, QueryParams};
use crate::limits::{check_id, check_no_nul, HOTLINE_TEXT_CHARS_MAX};
use crate::terms::ANSWER_WITHIN_S_MAX;
use crate::AppState;

/// A hotline message as every endpoint and event shows it. Its fields are declared in the
/// byte order of their names, so serde_json writes it in the audit log's canonical form:
/// the engine writes each message once, for its events and its audit entry
/// (`CanonicalJson::of_sorted`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HotlineMessageJson {
    /// `{"conflict": id}`, `{"alert": id}` or `null`.
    #[schema(value_type = Option<Object>)]
    pub about: Option<Value>,
    pub acked_at: Option<String>,
    pub acked_by: Option<String>,
    /// `sent_at` + `answer_within_s`: unacknowledged past it, the message escalates.
    pub answer_by: String,
    pub answer_within_s: f64,
    pub escalated_at: Option<String>,
    /// The sending party; `null` when the service itself wrote (threads it opens for new
    /// conflicts and warning alerts).
    pub from: Option<String>,
    /// `msg-…`, opaque.
    pub id: String,
    /// The message this one answers, or `null`.
    pub reply_to: Option<String>,
    pub sent_at: String,
    pub text: String,
    /// `thr-…`: every reply shares the thread of the message it answers.
    pub thread: String,
    pub to: String,
}

impl From<&HotlineMessageRecord> for HotlineMessageJson {
    fn from(record: &HotlineMessageRecord) -> Self {
        HotlineMessageJson {
            id: record.id.clone(),
            thread: record.thread.clone(),
            from: record.from_party.clone(),
            to: record.to_party.clone(),
            text: record.text.clone(),
            about: record.about.clone(),
            reply_to: record.reply_to.clone(),
            sent_at: rfc3339_ms(record.sent_ms),
            answer_within_s: record.answer_within_s,
            answer_by: rfc3339_ms(record.answer_by_ms),
            acked_at: record.acked_ms.map(rfc3339_ms),
            acked_by: record.acked_by.clone(),
            escalated_at: record.escalated_ms.map(rfc3339_ms),
        }
    }
}

/// The message's JSON (the body of answers and of `hotline.*` events and audit entries).
pub fn message_json(record: &HotlineMessageRecord) -> Value {
    serde_json::to_value(HotlineMessageJson::from(record)).unwrap_or(Value::Null)
}

/// The body of `POST /v1/hotline/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHotlineMessage {
    /// The receiving party (a party or an observer; not yourself, not an admin).
    #[schema(value_type = crate::openapi::Id)]
    pub to: String,
    /// 1 to HOTLINE_TEXT_CHARS_MAX = 2000 characters, not only white space.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: String,
    /// `{"conflict": id}` (a conflict you can see) or `{"alert": id}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub about: Option<Value>,
    /// Seconds the recipient has to acknowledge, in (0, 604800]; default the agreement's
    /// `hotline.answer_within_s`.
    #[serde(default)]
    #[schema(exclusive_minimum = 0, maximum = 604800)]
    pub answer_within_s: Option<f64>,
    /// A message you can see: the new one joins its thread, and acknowledges it when you
    /// are its recipient.
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// Checks the shape of a new message; the error names the field.
pub fn hotline_send(body: NewHotlineMessage) -> Result<HotlineSend, ApiError> {
    check_id("to: party id", &body.to).map_err(ApiError::Unprocessable)?;
    let chars = body.text.chars().count();
    if body.text.trim().is_empty() || chars > HOTLINE_TEXT_CHARS_MAX {
        return Err(ApiError::Unprocessable(format!(
            "text must be 1 to {HOTLINE_TEXT_CHARS_MAX} characters (HOTLINE_TEXT_CHARS_MAX), not only white space; it has {chars}"
        )));
    }
    check_no_nul("text", &body.text).map_err(ApiError::Unprocessable)?;
    let about = match body.about {
        None | Some(Value::Null) => None,
        Some(value) => Some(about(&value)?),
    };
    if let Some(seconds) = body.answer_within_s {
        if !(seconds.is_finite() && seconds > 0.0 && seconds <= ANSWER_WITHIN_S_MAX) {
            return Err(ApiError::Unprocessable(format!(
                "answer_within_s must be more than 0 and at most {ANSWER_WITHIN_S_MAX} seconds (one week), not {seconds}"
            )));
        }
    }
    if let Some(reply_to) = &body.reply_to {
        check_id("reply_to: message id", reply_to).map_err(ApiError::Unprocessable)?;
    }
    Ok(HotlineSend {
        to: body.to,
        text: body.text,
        about,
        answer_within_s: body.answer_within_s,
        reply_to: body.reply_to,
    })
}

fn about(value: &Value) -> Result<About, ApiError> {
    let shape = || {
        ApiError::Unprocessable(format!(
            "about must be {{\"conflict\": id}} or {{\"alert\": id}} (or null), not {value}"
        ))
    };
    let object = value.as_object().ok_or_else(shape)?;
    if object.len() != 1 {
        return Err(shape());
    }
    let (key, id) = object.iter().next().ok_or_else(shape)?;
    let id = id.as_str().ok_or_else(|| {
        ApiError::Unprocessable(format!("about.{key} must be an id (a string), not {id}"))
    })?;
    check_id(&format!("about.{key}"), id).map_err(ApiError::Unprocessable)?;
    match key.as_str() {
        "conflict" => Ok(About::Conflict(id.to_owned())),
        "alert" => Ok(About::Alert(id.to_owned())),
        _ => Err(shape()),
    }
}

/// Sends a hotline message; a reply from the recipient of `reply_to` acknowledges it.
#[utoipa::path(post, path = "/v1/hotline/messages", tag = "hotline", security(("bearer" = [])),
    request_body = NewHotlineMessage,
    responses((status = 201, body = HotlineMessageJson),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<NewHotlineMessage>,
) -> Result<(StatusCode, Json<HotlineMessageJson>), ApiError> {
    let message = hotline_send(body)?;
    let record = state
        .engine
        .call(|reply| Command::SendHotline {
            caller,
            message,
            reply,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(HotlineMessageJson::from(&record))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HotlineQuery {
    /// Only the messages of this thread.
    pub thread: Option<String>,
    /// Messages after this one (the id of the last message of the previous page).
    pub after: Option<String>,
    /// At most this many: default 100; 0 is read as 1, and more than LIST_LIMIT_MAX = 1000
    /// as 1000.
    #[param(maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// Messages from or to the caller (observers: every message), oldest first (by sending
/// time, then id), a page at a time. A full page may have more after it: its `Link`
/// header (`rel="next"`) is the next page's address; asking again with `after` = the last
/// id seen also fetches only what is new.
#[utoipa::path(get, path = "/v1/hotline/messages", tag = "hotline", security(("bearer" = [])),
    params(HotlineQuery),
    responses((status = 200, body = [HotlineMessageJson]), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<HotlineQuery>,
) -> Result<(HeaderMap, Json<Vec<HotlineMessageJson>>), ApiError> {
    if let Some(thread) = &query.thread {
        check_id("thread", thread).map_err(ApiError::BadRequest)?;
    }
    if caller.role == Role::Admin {
        return Err(ApiError::Forbidden(
            "admins manage parties; the hotline is for parties and observers".into(),
        ));
    }
    let limit = clamp_limit(query.limit);
    // Only a message the caller may read gives the cursor its place.
    let cursor = match &query.after {
        None => None,
        Some(after) => {
            check_id("after", after).map_err(ApiError::BadRequest)?;
            match state.store.hotline_message(after).await? {
                Some(record) if hotline_can_see(&caller, &record) => {
                    Some((record.sent_ms, record.id))
                }
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "after {after:?} is not a hotline message of yours; pass the id of the last message of the previous page"
                    )))
                }
            }
        }
    };
    let cursor = cursor.as_ref().map(|(ms, id)| (*ms, id.as_str()));
    let thread = query.thread.as_deref();
    // Observers read every message.
    let party = (caller.role != Role::Observer).then_some(caller.id.as_str());
    let records = state
        .store
        .hotline_messages(party, thread, cursor, limit)
        .await?;
    debug_assert!(records.iter().all(|r| hotline_can_see(&caller, r)));
    let mut headers = HeaderMap::new();
    if let Some(last) = records.last().filter(|_| records.len() == limit as usize) {
        let mut next = format!("/v1/hotline/messages?after={}&limit={limit}", last.id);
        if let Some(thread) = thread {
            next.push_str(&format!("&thread={thread}"));
        }
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            headers.insert(LINK, value);
        }
    }
    Ok((
        headers,
        Json(records.iter().map(HotlineMessageJson::from).collect()),
    ))
}

/// Acknowledges a message sent to the caller (again: answered unchanged).
#[utoipa::path(post, path = "/v1/hotline/messages/{id}/ack", tag = "hotline", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message id")),
    responses((status = 200, body = HotlineMessageJson), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem, description = "the caller can read the message but is not its recipient"),
              (status = 404, body = crate::error::Problem)))]
pub async fn ack_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<HotlineMessageJson>, ApiError> {
    check_id("message id", &id).map_err(ApiError::BadRequest)?;
    let record = state
        .engine
        .call(|reply| Command::AckHotline {
            caller,
            message_id: id,
            reply,
        })
        .await?;
    Ok(Json(HotlineMessageJson::from(&record)))
}
