//! The live endpoints: track reports in (`POST /v1/tracks`, the `/v1/tracks/stream`
//! WebSocket), the caller's own live aircraft and their history out, and the active
//! alerts involving the caller.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use deconflict_store::{PartyRecord, Role};

use crate::auth::{authenticate, Caller, PeerAddress};
use crate::clock::parse_rfc3339_ms;
use crate::error::{ApiError, JsonBytes, QueryParams};
use crate::live::{
    alert_view, parse_reports, report_json, sample_json, Ingested, HISTORY_POINTS_MAX,
};
use crate::AppState;

fn require_party(caller: &PartyRecord, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Party {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{what} is for parties, each about its own aircraft; you are {}",
            caller.role
        )))
    }
}

/// Reports a batch of the caller's aircraft states (a JSON array of state vectors).
#[utoipa::path(post, path = "/v1/tracks", tag = "tracks", security(("bearer" = [])),
    request_body(content = crate::live::TrackReportsJson, description = "state vectors (an array, or one object)"),
    responses((status = 202, body = Ingested), (status = 422, body = crate::error::Problem)))]
pub async fn post_tracks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, Json<Ingested>), ApiError> {
    require_party(&caller, "reporting tracks")?;
    let now_ms = state.clock.now_ms();
    let reports = parse_reports(&body, &caller.id, now_ms)?;
    let outcome = state.live.tracks.ingest(&caller.id, reports, now_ms);
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}

/// The caller's live aircraft, the latest report of each.
#[utoipa::path(get, path = "/v1/tracks", tag = "tracks", security(("bearer" = [])),
    responses((status = 200, description = "array of state vectors")))]
pub async fn list_tracks(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Value>, ApiError> {
    require_party(&caller, "reading live tracks")?;
    let now_ms = state.clock.now_ms();
    let reports = state.live.tracks.of_party(&caller.id, now_ms);
    Ok(Json(Value::Array(
        reports.iter().map(report_json).collect(),
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The aircraft (1 to AIRCRAFT_ID_CHARS_MAX = 64 characters, no control characters).
    #[param(value_type = crate::openapi::AircraftId)]
    pub id: String,
    /// Points at or after this RFC 3339 time (default: all kept).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// At most this many points (default and maximum 10,000).
    #[param(maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// The sampled history of one of the caller's aircraft, oldest first.
#[utoipa::path(get, path = "/v1/tracks/history", tag = "tracks", security(("bearer" = [])),
    params(HistoryQuery), responses((status = 200, description = "array of state vectors")))]
pub async fn track_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    require_party(&caller, "reading track history")?;
    crate::live::check_aircraft_id(&query.id)
        .map_err(|error| ApiError::BadRequest(format!("id: {error}")))?;
    let since_ms = match &query.since {
        None => i64::MIN,
        Some(text) => parse_rfc3339_ms(text)
            .map_err(|error| ApiError::BadRequest(format!("since: {error}")))?,
    };
    let limit = query
        .limit
        .unwrap_or(HISTORY_POINTS_MAX)
        .clamp(1, HISTORY_POINTS_MAX);
    let samples = state
        .store
        .track_history(&caller.id, &query.id, since_ms, limit)
        .await?;
    Ok(Json(Value::Array(
        samples.iter().map(sample_json).collect(),
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The bearer token, for clients (browsers) that cannot set the header.
    pub token: Option<String>,
}

/// A WebSocket for track reports: each text frame is a JSON array (or one object) of
/// state vectors; each is answered with `{"accepted": n, "ignored": k}` or
/// `{"error": "…", "status": 422}`, and the connection stays open.
#[utoipa::path(get, path = "/v1/tracks/stream", tag = "tracks", security(("bearer" = [])),
    params(StreamQuery), responses((status = 101, description = "switching to the WebSocket protocol")))]
pub async fn track_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<StreamQuery>,
    upgrade: WebSocketUpgrade,
    PeerAddress(peer): PeerAddress,
) -> Result<Response, ApiError> {
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| {
            text.strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let token = from_header
        .or(query.token)
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let caller = authenticate(&state, &token, peer).await?;
    require_party(&caller, "reporting tracks")?;
    Ok(upgrade
        .on_upgrade(move |socket| stream_reports(state, caller.id.clone(), socket))
        .into_response())
}

async fn stream_reports(state: AppState, party: String, mut socket: WebSocket) {
    loop {
        let message = tokio::select! {
            () = state.shutdown.cancelled() => break,
            message = socket.recv() => message,
        };
        let answer = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Text(text))) => {
                let now_ms = state.clock.now_ms();
                match parse_reports(text.as_bytes(), &party, now_ms) {
                    Ok(reports) => {
                        let outcome = state.live.tracks.ingest(&party, reports, now_ms);
                        json!(outcome)
                    }
                    Err(error) => {
                        json!({"error": error.to_string(), "status": error.status().as_u16()})
                    }
                }
            }
            Some(Ok(Message::Binary(_))) => json!({
                "error": "send state vectors as JSON text frames, not binary",
                "status": 415,
            }),
            Some(Ok(_)) => continue,
        };
        if socket
            .send(Message::Text(answer.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
}

/// The active tactical alerts involving the caller's aircraft (every alert for an
/// observer), most urgent first, disclosed as the agreement's policy says.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, description = "array of alerts")))]
pub async fn list_alerts(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Value>, ApiError> {
    if caller.role == Role::Admin {
        return Err(ApiError::Forbidden(
            "admins manage parties; alerts are for parties and observers".into(),
        ));
    }
    let views: Vec<Value> = state
        .live
        .alerts
        .visible_to(&caller)
        .iter()
        .filter_map(|record| alert_view(record, &caller))
        .collect();
    Ok(Json(Value::Array(views)))
}
