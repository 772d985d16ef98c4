-- Revenue recovery: campaigns, customer events, scheduled messages, rollups,
-- and customer health scores with their history. The origin used UUID keys
-- and org_id; here INTEGER keys and organization_id like every table, and
-- money in minor units with a currency.

-- Origin: recovery_campaigns. Targeting rules, message templates, channels,
-- incentive and send window of one campaign; totals are rolled up by the job.
CREATE TABLE recovery_campaigns (
    id                         INTEGER PRIMARY KEY,
    organization_id            INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id                     INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    name                       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description                TEXT,
    campaign_type              TEXT NOT NULL CHECK (campaign_type IN ('cart_abandonment','churn_prevention','winback','upsell','renewal_reminder',
                                                                      'payment_failed','inactive_user','trial_expiring','custom')),
    status                     TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','active','paused','completed','archived')),
    target_rules               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(target_rules)),
    message_templates          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(message_templates) AND json_type(message_templates) = 'array'),
    ai_enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (ai_enabled IN (0,1)),
    ai_personalization         INTEGER NOT NULL DEFAULT 1 CHECK (ai_personalization IN (0,1)),
    ai_optimal_timing          INTEGER NOT NULL DEFAULT 1 CHECK (ai_optimal_timing IN (0,1)),
    incentive_enabled          INTEGER NOT NULL DEFAULT 0 CHECK (incentive_enabled IN (0,1)),
    incentive_type             TEXT CHECK (incentive_type IS NULL OR incentive_type IN
                               ('percentage_discount','fixed_discount','free_shipping','bonus_points','free_trial_extension','custom')),
    incentive_value            INTEGER,                      -- percent, or minor units for fixed discounts
    incentive_max_uses         INTEGER,
    incentive_expiry_hours     INTEGER NOT NULL DEFAULT 48 CHECK (incentive_expiry_hours > 0),
    channels                   TEXT NOT NULL DEFAULT '["email"]' CHECK (json_valid(channels) AND json_type(channels) = 'array'),
    start_date                 TEXT,
    end_date                   TEXT,
    send_window_start          TEXT CHECK (send_window_start IS NULL OR send_window_start GLOB '[0-2][0-9]:[0-5][0-9]'),
    send_window_end            TEXT CHECK (send_window_end IS NULL OR send_window_end GLOB '[0-2][0-9]:[0-5][0-9]'),
    timezone                   TEXT NOT NULL DEFAULT 'UTC',
    max_messages_per_customer  INTEGER NOT NULL DEFAULT 3 CHECK (max_messages_per_customer >= 1),
    cooldown_hours             INTEGER NOT NULL DEFAULT 24 CHECK (cooldown_hours >= 0),
    daily_send_limit           INTEGER,
    total_targeted             INTEGER NOT NULL DEFAULT 0,
    total_sent                 INTEGER NOT NULL DEFAULT 0,
    total_recovered            INTEGER NOT NULL DEFAULT 0,
    total_revenue_recovered    INTEGER NOT NULL DEFAULT 0,   -- minor units
    currency                   TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    created_by                 INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at                 TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                 TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, name)
);
CREATE INDEX recovery_campaigns_org ON recovery_campaigns (organization_id, status, campaign_type);

