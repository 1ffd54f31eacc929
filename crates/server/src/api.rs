//! The routes of `/v1` and their handlers: request and response types, validation, and
//! the calls into the engine (writes) or the store (reads).
//!
//! Reads go to the store directly: every write is committed before it is answered, so a
//! client always reads its own writes.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use deconflict_audit::canonical::CanonicalJson;
use deconflict_audit::{AuditEntry, ExportWriter, SealedEntry};
use deconflict_store::{
    AgreementStatus, ConflictRecord, IntentRecord, IntentState, JsonDocument, PartyRecord, Role,
};
use deconflict_wire::volume::Volume4DJson;

use crate::auth::{new_token, token_sha256, Caller};
use crate::clock::rfc3339_ms;
use crate::disclosure::{conflict_view, counterpart_of, ConflictView};
use crate::engine::{agreement_json, Command, IntentWrite, Precomputed};
use crate::error::{parse_json, ApiError, JsonBody, JsonBytes, PathParam, QueryParams};
use crate::limits::{
    check_id, check_no_nul, BODY_BYTES_MAX, INTENT_VERTICES_MAX, INTENT_VOLUMES_MAX,
    LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, PARTY_NAME_CHARS_MAX,
};
use crate::terms::Terms;
use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/me", get(me))
        .route("/v1/parties", get(list_parties).post(add_party))
        .route("/v1/agreement", get(agreement))
        .route("/v1/agreement/proposals", post(propose))
        .route("/v1/agreement/proposals/{version}/accept", post(accept))
        .route("/v1/agreement/proposals/{version}/reject", post(reject))
        .route("/v1/intents", get(list_intents))
        .route(
            "/v1/intents/{id}",
            put(put_intent).get(get_intent).delete(delete_intent),
        )
        .route("/v1/conflicts", get(list_conflicts))
        .route("/v1/conflicts/{id}/ack", post(ack_conflict))
        .route(
            "/v1/hotline/messages",
            get(crate::hotline::list_messages).post(crate::hotline::send_message),
        )
        .route(
            "/v1/hotline/messages/{id}/ack",
            post(crate::hotline::ack_message),
        )
        .route(
            "/v1/tracks",
            get(crate::live_api::list_tracks).post(crate::live_api::post_tracks),
        )
        .route("/v1/tracks/history", get(crate::live_api::track_history))
        .route("/v1/tracks/stream", get(crate::live_api::track_stream))
        .route("/v1/alerts", get(crate::live_api::list_alerts))
        .route("/v1/events", get(crate::events::events))
        .route("/v1/audit/export", get(audit_export))
        .route("/v1/audit/key", get(audit_key))
        .route("/v1/openapi.json", get(crate::openapi::openapi_json))
        .route("/metrics", get(metrics))
        .route("/", get(crate::console::index))
        .route("/index.html", get(crate::console::index))
        .route("/assets/{*path}", get(crate::console::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint; see /v1/openapi.json".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Counts and times every request by route and status, and logs failures.
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_s = started.elapsed().as_secs_f64();
    metrics::counter!("deconflict_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("deconflict_http_request_seconds", "route" => route.clone())
        .record(elapsed_s);
    if status >= 500 {
        tracing::warn!(%method, route, status, elapsed_s, "request failed");
    } else {
        tracing::debug!(%method, route, status, elapsed_s, "request");
    }
    response
}

// ---------------------------------------------------------------- health, me, parties

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `"ok"` while the service answers.
    pub status: String,
    /// The service's clock (RFC 3339 UTC, milliseconds): the wall clock, or scenario time
    /// when the service runs a simulation on a scaled clock (`serve --clock-start`).
    pub time: String,
}

/// Liveness and the service's clock; no authentication.
#[utoipa::path(get, path = "/v1/health", tag = "service", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        time: rfc3339_ms(state.clock.now_ms()),
    })
}

#[derive(Serialize, ToSchema)]
pub struct PartyJson {
    pub id: String,
    pub name: String,
    /// `party`, `observer` or `admin`.
    pub role: String,
    pub created_at: String,
}

