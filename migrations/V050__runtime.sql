-- Conversation runtime (issue 7): publication facts on flow versions, one
-- active orchestration per bot, and the conversation list index.

-- The latest publication of a version (the audit log keeps every one).
ALTER TABLE bot_flows ADD COLUMN published_at TEXT;
ALTER TABLE bot_flows ADD COLUMN published_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE bot_flows ADD COLUMN publish_message TEXT;

-- The active orchestration routes the bot's conversations: at most one.
CREATE UNIQUE INDEX flow_orchestrations_one_active ON flow_orchestrations (bot_id) WHERE is_active = 1;

-- Conversation lists per bot and status, by latest activity.
CREATE INDEX conversations_bot_status ON conversations (organization_id, bot_id, status, last_message_at);