-- Origin: recovery_events. A customer event (abandoned cart, failed payment,
-- churn risk…) reported by the organization's systems; source_event_id makes
-- reporting idempotent (the origin could record an event twice).
CREATE TABLE recovery_events (
    id                        INTEGER PRIMARY KEY,
    organization_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    campaign_id               INTEGER REFERENCES recovery_campaigns(id) ON DELETE SET NULL,
    customer_id               TEXT NOT NULL,
    customer_email            TEXT,
    customer_phone            TEXT,
    customer_name             TEXT,
    event_type                TEXT NOT NULL CHECK (event_type IN ('cart_abandoned','checkout_abandoned','churn_risk_detected','subscription_cancelled',
                                                                  'payment_failed','trial_expiring','inactive_detected','downgrade_detected',
                                                                  'negative_feedback','support_escalation','custom')),
    event_data                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(event_data)),
    potential_value           INTEGER,      -- minor units
    currency                  TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    ai_recovery_probability   REAL CHECK (ai_recovery_probability IS NULL OR ai_recovery_probability BETWEEN 0 AND 1),
    ai_optimal_channel        TEXT CHECK (ai_optimal_channel IS NULL OR ai_optimal_channel IN ('email','sms','whatsapp','telegram','push','in_app','messenger')),
    ai_optimal_send_time      TEXT,
    ai_recommended_incentive  TEXT CHECK (ai_recommended_incentive IS NULL OR json_valid(ai_recommended_incentive)),
    ai_personalized_message   TEXT,
    status                    TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','processing','message_sent','recovered','partially_recovered',
                                                                               'failed','expired','opted_out','ignored')),
    recovery_attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at           TEXT,
    recovered_at              TEXT,
    recovered_value           INTEGER,
    recovery_method           TEXT,
    source_platform           TEXT,
    source_event_id           TEXT,
    event_occurred_at         TEXT NOT NULL,
    expires_at                TEXT,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX recovery_events_org ON recovery_events (organization_id, status, event_occurred_at);
CREATE INDEX recovery_events_customer ON recovery_events (organization_id, customer_id);
CREATE UNIQUE INDEX recovery_events_source ON recovery_events (organization_id, source_platform, source_event_id) WHERE source_event_id IS NOT NULL;

-- Origin: recovery_messages. Messages scheduled for an event and really sent
-- (the origin never sent them); the partial index serves the scheduler.
CREATE TABLE recovery_messages (
    id                        INTEGER PRIMARY KEY,
    organization_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    campaign_id               INTEGER NOT NULL REFERENCES recovery_campaigns(id) ON DELETE CASCADE,
    event_id                  INTEGER NOT NULL REFERENCES recovery_events(id) ON DELETE CASCADE,
    customer_id               TEXT NOT NULL,
    recipient_email           TEXT,
    recipient_phone           TEXT,
    channel                   TEXT NOT NULL CHECK (channel IN ('email','sms','whatsapp','telegram','push','in_app','messenger')),
    subject                   TEXT,
    message_body              TEXT NOT NULL,
    message_html              TEXT,
    template_id               TEXT,
    template_variables        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(template_variables)),
    ai_generated              INTEGER NOT NULL DEFAULT 0 CHECK (ai_generated IN (0,1)),
    ai_personalization_score  REAL CHECK (ai_personalization_score IS NULL OR ai_personalization_score BETWEEN 0 AND 1),
    original_template         TEXT,
    incentive_code            TEXT,
    incentive_type            TEXT CHECK (incentive_type IS NULL OR incentive_type IN ('percentage_discount','fixed_discount','free_shipping','bonus_points','free_trial_extension','custom')),
    incentive_value           INTEGER,                      -- percent, or minor units for fixed discounts
    incentive_expires_at      TEXT,
    status                    TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','queued','sent','delivered','opened','clicked','converted',
                                                                               'bounced','failed','unsubscribed','spam_reported')),
    external_message_id       TEXT,
    sent_at                   TEXT,
    delivered_at              TEXT,
    opened_at                 TEXT,
    clicked_at                TEXT,
    converted_at              TEXT,
    conversion_value          INTEGER,                      -- minor units
    currency                  TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    conversion_order_id       TEXT,
    error_code                TEXT,
    error_message             TEXT,
    retry_count               INTEGER NOT NULL DEFAULT 0,
    next_retry_at             TEXT,
    sequence_number           INTEGER NOT NULL DEFAULT 1 CHECK (sequence_number >= 1),
    scheduled_at              TEXT,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX recovery_messages_org ON recovery_messages (organization_id, campaign_id, created_at);
CREATE INDEX recovery_messages_due ON recovery_messages (scheduled_at) WHERE status = 'pending';
CREATE INDEX recovery_messages_event ON recovery_messages (event_id);

