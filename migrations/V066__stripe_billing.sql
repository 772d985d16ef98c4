-- Stripe-compatible billing (issue 21): the log of received webhook events,
-- the guards that make applying them idempotent and order-independent, the
-- dunning state of a subscription and the invoice details of a payment.

-- Added table (none of the origin's 95 fits): every Stripe event received
-- with a valid signature, once per event id (Stripe retries and replays),
-- with the raw body kept for audit and what applying it did. A platform
-- table where an event may name no organization of ours (`unmatched`), so
-- the column is nullable; an organization's events go with it.
CREATE TABLE billing_events (
    id               INTEGER PRIMARY KEY,
    stripe_event_id  TEXT NOT NULL UNIQUE CHECK (length(stripe_event_id) BETWEEN 1 AND 255),
    event_type       TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    event_created    INTEGER NOT NULL,                     -- Stripe's `created`, Unix seconds
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    payload          TEXT NOT NULL CHECK (json_valid(payload)),   -- the body exactly as received
    outcome          TEXT NOT NULL CHECK (outcome IN ('applied','stale','ignored','unmatched')),
    detail           TEXT,
    received_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX billing_events_org ON billing_events (organization_id, received_at);
CREATE INDEX billing_events_type ON billing_events (event_type, received_at);
CREATE TRIGGER billing_events_organization_id_immutable BEFORE UPDATE OF organization_id ON billing_events
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: billing_events.organization_id');
END;

-- Out-of-order safety: `last_event_at` is the `created` of the newest Stripe
-- event (or API answer) applied to the row; older ones change nothing.
-- Dunning: `past_due_since` starts the grace period, `restricted_at` marks
-- the restriction (new conversations answered with the notice).
ALTER TABLE user_subscriptions ADD COLUMN last_event_at INTEGER;
ALTER TABLE user_subscriptions ADD COLUMN stripe_price_id TEXT;
ALTER TABLE user_subscriptions ADD COLUMN trial_end TEXT;
ALTER TABLE user_subscriptions ADD COLUMN canceled_at TEXT;
ALTER TABLE user_subscriptions ADD COLUMN past_due_since TEXT;
ALTER TABLE user_subscriptions ADD COLUMN restricted_at TEXT;
CREATE INDEX user_subscriptions_dunning ON user_subscriptions (status, past_due_since);

-- Invoice details and refunds of a payment.
ALTER TABLE payment_history ADD COLUMN invoice_number TEXT;
ALTER TABLE payment_history ADD COLUMN period_start TEXT;
ALTER TABLE payment_history ADD COLUMN period_end TEXT;
ALTER TABLE payment_history ADD COLUMN amount_refunded INTEGER NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);
ALTER TABLE payment_history ADD COLUMN stripe_charge_id TEXT;
ALTER TABLE payment_history ADD COLUMN last_event_at INTEGER;
