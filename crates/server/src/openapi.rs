//! The OpenAPI 3.1 document, generated from the handlers' annotations and types.

use axum::Json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, ObjectBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::api;
use crate::events;
use crate::hotline;
use crate::limits::{ID_CHARS_MAX, ID_PATTERN};
use crate::live::AIRCRAFT_ID_CHARS_MAX;
use crate::live_api;

/// An id as the document shows it: [`crate::limits::check_id`]'s rule, written once here
/// from its constants for every body field and parameter that names a party, intent,
/// conflict or message.
pub struct Id;

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(ID_CHARS_MAX))
            .pattern(Some(ID_PATTERN))
            .into()
    }
}

impl ToSchema for Id {}

/// An aircraft's id as the document shows it: [`crate::live::check_aircraft_id`]'s rule.
pub struct AircraftId;

impl PartialSchema for AircraftId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(AIRCRAFT_ID_CHARS_MAX))
            // No control character (Unicode category Cc), as `char::is_control`.
            .pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]+$"))
            .into()
    }
}

impl ToSchema for AircraftId {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Completes every operation's error answers from what the service's extractors and
/// middleware do for every route, so no handler has to list them: a client generated from
/// the document knows each status it can meet, and that every error is a problem document.
/// - secured operations: 401 (no valid token), 429 (rate limit, with `Retry-After`) and 503
///   (the store is unavailable or a write could not be committed);
/// - a JSON body: 400 (not JSON), 413, 415 and 422 (JSON of the wrong shape, or values
///   that are refused);
/// - path or query parameters: 400 (a malformed id, number or query string);
/// - and every 4xx or 5xx answer is `application/problem+json` with the `Problem` schema.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                describe_ids(operation);
                complete_errors(operation);
            }
        }
    }
}

/// Gives every id parameter the rule `check_id` enforces (a path's `{id}`, and the `after`
/// and `thread` of the lists, which name an intent, conflict or message), and a proposal's
/// `{version}` its lower bound, in one place instead of on each handler.
fn describe_ids(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let schema = match (&parameter.parameter_in, parameter.name.as_str()) {
            (ParameterIn::Path, "id") | (ParameterIn::Query, "after" | "thread") => Id::schema(),
            (ParameterIn::Path, "version") => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .build()
                .into(),
            _ => continue,
        };
        parameter.schema = Some(schema);
    }
}

fn complete_errors(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
    });
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    };
    if has_body || has_parameters {
        add(
            "400",
            "malformed request: a body that is not JSON, or a bad id, number or query string",
        );
    }
    if secured {
        add(
            "401",
            "no valid bearer token (`Authorization: Bearer TOKEN`)",
        );
        add(
            "429",
            "too many requests from this party, or from this address with tokens the service does not know; retry after `Retry-After` seconds",
        );
        add(
            "503",
            "the store is unavailable or the write could not be committed; retry",
        );
    }
    if has_body {
        add("413", "the body is over BODY_BYTES_MAX = 1 MiB");
        add(
            "415",
            "the body is not sent as `Content-Type: application/json`",
        );
        add(
            "422",
            "JSON of the wrong shape or with refused values; `detail` names the field",
        );
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        response.content.clear();
        response.content.insert(
            "application/problem+json".to_owned(),
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
        if status == "429" {
            let seconds = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .build();
            response.headers.insert(
                "Retry-After".to_owned(),
                HeaderBuilder::new()
                    .schema(seconds)
                    .description(Some("seconds to wait before retrying"))
                    .build(),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "deconflict",
        description = "Air-safety deconfliction between parties that share an airspace but not their plans. \
            Errors are application/problem+json (RFC 9457). Limits: bodies up to 1 MiB (413), \
            64 volumes and 10,000 polygon vertices per intent (422), hotline texts of 1 to 2,000 characters (422), ids of 1 to 128 characters \
            [A-Za-z0-9._:-] (400), a request rate per party, and per client address for tokens the service does not know yet (429 with Retry-After)."
    ),
    paths(
        api::health, api::me, api::list_parties, api::add_party,
        api::agreement, api::propose, api::accept, api::reject,
        api::put_intent, api::get_intent, api::list_intents, api::delete_intent,
        api::list_conflicts, api::ack_conflict,
        hotline::send_message, hotline::list_messages, hotline::ack_message,
        live_api::post_tracks, live_api::list_tracks, live_api::track_history,
        live_api::track_stream, live_api::list_alerts,
        events::events,
        api::audit_export, api::audit_key, api::metrics,
    ),
    components(schemas(crate::error::Problem, crate::terms::Terms, Id, AircraftId)),
    modifiers(&BearerAuth, &ProblemResponses),
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`; no authentication.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
