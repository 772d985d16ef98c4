-- Voice: telephony bots, phone numbers, calls with their turns, and the
-- voice-to-bot creation sessions.

-- Origin: voice_bots (user-owned). Provider keys live in llm_providers /
-- channels; here only the choices.
CREATE TABLE voice_bots (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description        TEXT,
    phone_number_id    INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    voice_provider     TEXT NOT NULL DEFAULT 'twilio' CHECK (voice_provider IN ('twilio','elevenlabs','openai','google','polly','local')),
    voice_id           TEXT,
    voice_settings     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(voice_settings)),
    stt_provider       TEXT NOT NULL DEFAULT 'twilio' CHECK (stt_provider IN ('twilio','whisper','google','deepgram','local')),
    tts_provider       TEXT NOT NULL DEFAULT 'twilio' CHECK (tts_provider IN ('twilio','elevenlabs','openai','google','polly','local')),
    stt_settings       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stt_settings)),
    tts_settings       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tts_settings)),
    ai_model           TEXT,
    system_prompt      TEXT,
    greeting_message   TEXT NOT NULL DEFAULT 'Hello! How can I help you today?',
    fallback_message   TEXT NOT NULL DEFAULT 'I''m sorry, I didn''t understand that. Could you please repeat?',
    max_call_duration  INTEGER NOT NULL DEFAULT 600 CHECK (max_call_duration BETWEEN 10 AND 14400),  -- seconds
    language           TEXT NOT NULL DEFAULT 'en-US',
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','inactive')),
    settings           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    total_calls        INTEGER NOT NULL DEFAULT 0 CHECK (total_calls >= 0),
    total_duration     INTEGER NOT NULL DEFAULT 0 CHECK (total_duration >= 0),                      -- seconds
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX voice_bots_org ON voice_bots (organization_id, status);

-- Origin: phone_numbers (user-owned).
CREATE TABLE phone_numbers (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider            TEXT NOT NULL DEFAULT 'twilio' CHECK (provider IN ('twilio','vonage','telnyx','sip')),
    phone_number        TEXT NOT NULL CHECK (phone_number GLOB '+[0-9]*'),
    friendly_name       TEXT,
    country_code        TEXT,
    capabilities        TEXT NOT NULL DEFAULT '{"voice": true, "sms": false}' CHECK (json_valid(capabilities)),
    provider_sid        TEXT,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','inactive','released')),
    assigned_bot_id     INTEGER REFERENCES voice_bots(id) ON DELETE SET NULL,
    monthly_cost        INTEGER NOT NULL DEFAULT 0 CHECK (monthly_cost >= 0),   -- minor units
    currency            TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (provider, phone_number)
);
CREATE INDEX phone_numbers_org ON phone_numbers (organization_id);