impl From<&PartyRecord> for PartyJson {
    fn from(party: &PartyRecord) -> Self {
        PartyJson {
            id: party.id.clone(),
            name: party.name.clone(),
            role: party.role.as_str().into(),
            created_at: rfc3339_ms(party.created_ms),
        }
    }
}

/// The calling party.
#[utoipa::path(get, path = "/v1/me", tag = "parties", security(("bearer" = [])),
    responses((status = 200, body = PartyJson), (status = 401, body = crate::error::Problem)))]
pub async fn me(Caller(caller): Caller) -> Json<PartyJson> {
    Json(PartyJson::from(caller.as_ref()))
}

/// Every party (admin only).
#[utoipa::path(get, path = "/v1/parties", tag = "parties", security(("bearer" = [])),
    responses((status = 200, body = [PartyJson]), (status = 403, body = crate::error::Problem)))]
pub async fn list_parties(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PartyJson>>, ApiError> {
    caller.require(Role::Admin, "listing parties")?;
    let parties = state.store.parties().await?;
    Ok(Json(parties.iter().map(PartyJson::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParty {
    /// 1 to 128 characters of ASCII letters, digits, `-`, `_`, `.`, `:`.
    #[schema(value_type = crate::openapi::Id)]
    pub id: String,
    /// 1 to PARTY_NAME_CHARS_MAX = 200 characters (surrounding white space is trimmed).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// `party` (default), `observer` or `admin`.
    #[serde(default)]
    #[schema(pattern = "^(party|observer|admin)$")]
    pub role: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewPartyAnswer {
    #[serde(flatten)]
    pub party: PartyJson,
    /// The bearer token, shown this once; only its hash is stored.
    pub token: String,
}

/// Adds a party (admin only); answers its token once.
#[utoipa::path(post, path = "/v1/parties", tag = "parties", security(("bearer" = [])), request_body = NewParty,
    responses((status = 201, body = NewPartyAnswer), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn add_party(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewParty>,
) -> Result<(StatusCode, Json<NewPartyAnswer>), ApiError> {
    caller.require(Role::Admin, "adding parties")?;
    check_id("party id", &body.id).map_err(ApiError::Unprocessable)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > PARTY_NAME_CHARS_MAX {
        return Err(ApiError::Unprocessable(format!(
            "name must be 1 to {PARTY_NAME_CHARS_MAX} characters (PARTY_NAME_CHARS_MAX)"
        )));
    }
    check_no_nul("name", name).map_err(ApiError::Unprocessable)?;
    let role = match body.role.as_deref() {
        None => Role::Party,
        Some(text) => text
            .parse()
            .map_err(|error: deconflict_store::UnknownName| {
                ApiError::Unprocessable(format!("role: {error}"))
            })?,
    };
    let token = {
        let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
        new_token(&mut *rng)
    };
    let party = PartyRecord {
        id: body.id,
        name: name.to_owned(),
        role,
        token_sha256: token_sha256(&token),
        created_ms: state.clock.now_ms(),
    };
    let answer = NewPartyAnswer {
        party: PartyJson::from(&party),
        token,
    };
    let caller = caller.0;
    let added = std::sync::Arc::new(party.clone());
    state
        .engine
        .call(|reply| Command::AddParty {
            caller,
            party,
            reply,
        })
        .await?;
    // Its token is known from now on: its first request neither reads the store nor counts
    // as an unknown token.
    state.parties.remember(added);
    Ok((StatusCode::CREATED, Json(answer)))
}

// ---------------------------------------------------------------- the agreement

#[derive(Serialize, ToSchema)]
pub struct AgreementView {
    /// The version in force: `{version, status, terms, proposed_by, proposed_at, decided_at, answers}`.
    #[schema(value_type = Object)]
    pub in_force: Value,
    /// Proposals awaiting answers, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub pending: Vec<Value>,
    /// Every version ever proposed, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<Value>,
}

/// The agreement in force, pending proposals and every version.
#[utoipa::path(get, path = "/v1/agreement", tag = "agreement", security(("bearer" = [])),
    responses((status = 200, body = AgreementView)))]
pub async fn agreement(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<AgreementView>, ApiError> {
    let versions = state.store.agreements().await?;
    let in_force = versions
        .iter()
        .rev()
        .find(|a| a.status == AgreementStatus::InForce)
        .map(agreement_json)
        .unwrap_or(Value::Null);
    let pending = versions
        .iter()
        .filter(|a| a.status == AgreementStatus::Pending)
        .map(agreement_json)
        .collect();
    Ok(Json(AgreementView {
        in_force,
        pending,
        versions: versions.iter().map(agreement_json).collect(),
    }))
}

/// Proposes new terms (the whole terms document); the proposer's acceptance is implied.
#[utoipa::path(post, path = "/v1/agreement/proposals", tag = "agreement", security(("bearer" = [])), request_body = Terms,
    responses((status = 201, description = "the proposal (in force at once when the proposer is the only party; then answered once every live intent is re-checked under it)"),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(terms): JsonBody<Terms>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    terms.validate().map_err(ApiError::Unprocessable)?;
    let record = state
        .engine
        .call(|reply| Command::Propose {
            caller,
            terms,
            reply,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(agreement_json(&record))))
}

async fn answer_proposal(
    state: AppState,
    caller: Caller,
    version: String,
    accept: bool,
) -> Result<Json<Value>, ApiError> {
    let version: i64 = version.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "proposal id {version:?} must be a positive integer version"
        ))
    })?;
    let caller = caller.0;
    let record = state
        .engine
        .call(|reply| Command::Answer {
            caller,
            version,
            accept,
            reply,
        })
        .await?;
    Ok(Json(agreement_json(&record)))
}

/// Accepts a pending proposal; it comes into force when every party has accepted it.
#[utoipa::path(post, path = "/v1/agreement/proposals/{version}/accept", tag = "agreement", security(("bearer" = [])),
    params(("version" = i64, Path, description = "the proposal's version")),
    responses((status = 200, description = "the proposal; the acceptance that brings it into force is answered once every live intent is re-checked under it"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(version): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    answer_proposal(state, caller, version, true).await
}

/// Rejects a pending proposal; it is then closed.
#[utoipa::path(post, path = "/v1/agreement/proposals/{version}/reject", tag = "agreement", security(("bearer" = [])),
    params(("version" = i64, Path, description = "the proposal's version")),
    responses((status = 200), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(version): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    answer_proposal(state, caller, version, false).await
}

// ---------------------------------------------------------------- intents

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntentStateJson {
    Accepted,
    Activated,
    Ended,
}

impl From<IntentStateJson> for IntentState {
    fn from(state: IntentStateJson) -> Self {
        match state {
            IntentStateJson::Accepted => IntentState::Accepted,
            IntentStateJson::Activated => IntentState::Activated,
            IntentStateJson::Ended => IntentState::Ended,
        }
    }
}

/// The body of `PUT /v1/intents/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentBody {
    /// The contract's Volume4D objects (1 to INTENT_VOLUMES_MAX = 64).
    #[schema(min_items = 1, max_items = 64)]
    pub volumes: Vec<Volume4DJson>,
    /// `accepted` (default), `activated` or `ended`.
    #[serde(default)]
    pub state: Option<IntentStateJson>,
    /// Absent to create; the current version to update.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

fn intent_json(record: &IntentRecord) -> Value {
    serde_json::to_value(IntentJson::of(record, None)).unwrap_or(Value::Null)
}

/// An intent as answered, borrowing its volumes: a write's answer is serialized straight
/// from the record instead of copying the volumes into a `Value` first. Members are in
/// the order a `Value` object writes them (sorted).
#[derive(Serialize)]
struct IntentJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    conflicts: Option<Vec<ConflictView<'a>>>,
    created_at: String,
    id: &'a str,
    state: &'static str,
    updated_at: String,
    version: i64,
    /// Written as the stored text, not printed again.
    volumes: &'a JsonDocument,
}

impl<'a> IntentJson<'a> {
    fn of(record: &'a IntentRecord, conflicts: Option<Vec<ConflictView<'a>>>) -> IntentJson<'a> {
        IntentJson {
            conflicts,
            created_at: rfc3339_ms(record.created_ms),
            id: &record.id,
            state: record.state.as_str(),
            updated_at: rfc3339_ms(record.updated_ms),
            version: record.version,
            volumes: &record.volumes,
        }
    }
}

/// Validates an intent body into a write: every volume converted (errors name
/// `volumes[i]…`), the named limits enforced.
pub fn intent_write(bytes: &[u8]) -> Result<IntentWrite, ApiError> {
    let body: IntentBody = parse_json(bytes)?;
    if body.volumes.is_empty() {
        return Err(ApiError::Unprocessable(
            "volumes must hold at least one Volume4D".into(),
        ));
    }
    if body.volumes.len() > INTENT_VOLUMES_MAX {
        return Err(ApiError::Unprocessable(format!(
            "an intent holds at most {INTENT_VOLUMES_MAX} volumes (INTENT_VOLUMES_MAX); this one has {}",
            body.volumes.len()
        )));
    }
    let vertices: usize = body
        .volumes
        .iter()
        .map(|v| {
            v.volume
                .outline_polygon
                .as_ref()
                .map_or(0, |p| p.vertices.len())
        })
        .sum();
    if vertices > INTENT_VERTICES_MAX {
        return Err(ApiError::Unprocessable(format!(
            "an intent holds at most {INTENT_VERTICES_MAX} polygon vertices (INTENT_VERTICES_MAX); this one has {vertices}"
        )));
    }
    if let Some(version) = body.version {
        if version < 1 {
            return Err(ApiError::Unprocessable(format!(
                "version must be a positive integer, not {version}"
            )));
        }
    }
    let volumes = body
        .volumes
        .iter()
        .enumerate()
        .map(|(index, volume)| volume.to_core(&format!("volumes[{index}]")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::Unprocessable(error.to_string()))?;
    // Written out once, here, beside other requests, rather than by the engine (which
    // seals the audit entry) and the store's one writer: the canonical text is both the
    // audit entry's member and the document's text. The contract's types declare their
    // fields in canonical order, so serde_json writes it straight from them.
    let (volumes_canonical, volumes_raw) =
        CanonicalJson::of_sorted_raw(&body.volumes).map_err(|_| ApiError::Internal)?;
    let volumes_json = JsonDocument::from_raw(volumes_raw);
    Ok(IntentWrite {
        volumes_json,
        volumes_canonical,
        volumes,
        state: body.state.unwrap_or(IntentStateJson::Accepted).into(),
        version: body.version,
    })
}

/// The conflicts as `viewer` sees them, reading counterparts' intents when the policy
/// discloses more than the minimum.
async fn conflict_views<'r>(
    state: &AppState,
    viewer: &PartyRecord,
    records: &'r [ConflictRecord],
) -> Result<Vec<ConflictView<'r>>, ApiError> {
    let policy = state.published.agreement().terms.disclosure;
    let mut views = Vec::with_capacity(records.len());
    for record in records {
        let counterpart = match (policy, counterpart_of(record, &viewer.id)) {
            (crate::terms::DisclosurePolicy::Minimal, _) | (_, None) => None,
            (_, Some((party, intent))) => state.store.intent(party, intent).await?,
        };
        if let Some(view) = conflict_view(record, viewer, policy, counterpart.as_ref()) {
            views.push(view);
        }
    }
    Ok(views)
}

