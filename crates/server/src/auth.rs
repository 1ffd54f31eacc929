//! Bearer tokens: how they are made and stored (only a SHA-256 hash), and the [`Caller`]
//! extractor that authenticates a request, applies the per-party rate limit and hands the
//! handler the calling party.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use deconflict_store::{PartyRecord, Role, Store};

use crate::error::ApiError;
use crate::{limits, AppState};

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "dcf_";

/// A new bearer token: 256 random bits, URL-safe base64, prefixed.
pub fn new_token(rng: &mut impl Rng) -> String {
    let bytes: [u8; 32] = rng.random();
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A new bearer token from the operating system's random source.
pub fn new_random_token() -> String {
    new_token(&mut rand::rngs::StdRng::from_os_rng())
}

/// What the store keeps of a token: its SHA-256, lower-case hex. A 256-bit random token
/// needs no salt or slow hash: it cannot be guessed from its hash.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Parties by token hash, filled on first use. Parties are never removed or re-keyed, so
/// a cached entry never goes stale; a miss goes to the store, so parties added by the
/// `party add` command while the server runs are found.
#[derive(Default)]
pub struct PartyCache {
    by_token: RwLock<HashMap<String, Arc<PartyRecord>>>,
}

impl PartyCache {
    /// The party holding the token with SHA-256 `hash`, if it has been seen before.
    fn cached(&self, hash: &str) -> Option<Arc<PartyRecord>> {
        self.by_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .cloned()
    }

    /// Remembers `party`, just added by the service, so its token is known at once.
    pub fn remember(&self, party: Arc<PartyRecord>) {
        self.by_token
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(party.token_sha256.clone(), party);
    }

    /// The party holding `token`: from memory, or else from the store (then remembered).
    /// `before_store` runs first when the store must be asked, and may refuse.
    pub async fn lookup(
        &self,
        store: &dyn Store,
        token: &str,
        before_store: impl FnOnce() -> Result<(), ApiError>,
    ) -> Result<Option<Arc<PartyRecord>>, ApiError> {
        let hash = token_sha256(token);
        if let Some(party) = self.cached(&hash) {
            return Ok(Some(party));
        }
        before_store()?;
        let Some(party) = store.party_by_token_sha256(&hash).await? else {
            return Ok(None);
        };
        let party = Arc::new(party);
        self.remember(party.clone());
        Ok(Some(party))
    }
}

/// The authenticated party making the request.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<PartyRecord>);

impl Caller {
    pub fn require(&self, role: Role, what: &str) -> Result<(), ApiError> {
        if self.0.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{what} needs the {role} role; you are {}",
                self.0.role
            )))
        }
    }
}

/// The party holding `token`, after its request is counted against its rate limit.
///
/// A token the service has not seen before costs a store read, so those are also counted
/// per client address (`peer`, when the connection's is known) against
/// [`limits::UNKNOWN_TOKENS`]: a client cycling through wrong tokens is answered 429
/// without reaching the store, while known tokens from the same address are unaffected.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    peer: Option<IpAddr>,
) -> Result<Arc<PartyRecord>, ApiError> {
    let now_s = state.clock.now_ms() as f64 / 1000.0;
    let count_unknown_token = || match peer {
        Some(address) => state
            .unknown_token_limiter
            .take(&address.to_string(), now_s)
            .map_err(|wait_s| {
                metrics::counter!("deconflict_unknown_token_limited_total").increment(1);
                ApiError::TooManyRequests {
                    per_s: limits::UNKNOWN_TOKENS.per_s,
                    per: "client address for tokens the service does not know",
                    retry_after_s: wait_s.ceil().max(1.0) as u64,
                }
            }),
        None => Ok(()),
    };
    let party = state
        .parties
        .lookup(state.store.as_ref(), token, count_unknown_token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Err(wait_s) = state.rate_limiter.take(&party.id, now_s) {
        metrics::counter!("deconflict_rate_limited_total").increment(1);
        return Err(ApiError::TooManyRequests {
            per_s: state.rate_limiter.limit().per_s,
            per: "party",
            retry_after_s: wait_s.ceil().max(1.0) as u64,
        });
    }
    Ok(party)
}

/// The client's address, when the service was started with connection information (the
/// real server is; handler tests that call the router directly are not).
fn peer_address(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// The client's address as an extractor, for handlers that authenticate themselves.
pub struct PeerAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddress(peer_address(&parts.extensions)))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized)?;
        let text = header.to_str().map_err(|_| ApiError::Unauthorized)?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        authenticate(state, token, peer_address(&parts.extensions))
            .await
            .map(Caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_only_their_hash_is_kept() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = new_token(&mut rng);
        let b = new_token(&mut rng);
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        let hash = token_sha256(&a);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a[TOKEN_PREFIX.len()..]));
    }
}
