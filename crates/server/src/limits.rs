//! The service's named limits, and the per-party request rate limiter.
//!
//! Every bound a client can run into has a name here, appears in the problem `detail`
//! that enforces it and in the OpenAPI document, so a client can plan for it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Largest request body accepted (413 beyond).
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Most volumes in one intent (422 beyond).
pub const INTENT_VOLUMES_MAX: usize = 64;
/// Most polygon vertices in one intent, all volumes together (422 beyond).
pub const INTENT_VERTICES_MAX: usize = 10_000;
/// Longest intent, party or conflict id, in characters (400 beyond).
pub const ID_CHARS_MAX: usize = 128;
/// Longest party name, in characters (422 beyond).
pub const PARTY_NAME_CHARS_MAX: usize = 200;
/// Longest hotline message text, in characters (422 beyond).
pub const HOTLINE_TEXT_CHARS_MAX: usize = 2000;
/// Most items one list request returns (`limit` is clamped to it).
pub const LIST_LIMIT_MAX: u32 = 1000;
/// Items a list request returns when it names no `limit`.
pub const LIST_LIMIT_DEFAULT: u32 = 100;
/// Most write commands one group commit takes from the queue.
pub const GROUP_COMMIT_COMMANDS_MAX: usize = 2048;
/// Most write commands waiting for the writer; callers wait for room beyond it.
pub const WRITE_QUEUE_MAX: usize = 16_384;
/// Events buffered for live SSE subscribers before a slow one falls back to the store.
pub const EVENT_BROADCAST_MAX: usize = 16_384;
/// Sampled track points older than this are pruned (`GET /v1/tracks/history` reaches back
/// this far at most).
pub const TRACK_HISTORY_RETENTION_S: u64 = 7 * 24 * 3600;
/// Most hotline messages one escalation step escalates, earliest deadline first. A
/// backlog (deadlines that passed while the service was down, or a burst of conflicts
/// opened together) is escalated in steps of this many, each its own command to the
/// writer, so that other writes are decided between them instead of waiting behind one
/// transaction of every overdue message.
pub const HOTLINE_ESCALATIONS_PER_STEP_MAX: usize = 500;
/// Live intents re-checked per step when new terms come into force. The re-check goes
/// through every live intent in steps of this many, each its own commit, with the writes
/// that arrive meanwhile decided between the steps (under the new terms already), instead
/// of every write waiting behind one pass over the whole store. At 100,000 intents a
/// sequential writer's writes during the re-check took p50 3.1-3.9 ms and p99 28-45 ms
/// with steps of 25, against 8.9-9.8 and 49-51 ms with steps of 100; the whole pass took
/// as long (9.4-10.9 s).
pub const RECHECK_INTENTS_PER_STEP_MAX: usize = 25;
/// Most counterpart overlaps computed and disclosed per conflict (closest first).
pub const CONFLICT_OVERLAPS_MAX: usize = 16;
/// Events older than this are pruned; a client reconnecting with `Last-Event-ID` within
/// it misses nothing.
pub const EVENT_RETENTION_S: u64 = 7 * 24 * 3600;

/// Tokens the store is asked about per second from one client address when the token is
/// not one the service already knows (a new party's first request, or a wrong token): a
/// client sending wrong tokens gets 429 instead of a store read per request.
pub const UNKNOWN_TOKENS: RateLimit = RateLimit {
    per_s: 10,
    burst: 100,
};
/// Client addresses whose unknown-token buckets are kept before the full ones (as good as
/// absent) are dropped.
pub const RATE_LIMIT_KEYS_MAX: usize = 100_000;

const _: () = assert!(GROUP_COMMIT_COMMANDS_MAX <= WRITE_QUEUE_MAX);
const _: () = assert!(LIST_LIMIT_DEFAULT <= LIST_LIMIT_MAX);

