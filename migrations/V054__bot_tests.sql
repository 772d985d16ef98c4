-- Issue 17, item 2: drafts always save, the history tells auto-saves from
-- named versions, and conversation tests.

-- How a flow version was saved: the editor's auto-save, or a version someone
-- named (created, restored, saved through the API). Publishes are told by
-- `published_at`. Earlier auto-saves carried the message "auto-save".
ALTER TABLE bot_flows ADD COLUMN save_kind TEXT NOT NULL DEFAULT 'named'
    CHECK (save_kind IN ('autosave', 'named'));
UPDATE bot_flows SET save_kind = 'autosave' WHERE commit_message = 'auto-save';

-- A conversation test of a bot (one of the tables wave 2 may add: none of the
-- 95 holds test cases). `turns` is the script: per turn the end user's
-- message (null: the conversation opens) and what the bot must do (replies
-- with their match mode, intent with a minimum confidence, variables).
CREATE TABLE bot_tests (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    turns            TEXT NOT NULL CHECK (json_valid(turns) AND json_type(turns) = 'array'),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, name)
);
CREATE INDEX bot_tests_bot ON bot_tests (organization_id, bot_id, id);

-- One run of all the tests of a bot (by hand against the draft, or by a
-- publish against what it would put live), with each test's result.
CREATE TABLE bot_test_runs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    trigger          TEXT NOT NULL CHECK (trigger IN ('manual', 'publish')),
    -- The flow a publish run was for.
    flow_name        TEXT,
    total            INTEGER NOT NULL CHECK (total >= 0),
    passed           INTEGER NOT NULL CHECK (passed >= 0 AND passed <= total),
    results          TEXT NOT NULL CHECK (json_valid(results) AND json_type(results) = 'array'),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX bot_test_runs_bot ON bot_test_runs (organization_id, bot_id, id);
CREATE INDEX bot_test_runs_bot_id ON bot_test_runs (bot_id);

CREATE TRIGGER bot_tests_updated_at AFTER UPDATE ON bot_tests WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE bot_tests SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;

CREATE TRIGGER bot_tests_organization_id_immutable BEFORE UPDATE OF organization_id ON bot_tests
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_tests.organization_id');
END;
CREATE TRIGGER bot_test_runs_organization_id_immutable BEFORE UPDATE OF organization_id ON bot_test_runs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_test_runs.organization_id');
END;
CREATE TRIGGER bot_tests_bot_id_tenant_insert BEFORE INSERT ON bot_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_tests.bot_id');
END;
CREATE TRIGGER bot_tests_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON bot_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_tests.bot_id');
END;
CREATE TRIGGER bot_test_runs_bot_id_tenant_insert BEFORE INSERT ON bot_test_runs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_test_runs.bot_id');
END;
CREATE TRIGGER bot_test_runs_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON bot_test_runs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_test_runs.bot_id');
END;
