-- Work clones (issue 29): training pairs with their context and a content
-- hash for de-duplication, sharing with members, and trained versions with
-- the embedded contexts of the pairs they were trained on.

-- A training row is one (context, reply) pair: `processed_content` is the
-- cleaned reply, `context` what it answered.
ALTER TABLE clone_training_data ADD COLUMN context TEXT NOT NULL DEFAULT '';
ALTER TABLE clone_training_data ADD COLUMN content_hash TEXT;
CREATE UNIQUE INDEX clone_training_data_hash ON clone_training_data (organization_id, clone_id, content_hash)
    WHERE content_hash IS NOT NULL;

-- The version a clone answers with (NULL until trained).
ALTER TABLE work_clones ADD COLUMN active_version INTEGER CHECK (active_version IS NULL OR active_version >= 1);

-- Members a clone is shared with (besides its owner and the organization's admins).
CREATE TABLE clone_shares (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_id         INTEGER NOT NULL REFERENCES work_clones(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- `use`: draft, read the profile and training data, give feedback; `manage`: also import,
    -- train, edit, share and delete, as the owner.
    access           TEXT NOT NULL DEFAULT 'use' CHECK (access IN ('use','manage')),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (clone_id, user_id)
);
CREATE INDEX clone_shares_org ON clone_shares (organization_id, user_id);
CREATE INDEX clone_shares_user ON clone_shares (user_id);

-- One training run: the frozen style profile and which pairs it indexed.
CREATE TABLE clone_versions (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_id         INTEGER NOT NULL REFERENCES work_clones(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL CHECK (version >= 1),
    style_profile    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(style_profile)),
    pairs_count      INTEGER NOT NULL DEFAULT 0 CHECK (pairs_count >= 0),
    embedding_model  TEXT NOT NULL,
    training_ms      INTEGER NOT NULL DEFAULT 0,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (clone_id, version)
);
CREATE INDEX clone_versions_org ON clone_versions (organization_id, clone_id);

-- The embedded context of every pair a version was trained on (f32 little-endian, normalized).
CREATE TABLE clone_pair_vectors (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    clone_version_id  INTEGER NOT NULL REFERENCES clone_versions(id) ON DELETE CASCADE,
    training_data_id  INTEGER NOT NULL REFERENCES clone_training_data(id) ON DELETE CASCADE,
    embedding         BLOB NOT NULL,
    UNIQUE (clone_version_id, training_data_id)
);
CREATE INDEX clone_pair_vectors_org ON clone_pair_vectors (organization_id);
CREATE INDEX clone_pair_vectors_pair ON clone_pair_vectors (training_data_id);

-- Tenant consistency of the new references.
CREATE TRIGGER clone_shares_clone_id_tenant_insert BEFORE INSERT ON clone_shares
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_shares.clone_id');
END;
CREATE TRIGGER clone_shares_clone_id_tenant_update BEFORE UPDATE OF clone_id, organization_id ON clone_shares
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_shares.clone_id');
END;
CREATE TRIGGER clone_versions_clone_id_tenant_insert BEFORE INSERT ON clone_versions
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_versions.clone_id');
END;
CREATE TRIGGER clone_versions_clone_id_tenant_update BEFORE UPDATE OF clone_id, organization_id ON clone_versions
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_versions.clone_id');
END;
CREATE TRIGGER clone_pair_vectors_clone_version_id_tenant_insert BEFORE INSERT ON clone_pair_vectors
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM clone_versions WHERE id = NEW.clone_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_pair_vectors.clone_version_id');
END;
CREATE TRIGGER clone_pair_vectors_clone_version_id_tenant_update BEFORE UPDATE OF clone_version_id, organization_id ON clone_pair_vectors
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM clone_versions WHERE id = NEW.clone_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_pair_vectors.clone_version_id');
END;
CREATE TRIGGER clone_pair_vectors_training_data_id_tenant_insert BEFORE INSERT ON clone_pair_vectors
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM clone_training_data WHERE id = NEW.training_data_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_pair_vectors.training_data_id');
END;
CREATE TRIGGER clone_pair_vectors_training_data_id_tenant_update BEFORE UPDATE OF training_data_id, organization_id ON clone_pair_vectors
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM clone_training_data WHERE id = NEW.training_data_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_pair_vectors.training_data_id');
END;
CREATE TRIGGER clone_shares_organization_id_immutable BEFORE UPDATE OF organization_id ON clone_shares
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_shares.organization_id');
END;
CREATE TRIGGER clone_versions_organization_id_immutable BEFORE UPDATE OF organization_id ON clone_versions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_versions.organization_id');
END;
