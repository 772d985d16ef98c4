-- Plans with every limit, prices per interval and currency, and the metering
-- of issue 21 (messages, API calls, LLM tokens and cost, knowledge storage,
-- seats, voice minutes) in usage_tracking.

-- Limits: -1 = unlimited (as max_bots and max_messages_per_month already are).
ALTER TABLE subscription_plans ADD COLUMN is_public INTEGER NOT NULL DEFAULT 1 CHECK (is_public IN (0,1));
ALTER TABLE subscription_plans ADD COLUMN trial_days INTEGER NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 365);
ALTER TABLE subscription_plans ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscription_plans ADD COLUMN max_knowledge_storage_bytes INTEGER NOT NULL DEFAULT -1 CHECK (max_knowledge_storage_bytes >= -1);
ALTER TABLE subscription_plans ADD COLUMN max_seats INTEGER NOT NULL DEFAULT -1 CHECK (max_seats >= -1);
ALTER TABLE subscription_plans ADD COLUMN max_llm_tokens_per_month INTEGER NOT NULL DEFAULT -1 CHECK (max_llm_tokens_per_month >= -1);
ALTER TABLE subscription_plans ADD COLUMN max_channels INTEGER NOT NULL DEFAULT -1 CHECK (max_channels >= -1);
ALTER TABLE subscription_plans ADD COLUMN max_voice_minutes_per_month INTEGER NOT NULL DEFAULT -1 CHECK (max_voice_minutes_per_month >= -1);

UPDATE subscription_plans SET sort_order = 1, max_knowledge_storage_bytes = 52428800, max_seats = 3,
       max_llm_tokens_per_month = 100000, max_channels = 3, max_voice_minutes_per_month = 60 WHERE name = 'free';
UPDATE subscription_plans SET sort_order = 2, trial_days = 14, max_knowledge_storage_bytes = 1073741824, max_seats = 20,
       max_llm_tokens_per_month = 2000000, max_channels = 20, max_voice_minutes_per_month = 1000 WHERE name = 'pro';
UPDATE subscription_plans SET sort_order = 3 WHERE name = 'enterprise';

-- A plan's prices: one per billing interval and ISO 4217 currency, in integer
-- minor units. subscription_plans.price_monthly/price_yearly/currency mirror
-- the prices in the plan's main currency (written by the same transaction).
CREATE TABLE subscription_plan_prices (
    id               INTEGER PRIMARY KEY,
    plan_id          INTEGER NOT NULL REFERENCES subscription_plans(id) ON DELETE CASCADE,
    interval         TEXT NOT NULL CHECK (interval IN ('month','year')),
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    stripe_price_id  TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (plan_id, interval, currency)
);
INSERT INTO subscription_plan_prices (plan_id, interval, currency, amount, stripe_price_id)
    SELECT id, 'month', currency, price_monthly, stripe_price_id_monthly FROM subscription_plans;
INSERT INTO subscription_plan_prices (plan_id, interval, currency, amount, stripe_price_id)
    SELECT id, 'year', currency, price_yearly, stripe_price_id_yearly FROM subscription_plans WHERE price_yearly IS NOT NULL;

-- Whether plan limits are enforced: written at start-up from the
-- configuration (billing.enabled or billing.enforce_limits). Absent = enforced.
INSERT INTO settings (key, value) VALUES ('billing.enforce_limits', 'true')
    ON CONFLICT (key) DO NOTHING;

DROP TRIGGER bots_plan_limit;
CREATE TRIGGER bots_plan_limit BEFORE INSERT ON bots
WHEN coalesce((SELECT value FROM settings WHERE key = 'billing.enforce_limits'), 'true') = 'true'
 AND (SELECT p.max_bots FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier WHERE o.id = NEW.organization_id) >= 0
 AND (SELECT count(*) FROM bots WHERE organization_id = NEW.organization_id)
     >= (SELECT p.max_bots FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier WHERE o.id = NEW.organization_id)
BEGIN
    SELECT RAISE(ABORT, 'plan_limit_exceeded: bots');
END;

-- usage_tracking gains the metrics the meter records: LLM cost (micro-USD),
-- and two gauges (the value on that day, not a sum): knowledge storage bytes
-- and seats. SQLite cannot alter a CHECK: the table is rebuilt.
DROP VIEW user_usage_summary;
DROP TRIGGER bots_fold_usage;
CREATE TABLE usage_tracking_new (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    metric_type      TEXT NOT NULL CHECK (metric_type IN ('message_received','message_sent','api_call','webhook_call','nlu_parse',
                                                          'llm_tokens','embedding','knowledge_search','voice_minutes','agent_run',
                                                          'llm_cost_micros','knowledge_storage_bytes','seats')),
    day              TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    count            INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    metadata         TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
INSERT INTO usage_tracking_new (id, organization_id, bot_id, metric_type, day, count, metadata, created_at, updated_at)
    SELECT id, organization_id, bot_id, metric_type, day, count, metadata, created_at, updated_at FROM usage_tracking;
DROP TABLE usage_tracking;
ALTER TABLE usage_tracking_new RENAME TO usage_tracking;
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

-- Fixed: the gauges (storage, seats) are the month's highest daily value,
-- not a sum of days; the counters are summed as before.
CREATE VIEW user_usage_summary AS
SELECT organization_id,
       substr(day, 1, 7) AS month,
       metric_type,
       CASE WHEN metric_type IN ('knowledge_storage_bytes', 'seats') THEN max(count) ELSE sum(count) END AS total_count
FROM (SELECT organization_id, day, metric_type, sum(count) AS count
      FROM usage_tracking GROUP BY organization_id, day, metric_type)
GROUP BY organization_id, substr(day, 1, 7), metric_type;

-- Every limit column is present (the old view had only bots and messages).
-- The plan shown stays the subscription's (else plan_tier's); limits are
-- enforced from plan_tier, which the subscription code keeps equal to it.
DROP VIEW user_subscription_details;
CREATE VIEW user_subscription_details AS
SELECT o.id                                                   AS organization_id,
       o.name                                                 AS organization_name,
       o.plan_tier,
       s.id                                                   AS subscription_id,
       p.id                                                   AS plan_id,
       p.name                                                 AS plan_name,
       p.display_name                                         AS plan_display_name,
       p.max_bots,
       p.max_messages_per_month,
       p.max_knowledge_storage_bytes,
       p.max_seats,
       p.max_llm_tokens_per_month,
       p.max_channels,
       p.max_voice_minutes_per_month,
       p.features,
       coalesce(s.status, o.subscription_status)              AS status,
       coalesce(s.billing_cycle, 'monthly')                   AS billing_cycle,
       coalesce(s.current_period_end, o.subscription_current_period_end) AS current_period_end,
       coalesce(s.cancel_at_period_end, 0)                    AS cancel_at_period_end
FROM organizations o
LEFT JOIN user_subscriptions s ON s.organization_id = o.id
JOIN subscription_plans p ON p.id = coalesce(s.plan_id, (SELECT id FROM subscription_plans WHERE name = o.plan_tier));
