-- Billing: subscriptions and payments are per organization now (the origin
-- keyed them by user and never used them); usage is counted per day.

-- Origin: user_subscriptions (one per user, dead). One per organization: the
-- paid subscription behind organizations.plan_tier.
CREATE TABLE user_subscriptions (
    id                      INTEGER PRIMARY KEY,
    organization_id         INTEGER NOT NULL UNIQUE REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                 INTEGER REFERENCES users(id) ON DELETE SET NULL,  -- who subscribed
    plan_id                 INTEGER NOT NULL REFERENCES subscription_plans(id) ON DELETE RESTRICT,
    stripe_customer_id      TEXT,
    stripe_subscription_id  TEXT UNIQUE,
    status                  TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','trialing','past_due','canceled','unpaid','incomplete')),
    billing_cycle           TEXT NOT NULL DEFAULT 'monthly' CHECK (billing_cycle IN ('monthly','yearly')),
    current_period_start    TEXT,
    current_period_end      TEXT,
    cancel_at_period_end    INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0,1)),
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

-- Origin: payment_history (dead). Amounts in minor units.
CREATE TABLE payment_history (
    id                        INTEGER PRIMARY KEY,
    organization_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    subscription_id           INTEGER REFERENCES user_subscriptions(id) ON DELETE SET NULL,
    stripe_payment_intent_id  TEXT,
    stripe_invoice_id         TEXT UNIQUE,
    amount                    INTEGER NOT NULL CHECK (amount >= 0),   -- minor units
    currency                  TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    status                    TEXT NOT NULL CHECK (status IN ('succeeded','pending','failed','refunded')),
    description               TEXT,
    payment_method            TEXT,
    receipt_url               TEXT,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX payment_history_org ON payment_history (organization_id, created_at);

-- Origin: usage_tracking (one row per event). One row per organization, bot,
-- metric and day, incremented by upsert (the origin's track_usage()).
CREATE TABLE usage_tracking (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    metric_type      TEXT NOT NULL CHECK (metric_type IN ('message_received','message_sent','api_call','webhook_call','nlu_parse',
                                                          'llm_tokens','embedding','knowledge_search','voice_minutes','agent_run')),
    day              TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    count            INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    metadata         TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE UNIQUE INDEX usage_tracking_key ON usage_tracking (organization_id, ifnull(bot_id, 0), metric_type, day);
CREATE INDEX usage_tracking_org_day ON usage_tracking (organization_id, metric_type, day);
