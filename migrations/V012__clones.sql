-- Work clones: style "twins" built from a person's writing samples.

-- Origin: work_clones.
CREATE TABLE work_clones (
    id                      INTEGER PRIMARY KEY,
    organization_id         INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                 INTEGER REFERENCES users(id) ON DELETE SET NULL,
    name                    TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description             TEXT,
    avatar_file_id          INTEGER REFERENCES files(id) ON DELETE SET NULL,
    status                  TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','training','ready','failed')),
    provider_id             INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    ai_model                TEXT,
    temperature             REAL NOT NULL DEFAULT 0.7 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens              INTEGER NOT NULL DEFAULT 2048 CHECK (max_tokens BETWEEN 1 AND 100000),
    base_system_prompt      TEXT,
    personality_prompt      TEXT,
    writing_style_prompt    TEXT,
    style_profile           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(style_profile)),
    tone_settings           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tone_settings)),
    vocabulary_preferences  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(vocabulary_preferences)),
    response_patterns       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(response_patterns)),
    settings                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    metadata                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    training_samples_count  INTEGER NOT NULL DEFAULT 0 CHECK (training_samples_count >= 0),
    training_score          REAL NOT NULL DEFAULT 0 CHECK (training_score BETWEEN 0 AND 100),
    last_trained_at         TEXT,
    is_active               INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX work_clones_org ON work_clones (organization_id, status);

-- Origin: clone_training_data.
CREATE TABLE clone_training_data (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_id            INTEGER NOT NULL REFERENCES work_clones(id) ON DELETE CASCADE,
    data_type           TEXT NOT NULL CHECK (data_type IN ('email','document','chat','social','custom')),
    source              TEXT,
    original_content    TEXT NOT NULL CHECK (length(original_content) BETWEEN 10 AND 50000),
    processed_content   TEXT,
    extracted_features  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(extracted_features)),
    style_markers       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(style_markers)),
    tone_analysis       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tone_analysis)),
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    quality_score       REAL NOT NULL DEFAULT 0 CHECK (quality_score BETWEEN 0 AND 100),
    is_approved         INTEGER NOT NULL DEFAULT 1 CHECK (is_approved IN (0,1)),
    is_processed        INTEGER NOT NULL DEFAULT 0 CHECK (is_processed IN (0,1)),
    processed_at        TEXT,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX clone_training_data_clone ON clone_training_data (organization_id, clone_id);

-- A clone's sample count follows its training data (app code in the origin).
CREATE TRIGGER clone_training_data_count_insert AFTER INSERT ON clone_training_data
BEGIN
    UPDATE work_clones SET training_samples_count = training_samples_count + 1 WHERE id = NEW.clone_id;
END;
CREATE TRIGGER clone_training_data_count_delete AFTER DELETE ON clone_training_data
BEGIN
    UPDATE work_clones SET training_samples_count = training_samples_count - 1 WHERE id = OLD.clone_id;
END;

-- Origin: clone_responses (generation history and feedback).
CREATE TABLE clone_responses (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_id            INTEGER NOT NULL REFERENCES work_clones(id) ON DELETE CASCADE,
    user_id             INTEGER REFERENCES users(id) ON DELETE SET NULL,
    input_prompt        TEXT NOT NULL,
    generated_response  TEXT NOT NULL,
    edited_response     TEXT,
    response_type       TEXT NOT NULL DEFAULT 'general' CHECK (response_type IN ('email','message','document','general')),
    context             TEXT,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    latency_ms          INTEGER NOT NULL DEFAULT 0,
    similarity_score    REAL,
    rating              INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    feedback            TEXT,
    was_edited          INTEGER NOT NULL DEFAULT 0 CHECK (was_edited IN (0,1)),
    was_used            INTEGER NOT NULL DEFAULT 0 CHECK (was_used IN (0,1)),
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX clone_responses_clone ON clone_responses (organization_id, clone_id, created_at);

-- Origin: clone_sessions (dead). A working session with a clone.
CREATE TABLE clone_sessions (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_id         INTEGER NOT NULL REFERENCES work_clones(id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    session_type     TEXT NOT NULL DEFAULT 'chat' CHECK (session_type IN ('chat','compose','review')),
    started_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    ended_at         TEXT,
    messages_count   INTEGER NOT NULL DEFAULT 0,
    total_tokens     INTEGER NOT NULL DEFAULT 0,
    context_data     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context_data)),
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX clone_sessions_clone ON clone_sessions (organization_id, clone_id);
