//! What Meta's webhooks share across WhatsApp Cloud, Messenger and
//! Instagram: the subscription handshake and the `X-Hub-Signature-256` check.

use actix_web::HttpResponse;
use actix_web::http::Method;

use super::adapter::{HookRequest, Secrets};
use crate::crypto::{constant_time_eq, hmac_sha256};

/// The header Meta signs every webhook call with.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with
/// `app_secret` (constant-time); an empty secret verifies nothing.
#[must_use]
pub fn verify_hub_signature(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    if app_secret.is_empty() {
        return false;
    }
    let expected = hex::encode(hmac_sha256(app_secret.as_bytes(), body));
    constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes())
}

/// Whether the call carries a valid Meta signature for the channel's app secret.
#[must_use]
pub fn verify(secrets: &Secrets, req: &HookRequest<'_>) -> bool {
    verify_hub_signature(secrets.get("app_secret"), req.body, req.header(SIGNATURE_HEADER))
}

/// Meta's subscription check: a `GET` with `hub.mode=subscribe` and the
/// channel's verify token (its webhook secret) gets `hub.challenge` back;
/// anything else goes on to the signature check, which refuses it (401).
#[must_use]
pub fn handshake(secrets: &Secrets, req: &HookRequest<'_>) -> Option<HttpResponse> {
    if req.method != Method::GET || req.query_param("hub.mode").as_deref() != Some("subscribe") {
        return None;
    }
    let token = req.query_param("hub.verify_token")?;
    let challenge = req.query_param("hub.challenge")?;
    constant_time_eq(token.as_bytes(), secrets.webhook_secret.as_bytes())
        .then(|| HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(challenge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_signatures_verify_like_meta_signs_them() {
        // The published test vector of this HMAC scheme (GitHub's webhook docs, same header format).
        let body = b"Hello, World!";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_hub_signature("It's a Secret to Everybody", body, Some(good)));
        assert!(verify_hub_signature(
            "It's a Secret to Everybody",
            body,
            Some(&good.to_uppercase().replace("SHA256", "sha256"))
        ));
        assert!(!verify_hub_signature("It's a Secret to Everybody", b"Hello, World?", Some(good)));
        assert!(!verify_hub_signature("another secret", body, Some(good)));
        assert!(!verify_hub_signature("It's a Secret to Everybody", body, Some(&good[7..])));
        assert!(!verify_hub_signature("It's a Secret to Everybody", body, None));
        assert!(!verify_hub_signature("", body, Some("sha256=")));
    }
}
