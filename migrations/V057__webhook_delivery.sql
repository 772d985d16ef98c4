-- Outbound organization webhooks (issue 18 item 6): secret rotation with a
-- 24-hour overlap, the per-subscription delivery job, automatic disabling
-- after sustained failure, and redelivery that keeps the message id.

-- The secret replaced by the last rotation, still used to sign (as a second
-- signature) until previous_secret_expires_at.
ALTER TABLE webhooks ADD COLUMN previous_secret_encrypted BLOB;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at TEXT;
-- The `webhook.deliver` job that delivers this subscription's queue in
-- order; a new one is enqueued when that job is not queued or running. A
-- plain pointer (no foreign key): finished jobs may be purged.
ALTER TABLE webhooks ADD COLUMN delivery_job_id INTEGER;
-- When the current run of failed attempts began (NULL after a success).
ALTER TABLE webhooks ADD COLUMN failing_since TEXT;
-- Why and when the server switched the subscription off.
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at TEXT;

-- The Standard Webhooks message id (`webhook-id`), the same for every
-- attempt and every redelivery of one event, so receivers can deduplicate.
ALTER TABLE webhook_logs ADD COLUMN message_id TEXT;
-- The delivery this one repeats (manual redelivery); informational, kept
-- when the original is purged, hence no foreign key.
ALTER TABLE webhook_logs ADD COLUMN redelivery_of INTEGER;
UPDATE webhook_logs SET message_id = 'msg_' || id WHERE message_id IS NULL;

-- The delivery queue of a subscription, oldest first.
CREATE INDEX webhook_logs_queue ON webhook_logs (webhook_id, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_logs_org_status ON webhook_logs (organization_id, status, id);
