-- Issue 25, item 5: A/B experiments on a bot. The origin's ab_tests compared
-- two model versions and were never used (no rows can exist: no route wrote
-- them), so the two tables are rebuilt: a test now has two or more variants
-- of one of four kinds (flow versions, NLU model versions, agent
-- configurations, knowledge answer settings), sticky units assigned by hash,
-- and per-variant aggregates kept incrementally. Two tables are added
-- (none of the 95 fits): ab_test_variants and ab_test_units.

DROP TABLE ab_test_results;
DROP TABLE ab_tests;

-- Origin: ab_tests. `subject_kind` + `subject_key` name what is tested
-- (the flow's name, `nlu`, the agent's id, `knowledge`): at most one test
-- runs per subject. `traffic_split` of the origin became the variants'
-- shares; `goal_metric` keeps its meaning with the goals of issue 25;
-- `total_requests` counts assigned units; `winner_variant_id` replaces
-- `winner_version_id`.
CREATE TABLE ab_tests (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id              INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description         TEXT,
    subject_kind        TEXT NOT NULL CHECK (subject_kind IN ('flow','nlu_model','agent','knowledge')),
    subject_key         TEXT NOT NULL CHECK (length(subject_key) BETWEEN 1 AND 200),
    unit                TEXT NOT NULL DEFAULT 'conversation' CHECK (unit IN ('conversation','contact')),
    goal_metric         TEXT NOT NULL CHECK (goal_metric IN ('resolution','csat','goal_node','conversion','feedback')),
    goal_config         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(goal_config)),
    baseline_rate       REAL NOT NULL CHECK (baseline_rate > 0 AND baseline_rate < 1),
    minimum_effect      REAL NOT NULL CHECK (minimum_effect > 0 AND minimum_effect < 1),
    alpha               REAL NOT NULL DEFAULT 0.05 CHECK (alpha >= 0.001 AND alpha <= 0.2),
    power               REAL NOT NULL DEFAULT 0.8 CHECK (power >= 0.5 AND power <= 0.99),
    auto_stop           INTEGER NOT NULL DEFAULT 0 CHECK (auto_stop IN (0,1)),
    status              TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','running','stopped','completed','cancelled')),
    winner_variant_id   INTEGER REFERENCES ab_test_variants(id) ON DELETE SET NULL,
    decided_by          TEXT CHECK (decided_by IS NULL OR decided_by IN ('auto','manual')),
    promoted            INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0,1)),
    total_requests      INTEGER NOT NULL DEFAULT 0 CHECK (total_requests >= 0),
    started_at          TEXT,
    ended_at            TEXT,
    created_by          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX ab_tests_org ON ab_tests (organization_id, bot_id, status, created_at);
CREATE INDEX ab_tests_bot ON ab_tests (bot_id);
CREATE INDEX ab_tests_winner ON ab_tests (winner_variant_id);
-- Two running tests on one subject would fight over its traffic.
CREATE UNIQUE INDEX ab_tests_one_running ON ab_tests (bot_id, subject_kind, subject_key) WHERE status = 'running';

-- A variant: its traffic share (percent; a test's shares add to 100) and
-- what it serves: a flow version, an NLU model version, or settings (an
-- agent configuration, knowledge answer settings). A deleted flow or model
-- version leaves NULL: the test can no longer start.
CREATE TABLE ab_test_variants (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ab_test_id          INTEGER NOT NULL REFERENCES ab_tests(id) ON DELETE CASCADE,
    position            INTEGER NOT NULL CHECK (position >= 0),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    share               INTEGER NOT NULL CHECK (share BETWEEN 1 AND 99),
    flow_version_id     INTEGER REFERENCES bot_flows(id) ON DELETE SET NULL,
    model_version_id    INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    settings            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (ab_test_id, position),
    UNIQUE (ab_test_id, name)
);
CREATE INDEX ab_test_variants_org ON ab_test_variants (organization_id, ab_test_id);
CREATE INDEX ab_test_variants_flow ON ab_test_variants (flow_version_id);
CREATE INDEX ab_test_variants_model ON ab_test_variants (model_version_id);

-- A unit (a conversation, or a contact: channel + end-user id) assigned to a
-- variant, with what it did towards the goals. `unit_key` is `c:<id>` or
-- `u:<channel>:<external user id>`.
CREATE TABLE ab_test_units (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ab_test_id          INTEGER NOT NULL REFERENCES ab_tests(id) ON DELETE CASCADE,
    variant_id          INTEGER NOT NULL REFERENCES ab_test_variants(id) ON DELETE CASCADE,
    unit_key            TEXT NOT NULL,
    conversation_id     INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    resolved            INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0,1)),
    handed_off          INTEGER NOT NULL DEFAULT 0 CHECK (handed_off IN (0,1)),
    csat                INTEGER CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),
    goal_reached        INTEGER NOT NULL DEFAULT 0 CHECK (goal_reached IN (0,1)),
    converted           INTEGER NOT NULL DEFAULT 0 CHECK (converted IN (0,1)),
    feedback_up         INTEGER NOT NULL DEFAULT 0 CHECK (feedback_up >= 0),
    feedback_down       INTEGER NOT NULL DEFAULT 0 CHECK (feedback_down >= 0),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (ab_test_id, unit_key)
);
CREATE INDEX ab_test_units_key ON ab_test_units (organization_id, unit_key);
CREATE INDEX ab_test_units_variant ON ab_test_units (variant_id);
CREATE INDEX ab_test_units_conversation ON ab_test_units (conversation_id);

