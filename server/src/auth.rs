//! Identity: random ids and bearer tokens. Tokens are 256 random bits shown
//! once; the store keeps only their SHA-256, so a leaked database does not
//! leak a way to act for anyone.

use sha2::{Digest, Sha256};

/// A fresh random 64-bit value from the operating system.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // The OS generator does not fail on Linux once booted; if it ever did,
    // a clock-derived value still keeps ids unique enough to retry on conflict.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return (nanos as u64) ^ ((nanos >> 64) as u64);
    }
    u64::from_le_bytes(bytes)
}

/// A new id with a prefix (`p_` players, `t_` tables): 12 hex digits.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{:012x}", random_u64() & 0xffff_ffff_ffff)
}

/// 32 bytes from the OS generator (secrets: tokens, deal keys).
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes());
        }
    }
    bytes
}

/// A new bearer token: 64 hex digits.
pub fn new_token() -> String {
    hex(&random_bytes())
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` looks like one we issue (checked before any store lookup).
pub fn plausible_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Whether an id names a registered person (AI seats are named by agent spec).
pub fn is_player_id(id: &str) -> bool {
    id.starts_with("p_")
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Whether request headers carry the admin API key `key` (`x-api-key`, or
/// as the bearer token); never without a configured, non-empty key.
pub fn is_admin(key: Option<&str>, headers: &axum::http::HeaderMap) -> bool {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return false;
    };
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| bearer(headers));
    given.is_some_and(|g| constant_time_eq(g.as_bytes(), key.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(plausible_token(&a));
        assert!(!plausible_token("short"));
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(new_id("p_").starts_with("p_") && new_id("p_").len() == 14);
    }
}