-- Origin: recovery_analytics. Per-period rollups written by a job (the origin
-- had no writer); campaign_id NULL = all campaigns of the organization.
CREATE TABLE recovery_analytics (
    id                        INTEGER PRIMARY KEY,
    organization_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    campaign_id               INTEGER REFERENCES recovery_campaigns(id) ON DELETE CASCADE,
    period_type               TEXT NOT NULL CHECK (period_type IN ('hourly','daily','weekly','monthly')),
    period_start              TEXT NOT NULL,
    period_end                TEXT NOT NULL,
    events_detected           INTEGER NOT NULL DEFAULT 0,
    events_by_type            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(events_by_type)),
    messages_sent             INTEGER NOT NULL DEFAULT 0,
    messages_delivered        INTEGER NOT NULL DEFAULT 0,
    messages_opened           INTEGER NOT NULL DEFAULT 0,
    messages_clicked          INTEGER NOT NULL DEFAULT 0,
    messages_by_channel       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(messages_by_channel)),
    recoveries_total          INTEGER NOT NULL DEFAULT 0,
    recoveries_full           INTEGER NOT NULL DEFAULT 0,
    recoveries_partial        INTEGER NOT NULL DEFAULT 0,
    revenue_at_risk           INTEGER NOT NULL DEFAULT 0,   -- minor units (this and the other amounts below)
    revenue_recovered         INTEGER NOT NULL DEFAULT 0,
    revenue_by_channel        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(revenue_by_channel)),
    average_order_value       INTEGER,
    delivery_rate             REAL CHECK (delivery_rate IS NULL OR delivery_rate BETWEEN 0 AND 100),      -- percent
    open_rate                 REAL CHECK (open_rate IS NULL OR open_rate BETWEEN 0 AND 100),
    click_rate                REAL CHECK (click_rate IS NULL OR click_rate BETWEEN 0 AND 100),
    conversion_rate           REAL CHECK (conversion_rate IS NULL OR conversion_rate BETWEEN 0 AND 100),
    recovery_rate             REAL CHECK (recovery_rate IS NULL OR recovery_rate BETWEEN 0 AND 100),
    ai_prediction_accuracy    REAL CHECK (ai_prediction_accuracy IS NULL OR ai_prediction_accuracy BETWEEN 0 AND 1),
    ai_personalization_lift   REAL,
    optimal_timing_adherence  REAL,
    incentives_offered        INTEGER NOT NULL DEFAULT 0,
    incentives_redeemed       INTEGER NOT NULL DEFAULT 0,
    incentive_cost            INTEGER NOT NULL DEFAULT 0,
    campaign_cost             INTEGER NOT NULL DEFAULT 0,
    roi_percentage            REAL,
    cost_per_recovery         INTEGER,
    currency                  TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (period_start < period_end)
);
CREATE UNIQUE INDEX recovery_analytics_period ON recovery_analytics (organization_id, ifnull(campaign_id, 0), period_type, period_start);