-- Origin: calls (provider_call_sid was not unique, yet upserted on).
CREATE TABLE calls (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    voice_bot_id        INTEGER NOT NULL REFERENCES voice_bots(id) ON DELETE CASCADE,
    phone_number_id     INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    conversation_id     INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    provider_call_sid   TEXT UNIQUE,
    direction           TEXT NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound','outbound')),
    from_number         TEXT,
    to_number           TEXT,
    status              TEXT NOT NULL DEFAULT 'initiated' CHECK (status IN
                        ('initiated','queued','ringing','in-progress','completed','busy','failed','no-answer','canceled')),
    start_time          TEXT,
    end_time            TEXT,
    duration            INTEGER NOT NULL DEFAULT 0 CHECK (duration >= 0),   -- seconds
    recording_file_id   INTEGER REFERENCES files(id) ON DELETE SET NULL,
    recording_duration  INTEGER,
    transcription       TEXT,
    ai_summary          TEXT,
    sentiment           TEXT CHECK (sentiment IS NULL OR sentiment IN ('positive','neutral','negative')),
    tokens_used         INTEGER NOT NULL DEFAULT 0,
    cost_micros         INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    error_message       TEXT,
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX calls_bot ON calls (organization_id, voice_bot_id, created_at);

-- Call counters of voice bots (the origin did this in a webhook handler).
CREATE TRIGGER calls_count_insert AFTER INSERT ON calls
BEGIN
    UPDATE voice_bots SET total_calls = total_calls + 1, total_duration = total_duration + NEW.duration WHERE id = NEW.voice_bot_id;
END;
CREATE TRIGGER calls_count_duration AFTER UPDATE OF duration ON calls
BEGIN
    UPDATE voice_bots SET total_duration = total_duration - OLD.duration + NEW.duration WHERE id = NEW.voice_bot_id;
END;

-- Origin: call_segments (never written by the origin's webhooks).
CREATE TABLE call_segments (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    call_id          INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    segment_number   INTEGER NOT NULL CHECK (segment_number >= 1),
    speaker          TEXT NOT NULL CHECK (speaker IN ('bot','caller','agent')),
    text             TEXT NOT NULL,
    audio_file_id    INTEGER REFERENCES files(id) ON DELETE SET NULL,
    start_time       REAL,
    end_time         REAL,
    duration         REAL,
    confidence       REAL CHECK (confidence IS NULL OR confidence BETWEEN 0 AND 1),
    sentiment        TEXT CHECK (sentiment IS NULL OR sentiment IN ('positive','neutral','negative')),
    intent           TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (call_id, segment_number)
);
CREATE INDEX call_segments_org ON call_segments (organization_id, call_id, segment_number);

-- Origin: voice_bot_creations (voice-to-bot: a spoken description becomes a bot).
CREATE TABLE voice_bot_creations (
    id                        INTEGER PRIMARY KEY,
    organization_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    session_id                TEXT NOT NULL UNIQUE,
    status                    TEXT NOT NULL DEFAULT 'recording' CHECK (status IN ('recording','extracting','extracted','generating','completed','error')),
    audio_file_id             INTEGER REFERENCES files(id) ON DELETE SET NULL,
    audio_duration            INTEGER NOT NULL DEFAULT 0,
    audio_format              TEXT NOT NULL DEFAULT 'webm' CHECK (audio_format IN ('webm','ogg','wav','mp3','m4a','flac')),
    transcription             TEXT,
    transcription_confidence  REAL NOT NULL DEFAULT 0 CHECK (transcription_confidence BETWEEN 0 AND 1),
    language                  TEXT NOT NULL DEFAULT 'en',
    extracted_name            TEXT,
    extracted_description     TEXT,
    extracted_intents         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(extracted_intents)),
    extracted_entities        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(extracted_entities)),
    extracted_responses       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(extracted_responses)),
    extracted_flows           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(extracted_flows)),
    generated_bot_id          INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    generation_config         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(generation_config)),
    ai_analysis               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(ai_analysis)),
    metadata                  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    processing_time_ms        INTEGER NOT NULL DEFAULT 0,
    error_message             TEXT,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    completed_at              TEXT
);
CREATE INDEX voice_bot_creations_org ON voice_bot_creations (organization_id, status, created_at);

-- Origin: voice_bot_sessions (streamed audio chunks of a creation).
CREATE TABLE voice_bot_sessions (
    id                   INTEGER PRIMARY KEY,
    organization_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    creation_id          INTEGER NOT NULL REFERENCES voice_bot_creations(id) ON DELETE CASCADE,
    chunk_number         INTEGER NOT NULL CHECK (chunk_number >= 0),
    audio_chunk          BLOB,
    chunk_transcription  TEXT,
    chunk_confidence     REAL NOT NULL DEFAULT 0 CHECK (chunk_confidence BETWEEN 0 AND 1),
    is_final             INTEGER NOT NULL DEFAULT 0 CHECK (is_final IN (0,1)),
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (creation_id, chunk_number)
);
CREATE INDEX voice_bot_sessions_org ON voice_bot_sessions (organization_id, creation_id, chunk_number);