-- Origin: ab_test_results (one row per request). Now the per-variant
-- aggregate of the test's goal, kept up to date with every unit change:
-- units assigned, trials (units that count towards the goal: all units, or
-- those that rated), successes, and the sum of values (CSAT scores).
CREATE TABLE ab_test_results (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ab_test_id          INTEGER NOT NULL REFERENCES ab_tests(id) ON DELETE CASCADE,
    variant_id          INTEGER NOT NULL REFERENCES ab_test_variants(id) ON DELETE CASCADE,
    units               INTEGER NOT NULL DEFAULT 0 CHECK (units >= 0),
    trials              INTEGER NOT NULL DEFAULT 0 CHECK (trials >= 0),
    successes           INTEGER NOT NULL DEFAULT 0 CHECK (successes >= 0 AND successes <= trials),
    value_sum           REAL NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (ab_test_id, variant_id)
);
CREATE INDEX ab_test_results_org ON ab_test_results (organization_id, ab_test_id);
CREATE INDEX ab_test_results_variant ON ab_test_results (variant_id);

-- A test's unit counter follows its assignments.
CREATE TRIGGER ab_test_units_count AFTER INSERT ON ab_test_units
BEGIN
    UPDATE ab_tests SET total_requests = total_requests + 1 WHERE id = NEW.ab_test_id;
END;

CREATE TRIGGER ab_tests_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_tests
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.organization_id');
END;
CREATE TRIGGER ab_test_variants_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_test_variants
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.organization_id');
END;
CREATE TRIGGER ab_test_units_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_test_units
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.organization_id');
END;
CREATE TRIGGER ab_test_results_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_test_results
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.organization_id');
END;
CREATE TRIGGER ab_tests_updated_at AFTER UPDATE ON ab_tests WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ab_tests SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ab_test_variants_updated_at AFTER UPDATE ON ab_test_variants WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ab_test_variants SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ab_test_units_updated_at AFTER UPDATE ON ab_test_units WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ab_test_units SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ab_test_results_updated_at AFTER UPDATE ON ab_test_results WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ab_test_results SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ab_tests_bot_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.bot_id');
END;
CREATE TRIGGER ab_tests_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON ab_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.bot_id');
END;
CREATE TRIGGER ab_tests_winner_variant_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.winner_variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.winner_variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.winner_variant_id');
END;
CREATE TRIGGER ab_tests_winner_variant_id_tenant_update BEFORE UPDATE OF winner_variant_id, organization_id ON ab_tests
WHEN NEW.winner_variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.winner_variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.winner_variant_id');
END;
CREATE TRIGGER ab_test_variants_ab_test_id_tenant_insert BEFORE INSERT ON ab_test_variants
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.ab_test_id');
END;
CREATE TRIGGER ab_test_variants_ab_test_id_tenant_update BEFORE UPDATE OF ab_test_id, organization_id ON ab_test_variants
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.ab_test_id');
END;
CREATE TRIGGER ab_test_variants_flow_version_id_tenant_insert BEFORE INSERT ON ab_test_variants
WHEN NEW.flow_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bot_flows WHERE id = NEW.flow_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.flow_version_id');
END;
CREATE TRIGGER ab_test_variants_flow_version_id_tenant_update BEFORE UPDATE OF flow_version_id, organization_id ON ab_test_variants
WHEN NEW.flow_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bot_flows WHERE id = NEW.flow_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.flow_version_id');
END;
CREATE TRIGGER ab_test_variants_model_version_id_tenant_insert BEFORE INSERT ON ab_test_variants
WHEN NEW.model_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.model_version_id');
END;
CREATE TRIGGER ab_test_variants_model_version_id_tenant_update BEFORE UPDATE OF model_version_id, organization_id ON ab_test_variants
WHEN NEW.model_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_variants.model_version_id');
END;
CREATE TRIGGER ab_test_units_ab_test_id_tenant_insert BEFORE INSERT ON ab_test_units
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.ab_test_id');
END;
CREATE TRIGGER ab_test_units_ab_test_id_tenant_update BEFORE UPDATE OF ab_test_id, organization_id ON ab_test_units
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.ab_test_id');
END;
CREATE TRIGGER ab_test_units_variant_id_tenant_insert BEFORE INSERT ON ab_test_units
WHEN NEW.variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.variant_id');
END;
CREATE TRIGGER ab_test_units_variant_id_tenant_update BEFORE UPDATE OF variant_id, organization_id ON ab_test_units
WHEN NEW.variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.variant_id');
END;
CREATE TRIGGER ab_test_units_conversation_id_tenant_insert BEFORE INSERT ON ab_test_units
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.conversation_id');
END;
CREATE TRIGGER ab_test_units_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON ab_test_units
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_units.conversation_id');
END;
CREATE TRIGGER ab_test_results_ab_test_id_tenant_insert BEFORE INSERT ON ab_test_results
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.ab_test_id');
END;
CREATE TRIGGER ab_test_results_ab_test_id_tenant_update BEFORE UPDATE OF ab_test_id, organization_id ON ab_test_results
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.ab_test_id');
END;
CREATE TRIGGER ab_test_results_variant_id_tenant_insert BEFORE INSERT ON ab_test_results
WHEN NEW.variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.variant_id');
END;
CREATE TRIGGER ab_test_results_variant_id_tenant_update BEFORE UPDATE OF variant_id, organization_id ON ab_test_results
WHEN NEW.variant_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_test_variants WHERE id = NEW.variant_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.variant_id');
END;