-- Origin: customer_health_scores. The current score of each customer of the
-- organization; grade and risk level are CHECKed, history kept by trigger.
CREATE TABLE customer_health_scores (
    id                          INTEGER PRIMARY KEY,
    organization_id             INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id                 TEXT NOT NULL,
    customer_email              TEXT,
    customer_name               TEXT,
    health_score                INTEGER NOT NULL CHECK (health_score BETWEEN 0 AND 100),
    health_grade                TEXT NOT NULL CHECK (health_grade IN ('A','B','C','D','F')),
    churn_probability           REAL NOT NULL CHECK (churn_probability BETWEEN 0 AND 1),
    churn_risk_level            TEXT NOT NULL CHECK (churn_risk_level IN ('very_low','low','medium','high','critical')),
    predicted_churn_date        TEXT,
    days_until_churn            INTEGER,
    engagement_score            INTEGER CHECK (engagement_score IS NULL OR engagement_score BETWEEN 0 AND 100),
    last_activity_at            TEXT,
    days_since_activity         INTEGER,
    session_count_30d           INTEGER NOT NULL DEFAULT 0,
    action_count_30d            INTEGER NOT NULL DEFAULT 0,
    lifetime_value              INTEGER,                    -- minor units (also the next two)
    monthly_recurring_revenue   INTEGER,
    average_order_value         INTEGER,
    currency                    TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    total_orders                INTEGER NOT NULL DEFAULT 0,
    last_purchase_at            TEXT,
    days_since_purchase         INTEGER,
    subscription_status         TEXT,
    subscription_plan           TEXT,
    subscription_start_date     TEXT,
    subscription_renewal_date   TEXT,
    payment_failures_count      INTEGER NOT NULL DEFAULT 0,
    nps_score                   INTEGER CHECK (nps_score IS NULL OR nps_score BETWEEN -100 AND 100),
    satisfaction_score          REAL CHECK (satisfaction_score IS NULL OR satisfaction_score BETWEEN 0 AND 5),
    support_tickets_open        INTEGER NOT NULL DEFAULT 0,
    support_tickets_30d         INTEGER NOT NULL DEFAULT 0,
    negative_feedback_count     INTEGER NOT NULL DEFAULT 0,
    risk_factors                TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(risk_factors)),
    opportunities               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(opportunities)),
    ai_recommended_actions      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(ai_recommended_actions)),
    score_breakdown             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(score_breakdown)),
    model_version               TEXT,
    confidence_score            REAL CHECK (confidence_score IS NULL OR confidence_score BETWEEN 0 AND 1),
    score_trend                 TEXT CHECK (score_trend IS NULL OR score_trend IN ('improving','stable','declining','critical_decline')),
    previous_score              INTEGER,
    score_change                INTEGER,
    calculated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    next_calculation_at         TEXT,
    created_at                  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, customer_id)
);
CREATE INDEX customer_health_scores_risk ON customer_health_scores (organization_id, churn_risk_level, health_score);

-- Origin: customer_health_score_history. Written by the triggers below (the
-- origin relied on application code).
CREATE TABLE customer_health_score_history (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_health_id  INTEGER NOT NULL REFERENCES customer_health_scores(id) ON DELETE CASCADE,
    customer_id         TEXT NOT NULL,
    health_score        INTEGER NOT NULL CHECK (health_score BETWEEN 0 AND 100),
    health_grade        TEXT CHECK (health_grade IS NULL OR health_grade IN ('A','B','C','D','F')),
    churn_probability   REAL CHECK (churn_probability IS NULL OR churn_probability BETWEEN 0 AND 1),
    churn_risk_level    TEXT CHECK (churn_risk_level IS NULL OR churn_risk_level IN ('very_low','low','medium','high','critical')),
    engagement_score    INTEGER,
    score_breakdown     TEXT CHECK (score_breakdown IS NULL OR json_valid(score_breakdown)),
    risk_factors        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(risk_factors)),
    recorded_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX customer_health_score_history_customer ON customer_health_score_history (organization_id, customer_health_id, recorded_at);

-- A history row on every new score and every score change (the origin left
-- this to application code).
CREATE TRIGGER customer_health_scores_history_insert AFTER INSERT ON customer_health_scores
BEGIN
    INSERT INTO customer_health_score_history (organization_id, customer_health_id, customer_id, health_score, health_grade,
        churn_probability, churn_risk_level, engagement_score, score_breakdown, risk_factors)
    VALUES (NEW.organization_id, NEW.id, NEW.customer_id, NEW.health_score, NEW.health_grade,
        NEW.churn_probability, NEW.churn_risk_level, NEW.engagement_score, NEW.score_breakdown, NEW.risk_factors);
END;
CREATE TRIGGER customer_health_scores_history_update AFTER UPDATE OF health_score ON customer_health_scores
WHEN NEW.health_score IS NOT OLD.health_score
BEGIN
    INSERT INTO customer_health_score_history (organization_id, customer_health_id, customer_id, health_score, health_grade,
        churn_probability, churn_risk_level, engagement_score, score_breakdown, risk_factors)
    VALUES (NEW.organization_id, NEW.id, NEW.customer_id, NEW.health_score, NEW.health_grade,
        NEW.churn_probability, NEW.churn_risk_level, NEW.engagement_score, NEW.score_breakdown, NEW.risk_factors);
END;
