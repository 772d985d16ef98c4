-- Channels, issue 18 items 1–5: the outbound queue of a channel and the
-- health shown in the settings.
--
-- The queue lives in channel_messages (direction 'outbound'): status
-- 'pending' = queued, 'sent' = accepted by the provider, 'failed' with
-- dead = 0 = waiting for a retry at next_retry_at, 'failed' with dead = 1 =
-- dead-lettered after the last try.

-- The `channel.send` job draining this channel's queue; a plain pointer (no
-- foreign key) like webhooks.delivery_job_id: finished jobs may be purged.
ALTER TABLE channels ADD COLUMN send_job_id INTEGER;
ALTER TABLE channels ADD COLUMN last_inbound_at TEXT;
ALTER TABLE channels ADD COLUMN last_error_at TEXT;

ALTER TABLE channel_messages ADD COLUMN next_retry_at TEXT;
ALTER TABLE channel_messages ADD COLUMN dead INTEGER NOT NULL DEFAULT 0 CHECK (dead IN (0, 1));
-- One key per outbound message, sent to providers that deduplicate by it.
ALTER TABLE channel_messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX channel_messages_idempotency ON channel_messages (channel_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The queue of a channel, oldest first.
CREATE INDEX channel_messages_queue ON channel_messages (channel_id, id)
    WHERE direction = 'outbound' AND status IN ('pending', 'failed') AND dead = 0;