/// Creates (no `version`) or updates (quoting `version`) an intent; checks it against
/// every other party's intents and answers it with its open conflicts.
#[utoipa::path(put, path = "/v1/intents/{id}", tag = "intents", security(("bearer" = [])), request_body = IntentBody,
    params(("id" = String, Path, description = "the caller's intent id")),
    responses((status = 201, description = "created: the intent and its conflicts"), (status = 200, description = "updated"),
              (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn put_intent(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Party, "filing intents")?;
    check_id("intent id", &id).map_err(ApiError::BadRequest)?;
    let write = intent_write(&bytes)?;
    let created = write.version.is_none();
    let caller = caller.0;
    // The costly geometry of its conflicts is worked out here, beside the other handlers,
    // rather than on the one writer (see `engine::precomputed`).
    let separation = state.published.agreement().terms.strategic_separation();
    let precomputed = match separation {
        Ok(separation) if write.state != IntentState::Ended => Precomputed::compute(
            &state.published.index,
            &caller.id,
            &write.volumes,
            separation,
        ),
        _ => Precomputed::default(),
    };
    let viewer = caller.clone();
    let outcome = state
        .engine
        .call(|reply| Command::PutIntent {
            caller,
            id,
            write,
            precomputed,
            reply,
        })
        .await?;
    let conflicts = conflict_views(&state, &viewer, &outcome.conflicts).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(IntentJson::of(&outcome.intent, Some(conflicts))),
    )
        .into_response())
}

