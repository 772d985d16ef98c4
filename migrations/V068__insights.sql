-- Insights, issue 20: what the runtime records for flow funnels and
-- knowledge insights. Both are added tables: none of the 95 records the node
-- path of a conversation or the retrieval of a bot's knowledge answers.
--
-- 1. flow_node_visits: one row per flow node a conversation's turn visited
--    (written by the turn writer in the transaction of the turn). Edges,
--    drop-off and time per node are derived from consecutive rows of a
--    conversation (window functions), so nothing else is stored.
-- 2. knowledge_answer_logs: one row per knowledge answer of a bot (a
--    `knowledge` node): the query, whether it was answered, the best
--    retrieval score and the cited chunks.

CREATE TABLE flow_node_visits (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    flow             TEXT NOT NULL CHECK (length(flow) BETWEEN 1 AND 200),
    node             TEXT NOT NULL CHECK (length(node) BETWEEN 1 AND 200),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX flow_node_visits_flow ON flow_node_visits (organization_id, bot_id, flow, created_at);
CREATE INDEX flow_node_visits_fk_bot_id ON flow_node_visits (bot_id);
CREATE INDEX flow_node_visits_fk_conversation_id ON flow_node_visits (conversation_id, id);

CREATE TRIGGER flow_node_visits_organization_id_immutable BEFORE UPDATE OF organization_id ON flow_node_visits
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_node_visits.organization_id');
END;
CREATE TRIGGER flow_node_visits_bot_id_tenant_insert BEFORE INSERT ON flow_node_visits
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_node_visits.bot_id');
END;
CREATE TRIGGER flow_node_visits_conversation_id_tenant_insert BEFORE INSERT ON flow_node_visits
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_node_visits.conversation_id');
END;
CREATE TRIGGER flow_node_visits_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON flow_node_visits
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_node_visits.bot_id');
END;
CREATE TRIGGER flow_node_visits_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON flow_node_visits
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_node_visits.conversation_id');
END;

-- citations: [{"knowledge_base_id","document_id","chunk_id","score"}].
CREATE TABLE knowledge_answer_logs (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id              INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    query               TEXT NOT NULL CHECK (length(query) BETWEEN 1 AND 2000),
    answered            INTEGER NOT NULL CHECK (answered IN (0,1)),
    mode                TEXT NOT NULL CHECK (mode IN ('generative','extractive','extractive_fallback','no_answer','error')),
    top_score           REAL,
    knowledge_base_ids  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(knowledge_base_ids) AND json_type(knowledge_base_ids) = 'array'),
    citations           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(citations) AND json_type(citations) = 'array'),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX knowledge_answer_logs_bot ON knowledge_answer_logs (organization_id, bot_id, created_at);
CREATE INDEX knowledge_answer_logs_fk_bot_id ON knowledge_answer_logs (bot_id);

CREATE TRIGGER knowledge_answer_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON knowledge_answer_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: knowledge_answer_logs.organization_id');
END;
CREATE TRIGGER knowledge_answer_logs_bot_id_tenant_insert BEFORE INSERT ON knowledge_answer_logs
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: knowledge_answer_logs.bot_id');
END;
CREATE TRIGGER knowledge_answer_logs_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON knowledge_answer_logs
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: knowledge_answer_logs.bot_id');
END;
