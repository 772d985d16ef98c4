-- NLU: intents with examples, entities with values, and the parse log.

-- Origin: intents (no uniqueness: now one name per bot). confidence_threshold:
-- below it a prediction is out of scope; NULL = the trained model's calibrated
-- threshold for the intent.
CREATE TABLE intents (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id                INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    display_name          TEXT,
    description           TEXT,
    is_active             INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    confidence_threshold  REAL CHECK (confidence_threshold IS NULL OR confidence_threshold BETWEEN 0 AND 1),
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, name)
);
CREATE INDEX intents_org ON intents (organization_id, bot_id, is_active);

-- Origin: intent_examples (language defaulted to 'az').
CREATE TABLE intent_examples (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    intent_id        INTEGER NOT NULL REFERENCES intents(id) ON DELETE CASCADE,
    text             TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
    language         TEXT,
    -- Entity annotations: [{"entity","value","start","end"}] (character offsets).
    entities         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(entities) AND json_type(entities) = 'array'),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (intent_id, text)
);
CREATE INDEX intent_examples_org ON intent_examples (organization_id, intent_id);

-- Origin: entities. type: list (values + synonyms), regex, or a system entity.
CREATE TABLE entities (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    display_name     TEXT,
    type             TEXT NOT NULL DEFAULT 'list' CHECK (type IN ('list','regex','system')),
    pattern          TEXT,
    system_type      TEXT CHECK (system_type IS NULL OR system_type IN
                     ('number','ordinal','date','time','duration','email','phone','url','money','percentage')),
    fuzzy_matching   INTEGER NOT NULL DEFAULT 1 CHECK (fuzzy_matching IN (0,1)),
    is_system        INTEGER NOT NULL GENERATED ALWAYS AS (type = 'system') VIRTUAL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, name),
    CHECK ((type = 'regex') = (pattern IS NOT NULL)),
    CHECK ((type = 'system') = (system_type IS NOT NULL))
);
CREATE INDEX entities_org ON entities (organization_id, bot_id);

-- Origin: entity_values.
CREATE TABLE entity_values (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    entity_id        INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    value            TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    synonyms         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(synonyms) AND json_type(synonyms) = 'array'),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (entity_id, value)
);
CREATE INDEX entity_values_org ON entity_values (organization_id, entity_id);

-- Origin: nlu_logs. Every parse, written in batches off the request path.
CREATE TABLE nlu_logs (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id                INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    message               TEXT NOT NULL,
    detected_intent_id    INTEGER REFERENCES intents(id) ON DELETE SET NULL,
    detected_intent_name  TEXT,
    confidence            REAL NOT NULL DEFAULT 0 CHECK (confidence BETWEEN 0 AND 1),
    out_of_scope          INTEGER NOT NULL DEFAULT 0 CHECK (out_of_scope IN (0,1)),
    ranking               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(ranking)),
    entities_extracted    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(entities_extracted)),
    model_version_id      INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    response_time_ms      REAL NOT NULL DEFAULT 0 CHECK (response_time_ms >= 0),
    user_session_id       TEXT,
    -- Set when a person assigns the utterance to an intent from the inbox.
    resolved_intent_id    INTEGER REFERENCES intents(id) ON DELETE SET NULL,
    resolved_at           TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX nlu_logs_bot ON nlu_logs (organization_id, bot_id, created_at);
CREATE INDEX nlu_logs_misunderstood ON nlu_logs (organization_id, bot_id, confidence) WHERE resolved_at IS NULL;