/// One of the caller's intents.
#[utoipa::path(get, path = "/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200), (status = 404, body = crate::error::Problem)))]
pub async fn get_intent(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    check_id("intent id", &id).map_err(ApiError::BadRequest)?;
    let record = state
        .store
        .intent(&caller.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("intent", &id))?;
    Ok(Json(intent_json(&record)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Items after this id (the previous page's `next_after`).
    pub after: Option<String>,
    /// At most this many: default 100; 0 is read as 1, and more than LIST_LIMIT_MAX = 1000
    /// as 1000.
    #[param(maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

pub(crate) fn clamp_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(LIST_LIMIT_DEFAULT).clamp(1, LIST_LIMIT_MAX)
}

/// The caller's intents, by id, a page at a time.
#[utoipa::path(get, path = "/v1/intents", tag = "intents", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "`{intents: [...], next_after: id or null}`")))]
pub async fn list_intents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(after) = &query.after {
        check_id("after", after).map_err(ApiError::BadRequest)?;
    }
    let limit = clamp_limit(query.limit);
    let intents = state
        .store
        .intents_of(&caller.id, query.after.as_deref(), limit)
        .await?;
    let next_after = (intents.len() == limit as usize)
        .then(|| intents.last().map(|i| i.id.clone()))
        .flatten();
    Ok(Json(json!({
        "intents": intents.iter().map(intent_json).collect::<Vec<_>>(),
        "next_after": next_after,
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// The current version (required).
    #[param(required = true, minimum = 1)]
    pub version: Option<i64>,
}

/// Deletes one of the caller's intents, quoting its version; resolves its conflicts.
#[utoipa::path(delete, path = "/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = String, Path), DeleteQuery),
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn delete_intent(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    check_id("intent id", &id).map_err(ApiError::BadRequest)?;
    let version = query.version.ok_or_else(|| {
        ApiError::BadRequest("quote the current version: DELETE /v1/intents/{id}?version=n".into())
    })?;
    let caller = caller.0;
    state
        .engine
        .call(|reply| Command::DeleteIntent {
            caller,
            id,
            version,
            reply,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- conflicts

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConflictQuery {
    /// `open` (default) or `all` (resolved ones too).
    #[param(pattern = "^(open|all)$")]
    pub status: Option<String>,
    /// Conflicts after this one (the previous page's `next_after`).
    pub after: Option<String>,
    /// At most this many: default 100; 0 is read as 1, and more than LIST_LIMIT_MAX = 1000
    /// as 1000.
    #[param(maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// Conflicts involving the caller (observers: every conflict), as the policy discloses them,
/// newest first (by opening time, then id), a page at a time.
#[utoipa::path(get, path = "/v1/conflicts", tag = "conflicts", security(("bearer" = [])), params(ConflictQuery),
    responses((status = 200, description = "`{conflicts: [...], next_after: id or null}`"),
              (status = 400, body = crate::error::Problem)))]
pub async fn list_conflicts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ConflictQuery>,
) -> Result<Json<Value>, ApiError> {
    let include_resolved = match query.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status {other:?} must be `open` or `all`"
            )))
        }
    };
    if caller.role == Role::Admin {
        return Err(ApiError::Forbidden(
            "admins manage parties; conflicts are for parties and observers".into(),
        ));
    }
    let limit = clamp_limit(query.limit);
    // The page goes on after the cursor's place in the order, which only a conflict the
    // caller may see can give (another party's would tell when it was opened).
    let cursor = match &query.after {
        None => None,
        Some(after) => {
            check_id("after", after).map_err(ApiError::BadRequest)?;
            match state.store.conflict(after).await? {
                Some(record) if caller.role == Role::Observer || record.involves(&caller.id) => {
                    Some((record.opened_ms, record.id))
                }
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "after {after:?} is not one of your conflicts; pass the next_after of the previous page"
                    )))
                }
            }
        }
    };
    let cursor = cursor.as_ref().map(|(ms, id)| (*ms, id.as_str()));
    // Observers read every party's conflicts.
    let party = (caller.role != Role::Observer).then_some(caller.id.as_str());
    let records = state
        .store
        .conflicts(party, include_resolved, cursor, limit)
        .await?;
    let next_after = (records.len() == limit as usize)
        .then(|| records.last().map(|c| c.id.clone()))
        .flatten();
    Ok(Json(json!({
        "conflicts": conflict_views(&state, &caller, &records).await?,
        "next_after": next_after,
    })))
}