/// Whether a free text (a party's name, a hotline message, a term of the agreement) can be
/// stored on every backend: PostgreSQL keeps no U+0000 (NUL) in text, so the service
/// refuses it on both instead of failing the commit (and every write batched with it).
pub fn check_no_nul(what: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        Err(format!(
            "{what} must not contain the character U+0000 (NUL)"
        ))
    } else {
        Ok(())
    }
}

/// [`check_id`]'s rule as a JSON Schema pattern (length apart), for the OpenAPI document.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";

/// Whether an id (intent, party) is usable in a path: 1 to [`ID_CHARS_MAX`] characters of
/// ASCII letters, digits, `-`, `_`, `.`, `:`.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > ID_CHARS_MAX {
        return Err(format!(
            "{what} {id:?} must be 1 to {ID_CHARS_MAX} characters (ID_CHARS_MAX)"
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return Err(format!(
            "{what} {id:?} contains {bad:?}; use ASCII letters, digits, '-', '_', '.' or ':'"
        ));
    }
    Ok(())
}

/// The rate a party may send requests at: a token bucket per party, refilled at
/// `per_s` and holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_s: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_s: 20_000,
            burst: 40_000,
        }
    }
}

/// Token buckets per key (a party, or a client address). Hand-written because it is a
/// dozen lines on the hot path and must take time as an argument (the clock is injected).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, f64)>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one token for `key` at `now_s`; `Err(seconds to wait)` when none is left.
    pub fn take(&self, key: &str, now_s: f64) -> Result<(), f64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let burst = f64::from(self.limit.burst);
        let per_s = f64::from(self.limit.per_s);
        if buckets.len() >= RATE_LIMIT_KEYS_MAX && !buckets.contains_key(key) {
            // A bucket that has refilled is the same as none: forget those, so that many
            // keys (client addresses) cannot grow the map without bound.
            buckets.retain(|_, (level, at_s)| *level + (now_s - *at_s).max(0.0) * per_s < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert((burst, now_s));
        let elapsed_s = (now_s - bucket.1).max(0.0);
        bucket.0 = (bucket.0 + elapsed_s * per_s).min(burst);
        bucket.1 = now_s;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            Ok(())
        } else {
            Err((1.0 - bucket.0) / per_s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_party_that_spends_its_burst_waits_for_the_refill() {
        let limiter = RateLimiter::new(RateLimit {
            per_s: 10,
            burst: 3,
        });
        for _ in 0..3 {
            assert!(limiter.take("a", 100.0).is_ok());
        }
        let wait_s = limiter.take("a", 100.0).unwrap_err();
        assert!((wait_s - 0.1).abs() < 1e-9, "{wait_s}");
        assert!(limiter.take("b", 100.0).is_ok(), "buckets are per party");
        assert!(limiter.take("a", 100.11).is_ok());
    }

    #[test]
    fn refilled_buckets_are_forgotten_when_keys_pile_up() {
        let limiter = RateLimiter::new(RateLimit { per_s: 1, burst: 2 });
        for key in 0..RATE_LIMIT_KEYS_MAX {
            assert!(limiter.take(&key.to_string(), 0.0).is_ok());
        }
        assert!(limiter.take("0", 0.0).is_ok());
        assert!(limiter.take("0", 0.0).is_err(), "key 0 spent its burst");
        // A second later every other bucket has refilled; a new key drops them, not key 0,
        // whose bucket still lacks a token.
        assert!(limiter.take("new", 1.0).is_ok());
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.len(), 2, "only key 0 and the new key are kept");
    }

    #[test]
    fn ids_outside_the_allowed_alphabet_are_refused() {
        assert!(check_id("intent id", "flight-7:leg_2.a").is_ok());
        assert!(check_id("intent id", "").is_err());
        assert!(check_id("intent id", "a/b").is_err());
        assert!(check_id("intent id", "é").is_err());
        assert!(check_id("intent id", &"x".repeat(ID_CHARS_MAX + 1)).is_err());
    }
}
