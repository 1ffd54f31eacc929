//! `GET /v1/events`: each party's events as Server-Sent Events.
//!
//! Every event is stored (with a global, increasing sequence number that is its SSE `id`)
//! before it is published, so a client reconnecting with `Last-Event-ID` (or
//! `?last_event_id=`) gets everything it missed from the store, then live events. Events
//! are kept [`EVENT_RETENTION_S`](crate::limits::EVENT_RETENTION_S); a client that stays
//! away longer misses the oldest. A client connecting without an id starts from now.
//!
//! Kinds so far: `conflict.opened`, `conflict.updated`, `conflict.resolved`,
//! `conflict.acknowledged`, `agreement.proposed`, `agreement.rejected`,
//! `agreement.in_force`, `hotline.message`, `hotline.ack`, `hotline.escalated`; `alert.*`
//! come through the same path.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use deconflict_store::EventRecord;

use crate::auth::Caller;
use crate::error::{ApiError, QueryParams};
use crate::AppState;

/// Events read from the store per page when catching up.
const CATCH_UP_PAGE_MAX: u32 = 1000;
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id (as the `Last-Event-ID` header does).
    pub last_event_id: Option<i64>,
}

fn sse_event(record: &EventRecord) -> Event {
    Event::default()
        .id(record.seq.to_string())
        .event(record.kind.clone())
        .data(record.data.as_str())
}

/// The caller's events as Server-Sent Events.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])), params(EventsQuery,
    ("Last-Event-ID" = Option<i64>, Header, description = "resume after this event id")),
    responses((status = 200, content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let from_header = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("Last-Event-ID must be an event id (an integer)".into())
                })?,
        ),
    };
    // Subscribe before reading the store, so nothing published in between is lost.
    let mut live = state.published.events.subscribe();
    let mut last_sent = match from_header.or(query.last_event_id) {
        Some(seq) => seq,
        None => state
            .published
            .last_sent_event_seq
            .load(std::sync::atomic::Ordering::SeqCst),
    };
    let store = state.store.clone();
    let shutdown = state.shutdown.clone();
    let party_id = caller.id.clone();
    let stream = async_stream::stream! {
        let mut catch_up = true;
        loop {
            while catch_up {
                match store.events_after(&party_id, last_sent, CATCH_UP_PAGE_MAX).await {
                    Ok(page) => {
                        catch_up = page.len() == CATCH_UP_PAGE_MAX as usize;
                        for record in page {
                            last_sent = record.seq;
                            yield Ok(sse_event(&record));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "event catch-up failed; closing the stream");
                        return;
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                received = live.recv() => match received {
                    Ok(record) => {
                        if record.party_id == party_id && record.seq > last_sent {
                            last_sent = record.seq;
                            yield Ok(sse_event(&record));
                        }
                    }
                    // Too slow for the live feed: catch up from the store instead.
                    Err(RecvError::Lagged(_)) => catch_up = true,
                    Err(RecvError::Closed) => return,
                },
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL)))
}