/// Acknowledges a conflict the caller is in.
#[utoipa::path(post, path = "/v1/conflicts/{id}/ack", tag = "conflicts", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200), (status = 404, body = crate::error::Problem)))]
pub async fn ack_conflict(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    check_id("conflict id", &id).map_err(ApiError::BadRequest)?;
    let caller = caller.0;
    let viewer = caller.clone();
    let record = state
        .engine
        .call(|reply| Command::AckConflict {
            caller,
            conflict_id: id,
            reply,
        })
        .await?;
    let views = conflict_views(&state, &viewer, std::slice::from_ref(&record)).await?;
    let view = views.first().ok_or(ApiError::Internal)?;
    serde_json::to_value(view)
        .map(Json)
        .map_err(|_| ApiError::Internal)
}

// ---------------------------------------------------------------- the audit log

/// Which audit entries a viewer reads in full (the rest are exported as their hashes):
/// a party those whose `visible_to` names it; an observer conflict, agreement and hotline
/// entries (their bodies hold only what is disclosed to observers, who read every hotline
/// message); an admin party and agreement entries.
pub fn audit_visible(viewer: &PartyRecord, entry: &AuditEntry) -> bool {
    let kind = entry.kind();
    match viewer.role {
        Role::Party => entry.visible_to().allows(&viewer.id),
        Role::Observer => {
            kind.starts_with("conflict.")
                || kind.starts_with("agreement.")
                || kind.starts_with("hotline.")
                || kind.starts_with("alert.")
        }
        Role::Admin => kind.starts_with("party.") || kind.starts_with("agreement."),
    }
}

