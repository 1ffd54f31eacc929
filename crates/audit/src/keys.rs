//! The server's Ed25519 key ([`AuditSigner`], [`AuditPublicKey`]) and the fixed-size values
//! the chain is made of ([`AuditHash`], [`AuditSignature`]).
//!
//! Hashes and signatures are written as lower-case hex (64 and 128 characters); the public
//! key as standard base64 (with padding) of its 32 bytes, as `GET /v1/audit/key` serves it.

use std::fmt;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use ed25519_dalek::rand_core::CryptoRng;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SHA-256 value of the chain (a content hash, an entry hash or a head).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditHash(pub [u8; 32]);

impl AuditHash {
    /// The `prev_hash` of the chain's first entry: 32 zero bytes.
    pub const GENESIS: AuditHash = AuditHash([0; 32]);

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Appends [`AuditHash::to_hex`] to `out` without making a `String` of it.
    pub(crate) fn write_hex(&self, out: &mut Vec<u8>) {
        let mut text = [0u8; 64];
        hex::encode_to_slice(self.0, &mut text).expect("64 hex digits for 32 bytes");
        out.extend_from_slice(&text);
    }

    /// Parses exactly 64 lower-case hex characters (upper case is refused so that each
    /// hash has one spelling).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        decode_lower_hex::<32>(text).map(AuditHash)
    }
}

impl fmt::Debug for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditHash({})", self.to_hex())
    }
}

impl fmt::Display for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An Ed25519 signature by the server's key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuditSignature(pub [u8; 64]);

impl AuditSignature {
    /// Lower-case hex, 128 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 128 lower-case hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        decode_lower_hex::<64>(text).map(AuditSignature)
    }
}

impl fmt::Debug for AuditSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditSignature({})", self.to_hex())
    }
}

fn decode_lower_hex<const N: usize>(text: &str) -> Result<[u8; N], KeyError> {
    let well_formed = text.len() == 2 * N
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(KeyError::BadHex { bytes: N });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| KeyError::BadHex { bytes: N })?;
    Ok(out)
}

macro_rules! hex_serde {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$type>::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_serde!(AuditHash);
hex_serde!(AuditSignature);

/// Why a key, hash or signature could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("expected {} lower-case hex characters ({bytes} bytes)", 2 * bytes)]
    BadHex { bytes: usize },
    #[error("expected standard base64 of a 32-byte Ed25519 public key")]
    BadBase64,
    #[error("the 32 bytes are not a valid Ed25519 public key")]
    NotAPublicKey,
    #[error("the text is neither a base64 public key nor {{\"public_key\": \"<base64>\"}}")]
    UnrecognizedKeyText,
}

/// The server's signing key. The 32-byte seed is all a store needs to persist; it never
/// leaves the service.
#[derive(Clone)]
pub struct AuditSigner {
    key: SigningKey,
}

impl AuditSigner {
    /// A fresh key drawn from `rng` (the service passes the operating system's generator;
    /// tests pass a seeded one).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        AuditSigner {
            key: SigningKey::generate(rng),
        }
    }

    /// The key whose seed a store persisted.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        AuditSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte seed to persist (secret).
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The public key as `GET /v1/audit/key` serves it: standard base64 of 32 bytes.
    pub fn public_key_base64(&self) -> String {
        self.public_key().to_base64()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> AuditSignature {
        AuditSignature(self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the seed.
        write!(f, "AuditSigner(public {})", self.public_key_base64())
    }
}

/// The server's public key, as a verifier holds it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey {
    key: VerifyingKey,
}

impl AuditPublicKey {
    /// From its 32 bytes; refuses bytes that are not a point of the curve or are of small
    /// order (such a key would verify forged signatures).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::NotAPublicKey);
        }
        Ok(AuditPublicKey { key })
    }

    /// From standard base64 of its 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = BASE64_STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::BadBase64)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadBase64)?;
        Self::from_bytes(bytes)
    }

    /// From either the bare base64 key or the JSON document `GET /v1/audit/key` serves,
    /// `{"public_key": "<base64>"}`.
    pub fn from_key_text(text: &str) -> Result<Self, KeyError> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            #[derive(Deserialize)]
            struct KeyDocument {
                public_key: String,
            }
            let document: KeyDocument =
                serde_json::from_str(trimmed).map_err(|_| KeyError::UnrecognizedKeyText)?;
            return Self::from_base64(&document.public_key);
        }
        Self::from_base64(trimmed)
    }

    /// Standard base64 of the 32 bytes.
    pub fn to_base64(&self) -> String {
        BASE64_STANDARD.encode(self.key.to_bytes())
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` is this key's signature of `message`. Strict verification:
    /// non-canonical signatures are refused, so no second valid spelling of a signature
    /// exists.
    pub(crate) fn verifies(&self, message: &[u8], signature: &AuditSignature) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditPublicKey({})", self.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_back_the_same_key() {
        let signer = AuditSigner::from_seed([7; 32]);
        let again = AuditSigner::from_seed(signer.seed());
        assert_eq!(signer.public_key(), again.public_key());
        assert_eq!(signer.public_key_base64().len(), 44);
    }

    #[test]
    fn the_public_key_parses_from_base64_and_from_the_key_document() {
        let signer = AuditSigner::from_seed([9; 32]);
        let base64 = signer.public_key_base64();
        assert_eq!(
            AuditPublicKey::from_key_text(&format!("{base64}\n")).unwrap(),
            signer.public_key()
        );
        let document = format!("{{\"public_key\": \"{base64}\"}}");
        assert_eq!(
            AuditPublicKey::from_key_text(&document).unwrap(),
            signer.public_key()
        );
        assert_eq!(
            AuditPublicKey::from_key_text("{\"key\": 1}"),
            Err(KeyError::UnrecognizedKeyText)
        );
        assert_eq!(
            AuditPublicKey::from_key_text("not base64!"),
            Err(KeyError::BadBase64)
        );
        assert_eq!(
            AuditPublicKey::from_key_text("AAAA"),
            Err(KeyError::BadBase64)
        );
    }

    #[test]
    fn a_small_order_public_key_is_refused() {
        // The identity point: every signature with R = identity and s = 0 would verify.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            AuditPublicKey::from_bytes(identity),
            Err(KeyError::NotAPublicKey)
        );
    }

    #[test]
    fn hashes_accept_only_lower_case_hex_of_the_right_length() {
        let hash = AuditHash([0xab; 32]);
        assert_eq!(AuditHash::from_hex(&hash.to_hex()).unwrap(), hash);
        assert!(AuditHash::from_hex(&hash.to_hex().to_uppercase()).is_err());
        assert!(AuditHash::from_hex("abab").is_err());
        assert!(AuditSignature::from_hex(&"0".repeat(127)).is_err());
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let signer = AuditSigner::from_seed([1; 32]);
        let other = AuditSigner::from_seed([2; 32]);
        let signature = signer.sign(b"message");
        assert!(signer.public_key().verifies(b"message", &signature));
        assert!(!signer.public_key().verifies(b"messagf", &signature));
        assert!(!other.public_key().verifies(b"message", &signature));
    }
}
