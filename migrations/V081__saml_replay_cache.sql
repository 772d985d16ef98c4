-- SAML assertion ids already used (issue 22, src/saml/replay.rs): a replayed
-- assertion is refused until it would have expired anyway. Keyed by the IdP's
-- entity id and the assertion id; rows past expires_at (unix seconds) are purged.
CREATE TABLE saml_replay_cache (
    issuer       TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, assertion_id)
) WITHOUT ROWID;
CREATE INDEX saml_replay_cache_expiry ON saml_replay_cache (expires_at);