/// Audit entries read from the store per page while exporting.
const AUDIT_EXPORT_PAGE_MAX: u32 = 2000;

/// The caller's view of the whole audit log as JSON lines with a signed trailer.
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit", security(("bearer" = [])),
    responses((status = 200, content_type = "application/jsonl", description = "one canonical JSON object per line; withheld entries as their hashes")))]
pub async fn audit_export(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let signer = state.signer.clone();
    let store = state.store.clone();
    let exported_at = rfc3339_ms(state.clock.now_ms());
    // The head is fixed when the export starts, so the export is one consistent stretch
    // of the chain even while writes continue.
    let last_seq = store
        .last_audit()
        .await?
        .map(|record| record.seq)
        .unwrap_or(0);
    let stream = async_stream::stream! {
        let mut writer = match ExportWriter::new(caller.id.clone(), deconflict_audit::ChainHead::GENESIS, &signer) {
            Ok(writer) => writer,
            Err(error) => {
                tracing::error!(%error, "cannot start an audit export");
                return;
            }
        };
        let mut after = 0;
        'pages: while after < last_seq {
            let page = match store.audit_after(after, AUDIT_EXPORT_PAGE_MAX).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "audit export stopped: store read failed");
                    yield Err(std::io::Error::other("store read failed"));
                    return;
                }
            };
            if page.is_empty() {
                break;
            }
            let mut chunk = String::new();
            for record in page {
                if record.seq > last_seq {
                    break 'pages;
                }
                after = record.seq;
                let sealed: SealedEntry = match serde_json::from_str(&record.sealed_json) {
                    Ok(sealed) => sealed,
                    Err(error) => {
                        tracing::error!(%error, seq = record.seq, "stored audit entry unreadable");
                        yield Err(std::io::Error::other("stored audit entry unreadable"));
                        return;
                    }
                };
                match writer.line(&sealed, audit_visible(&caller, &sealed.entry)) {
                    Ok(line) => {
                        chunk.push_str(&line);
                        chunk.push('\n');
                    }
                    Err(error) => {
                        tracing::error!(%error, seq = record.seq, "audit chain broken in the store");
                        yield Err(std::io::Error::other("audit chain broken"));
                        return;
                    }
                }
            }
            yield Ok::<_, std::io::Error>(chunk);
        }
        match writer.finish(&exported_at) {
            Ok(trailer) => yield Ok(format!("{trailer}\n")),
            Err(error) => tracing::error!(%error, "cannot sign the export trailer"),
        }
    };
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/jsonl"));
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct AuditKey {
    /// The server's Ed25519 public key, standard base64 of its 32 bytes.
    pub public_key: String,
}

