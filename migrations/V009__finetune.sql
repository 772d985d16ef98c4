-- Model training: fine-tune models (local NLU heads, retrieval tuning and
-- optional remote LLM fine-tunes), datasets, jobs, metrics, model versions
-- and A/B tests between versions.

-- Origin: fine_tune_models (base_model CHECKed to hosted LLMs only).
CREATE TABLE fine_tune_models (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                INTEGER REFERENCES users(id) ON DELETE SET NULL,
    bot_id                 INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description            TEXT,
    kind                   TEXT NOT NULL DEFAULT 'llm_finetune' CHECK (kind IN ('nlu_intent','llm_finetune','retrieval')),
    base_model             TEXT NOT NULL,
    provider_id            INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    status                 TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','uploading','validating','training','completed','failed','cancelled')),
    training_file_id       INTEGER REFERENCES files(id) ON DELETE SET NULL,
    model_id               TEXT,
    training_started_at    TEXT,
    training_completed_at  TEXT,
    training_cost_micros   INTEGER NOT NULL DEFAULT 0 CHECK (training_cost_micros >= 0),
    metrics                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
    settings               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX fine_tune_models_org ON fine_tune_models (organization_id, status, created_at);

-- Origin: fine_tune_datasets.
CREATE TABLE fine_tune_datasets (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    fine_tune_model_id  INTEGER NOT NULL REFERENCES fine_tune_models(id) ON DELETE CASCADE,
    file_name           TEXT NOT NULL,
    file_id             INTEGER REFERENCES files(id) ON DELETE SET NULL,
    file_size           INTEGER NOT NULL DEFAULT 0 CHECK (file_size >= 0),
    row_count           INTEGER NOT NULL DEFAULT 0 CHECK (row_count >= 0),
    format              TEXT NOT NULL DEFAULT 'jsonl' CHECK (format IN ('jsonl','csv','json')),
    status              TEXT NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading','processing','validating','ready','error')),
    validation_errors   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(validation_errors)),
    remote_file_id      TEXT,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX fine_tune_datasets_model ON fine_tune_datasets (organization_id, fine_tune_model_id);

-- Origin: fine_tune_jobs.
CREATE TABLE fine_tune_jobs (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    fine_tune_model_id  INTEGER NOT NULL REFERENCES fine_tune_models(id) ON DELETE CASCADE,
    job_id              INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    remote_job_id       TEXT,
    provider            TEXT NOT NULL DEFAULT 'local' CHECK (provider IN ('local','openai','anthropic','custom')),
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','validating_files','queued','running','succeeded','failed','cancelled')),
    trained_tokens      INTEGER NOT NULL DEFAULT 0,
    total_tokens        INTEGER NOT NULL DEFAULT 0,
    epochs              INTEGER NOT NULL DEFAULT 3 CHECK (epochs >= 1),
    batch_size          INTEGER NOT NULL DEFAULT 1 CHECK (batch_size >= 1),
    learning_rate       REAL NOT NULL DEFAULT 0.0001 CHECK (learning_rate > 0),
    validation_file_id  INTEGER REFERENCES files(id) ON DELETE SET NULL,
    result_model_id     TEXT,
    error_message       TEXT,
    hyperparameters     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(hyperparameters)),
    training_metrics    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(training_metrics)),
    started_at          TEXT,
    completed_at        TEXT,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX fine_tune_jobs_model ON fine_tune_jobs (organization_id, fine_tune_model_id, created_at);

-- Origin: fine_tuning_metrics (training curves).
CREATE TABLE fine_tuning_metrics (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    fine_tune_model_id  INTEGER NOT NULL REFERENCES fine_tune_models(id) ON DELETE CASCADE,
    fine_tune_job_id    INTEGER REFERENCES fine_tune_jobs(id) ON DELETE CASCADE,
    step                INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
    epoch               INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    train_loss          REAL,
    valid_loss          REAL,
    train_accuracy      REAL,
    valid_accuracy      REAL,
    learning_rate       REAL,
    tokens_processed    INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (fine_tune_model_id, fine_tune_job_id, step)
);
CREATE INDEX fine_tuning_metrics_org ON fine_tuning_metrics (organization_id, fine_tune_model_id, step);

-- Origin: model_versions (of fine-tune models only). Also the trained NLU
-- models of bots: kind nlu_intent, weights in files, one active per bot.
CREATE TABLE model_versions (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    fine_tune_model_id  INTEGER REFERENCES fine_tune_models(id) ON DELETE CASCADE,
    bot_id              INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('nlu_intent','llm_finetune','retrieval')),
    version_number      INTEGER NOT NULL CHECK (version_number >= 1),
    remote_model_id     TEXT,
    weights_file_id     INTEGER REFERENCES files(id) ON DELETE SET NULL,
    description         TEXT,
    is_active           INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0,1)),
    is_production       INTEGER NOT NULL DEFAULT 0 CHECK (is_production IN (0,1)),
    performance_score   REAL,
    metrics             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
    training_data_hash  TEXT,
    created_by          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (fine_tune_model_id IS NOT NULL OR bot_id IS NOT NULL)
);
CREATE UNIQUE INDEX model_versions_number ON model_versions (ifnull(fine_tune_model_id, 0), ifnull(bot_id, 0), kind, version_number);
CREATE UNIQUE INDEX model_versions_one_active_nlu ON model_versions (bot_id) WHERE kind = 'nlu_intent' AND is_active = 1;
CREATE INDEX model_versions_org ON model_versions (organization_id, bot_id, kind);

-- Origin: ab_tests (between fine-tuned model versions).
CREATE TABLE ab_tests (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id              INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description         TEXT,
    model_a_version_id  INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    model_b_version_id  INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    traffic_split       INTEGER NOT NULL DEFAULT 50 CHECK (traffic_split BETWEEN 0 AND 100),   -- percent to A
    goal_metric         TEXT NOT NULL DEFAULT 'rating' CHECK (goal_metric IN ('rating','preference','accuracy','latency')),
    status              TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','running','completed','cancelled')),
    winner_version_id   INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    total_requests      INTEGER NOT NULL DEFAULT 0 CHECK (total_requests >= 0),
    started_at          TEXT,
    ended_at            TEXT,
    created_by          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (model_a_version_id <> model_b_version_id)
);
CREATE INDEX ab_tests_org ON ab_tests (organization_id, status, created_at);

-- Origin: ab_test_results.
CREATE TABLE ab_test_results (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ab_test_id        INTEGER NOT NULL REFERENCES ab_tests(id) ON DELETE CASCADE,
    version_id        INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    prompt            TEXT NOT NULL,
    response          TEXT,
    response_time_ms  INTEGER CHECK (response_time_ms IS NULL OR response_time_ms >= 0),
    tokens_used       INTEGER NOT NULL DEFAULT 0,
    user_rating       INTEGER CHECK (user_rating IS NULL OR user_rating BETWEEN 1 AND 5),
    is_preferred      INTEGER CHECK (is_preferred IS NULL OR is_preferred IN (0,1)),
    is_correct        INTEGER CHECK (is_correct IS NULL OR is_correct IN (0,1)),
    session_id        TEXT,
    metadata          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX ab_test_results_test ON ab_test_results (organization_id, ab_test_id, version_id, created_at);

-- A test's request counter follows its results.
CREATE TRIGGER ab_test_results_count AFTER INSERT ON ab_test_results
BEGIN
    UPDATE ab_tests SET total_requests = total_requests + 1 WHERE id = NEW.ab_test_id;
END;
