//! The OpenAPI 3.1 document, generated from the handlers' annotations and types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::events;
use crate::hotline;
use crate::live_api;

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
    components(schemas(crate::error::Problem, crate::terms::Terms)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`; no authentication.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
