-- Issue 19 item 1: the model layer.
--
-- Providers name a fallback and carry their prices (integer micro-units of
-- the organization's currency per 1M tokens: 1 USD = 1,000,000 micros);
-- per-bot configurations name a fallback and carry monthly budgets
-- (NULL = no limit). usage_tracking gains the `llm_cost_micros` metric
-- (SQLite cannot change a CHECK in place: the table is rebuilt with its
-- indexes, triggers and the view that reads it). llm_calls keeps one row per
-- model call for the per-model usage report and the agents' traces.

ALTER TABLE llm_providers ADD COLUMN fallback_provider_id INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL;
ALTER TABLE llm_providers ADD COLUMN input_price_micros INTEGER NOT NULL DEFAULT 0 CHECK (input_price_micros >= 0);
ALTER TABLE llm_providers ADD COLUMN output_price_micros INTEGER NOT NULL DEFAULT 0 CHECK (output_price_micros >= 0);
CREATE INDEX llm_providers_fk_fallback_provider_id ON llm_providers (fallback_provider_id);
CREATE TRIGGER llm_providers_fallback_provider_id_tenant_insert BEFORE INSERT ON llm_providers
WHEN NEW.fallback_provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.fallback_provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_providers.fallback_provider_id');
END;
CREATE TRIGGER llm_providers_fallback_provider_id_tenant_update BEFORE UPDATE OF fallback_provider_id, organization_id ON llm_providers
WHEN NEW.fallback_provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.fallback_provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_providers.fallback_provider_id');
END;

ALTER TABLE ai_configurations ADD COLUMN fallback_provider_id INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL;
ALTER TABLE ai_configurations ADD COLUMN monthly_token_budget INTEGER CHECK (monthly_token_budget IS NULL OR monthly_token_budget >= 0);
ALTER TABLE ai_configurations ADD COLUMN monthly_cost_budget_micros INTEGER CHECK (monthly_cost_budget_micros IS NULL OR monthly_cost_budget_micros >= 0);
CREATE INDEX ai_configurations_fk_fallback_provider_id ON ai_configurations (fallback_provider_id);
CREATE TRIGGER ai_configurations_fallback_provider_id_tenant_insert BEFORE INSERT ON ai_configurations
WHEN NEW.fallback_provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.fallback_provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.fallback_provider_id');
END;
CREATE TRIGGER ai_configurations_fallback_provider_id_tenant_update BEFORE UPDATE OF fallback_provider_id, organization_id ON ai_configurations
WHEN NEW.fallback_provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.fallback_provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.fallback_provider_id');
END;

-- usage_tracking with the cost metric. The view and the trigger on bots that
-- name the table are dropped first (a rename re-checks every view and trigger).
DROP VIEW user_usage_summary;
DROP TRIGGER bots_fold_usage;
CREATE TABLE usage_tracking_next (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    metric_type      TEXT NOT NULL CHECK (metric_type IN ('message_received','message_sent','api_call','webhook_call','nlu_parse',
                                                          'llm_tokens','llm_cost_micros','embedding','knowledge_search','voice_minutes','agent_run')),
    day              TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    count            INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    metadata         TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
INSERT INTO usage_tracking_next (id, organization_id, bot_id, metric_type, day, count, metadata, created_at, updated_at)
    SELECT id, organization_id, bot_id, metric_type, day, count, metadata, created_at, updated_at FROM usage_tracking;
DROP TABLE usage_tracking;
ALTER TABLE usage_tracking_next RENAME TO usage_tracking;
CREATE UNIQUE INDEX usage_tracking_key ON usage_tracking (organization_id, ifnull(bot_id, 0), metric_type, day);
CREATE INDEX usage_tracking_org_day ON usage_tracking (organization_id, metric_type, day);
CREATE INDEX usage_tracking_fk_bot_id ON usage_tracking (bot_id);
CREATE TRIGGER usage_tracking_updated_at AFTER UPDATE ON usage_tracking WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE usage_tracking SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER usage_tracking_organization_id_immutable BEFORE UPDATE OF organization_id ON usage_tracking
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.organization_id');
END;
CREATE TRIGGER usage_tracking_bot_id_tenant_insert BEFORE INSERT ON usage_tracking
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.bot_id');
END;
CREATE TRIGGER usage_tracking_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON usage_tracking
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.bot_id');
END;
CREATE TRIGGER bots_fold_usage BEFORE DELETE ON bots
BEGIN
    INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count)
        SELECT organization_id, NULL, metric_type, day, count FROM usage_tracking
        WHERE bot_id = OLD.id AND EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id)
        ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = count + excluded.count;
    DELETE FROM usage_tracking WHERE bot_id = OLD.id;
END;
CREATE VIEW user_usage_summary AS
SELECT organization_id,
       substr(day, 1, 7) AS month,
       metric_type,
       sum(count)        AS total_count
FROM usage_tracking
GROUP BY organization_id, substr(day, 1, 7), metric_type;

-- One row per model call (after retries and fallback): what it cost.
CREATE TABLE llm_calls (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    provider_id        INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    model              TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    purpose            TEXT NOT NULL CHECK (purpose IN ('chat','test','agent','workflow','knowledge','flow')),
    status             TEXT NOT NULL CHECK (status IN ('ok','failed')),
    prompt_tokens      INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost_micros        INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    latency_ms         INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    attempts           INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    fell_back          INTEGER NOT NULL DEFAULT 0 CHECK (fell_back IN (0,1)),
    error_code         TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX llm_calls_org_bot ON llm_calls (organization_id, bot_id, created_at);
CREATE INDEX llm_calls_fk_bot_id ON llm_calls (bot_id);
CREATE INDEX llm_calls_fk_provider_id ON llm_calls (provider_id);
CREATE TRIGGER llm_calls_organization_id_immutable BEFORE UPDATE OF organization_id ON llm_calls
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_calls.organization_id');
END;
CREATE TRIGGER llm_calls_bot_id_tenant_insert BEFORE INSERT ON llm_calls
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_calls.bot_id');
END;
CREATE TRIGGER llm_calls_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON llm_calls
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_calls.bot_id');
END;
CREATE TRIGGER llm_calls_provider_id_tenant_insert BEFORE INSERT ON llm_calls
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_calls.provider_id');
END;
CREATE TRIGGER llm_calls_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON llm_calls
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_calls.provider_id');
END;