/// The server's audit signing key; no authentication.
#[utoipa::path(get, path = "/v1/audit/key", tag = "audit", responses((status = 200, body = AuditKey)))]
pub async fn audit_key(State(state): State<AppState>) -> Json<AuditKey> {
    Json(AuditKey {
        public_key: state.signer.public_key_base64(),
    })
}

/// Prometheus metrics; no authentication.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::process_metrics().collect();
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_audit::canonical::to_canonical_string;
    use serde_json::json;

    /// The volumes' text written straight from the contract's types is their canonical
    /// form, whatever outline, optional members and spelling of numbers the party sent.
    #[test]
    fn an_intents_volumes_are_written_in_canonical_form() {
        let time = |value: &str| json!({"format": "RFC3339", "value": value});
        let altitude = |value: f64| json!({"value": value, "units": "M", "reference": "W84"});
        let circle = json!({
            "volume": {
                "altitude_upper": altitude(6000.5),
                "outline_circle": {"radius": {"value": 1e4, "units": "M"},
                    "center": {"lng": 38, "lat": 35.123456789}},
                "altitude_lower": altitude(0.0),
            },
            "time_start": time("2015-10-20T10:00:00Z"),
            "time_end": time("2015-10-20T11:00:00.5+00:00"),
        });
        let polygon = json!({
            "time_end": time("2015-10-20T12:00:00Z"),
            "volume": {
                "outline_polygon": {"vertices": [
                    {"lat": 35.0, "lng": 38.0}, {"lng": 38.1, "lat": 35.0},
                    {"lat": 35.1, "lng": 38.1e0}, {"lat": 3.51e1, "lng": 38.0000001},
                ]},
                "altitude_lower": altitude(-10.25),
                "altitude_upper": altitude(1.0e3),
            },
            "time_start": time("2015-10-20T11:00:00Z"),
        });
        for body in [
            json!({"volumes": [circle.clone()]}),
            json!({"volumes": [polygon.clone(), circle], "state": "activated"}),
            json!({"volumes": [polygon], "version": 3}),
        ] {
            let write = intent_write(body.to_string().as_bytes()).unwrap();
            let parsed: IntentBody = serde_json::from_value(body).unwrap();
            let expected = to_canonical_string(&serde_json::to_value(&parsed.volumes).unwrap());
            assert_eq!(write.volumes_canonical.as_str(), expected);
            assert_eq!(write.volumes_json.text(), expected);
        }
    }
}
