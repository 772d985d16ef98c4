-- Fine-tuning datasets, remote jobs and model version history (issue 25).

-- A dataset: its own name, what its rows are (chat conversations or
-- labelled texts), where it came from, the token count and validation
-- report of its last check, and a soft delete: jobs that name a deleted
-- dataset are refused with a stable code instead of a dangling reference.
ALTER TABLE fine_tune_datasets ADD COLUMN name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200);
ALTER TABLE fine_tune_datasets ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat' CHECK (kind IN ('chat','classification'));
ALTER TABLE fine_tune_datasets ADD COLUMN source TEXT NOT NULL DEFAULT 'upload' CHECK (source IN ('upload','nlu','transcripts','split','conversion'));
ALTER TABLE fine_tune_datasets ADD COLUMN token_count INTEGER NOT NULL DEFAULT 0 CHECK (token_count >= 0);
ALTER TABLE fine_tune_datasets ADD COLUMN report TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(report));
ALTER TABLE fine_tune_datasets ADD COLUMN deleted_at TEXT;

-- A remote job names the datasets it trained on, the cost estimated before
-- it started, and the remote event it has read up to (events are paged).
ALTER TABLE fine_tune_jobs ADD COLUMN training_dataset_id INTEGER REFERENCES fine_tune_datasets(id) ON DELETE SET NULL;
ALTER TABLE fine_tune_jobs ADD COLUMN validation_dataset_id INTEGER REFERENCES fine_tune_datasets(id) ON DELETE SET NULL;
ALTER TABLE fine_tune_jobs ADD COLUMN estimated_cost_micros INTEGER CHECK (estimated_cost_micros IS NULL OR estimated_cost_micros >= 0);
ALTER TABLE fine_tune_jobs ADD COLUMN last_event_id TEXT;

-- When a version last became active: a rollback restores the version that
-- was active before the current one.
ALTER TABLE model_versions ADD COLUMN activated_at TEXT;
UPDATE model_versions SET activated_at = updated_at WHERE is_active = 1;
CREATE INDEX fine_tune_datasets_org ON fine_tune_datasets (organization_id, deleted_at, id);
CREATE INDEX fine_tune_jobs_training_dataset ON fine_tune_jobs (training_dataset_id);
CREATE INDEX fine_tune_jobs_validation_dataset ON fine_tune_jobs (validation_dataset_id);

-- A job's datasets belong to its organization.
CREATE TRIGGER fine_tune_jobs_training_dataset_id_tenant_insert BEFORE INSERT ON fine_tune_jobs
WHEN NEW.training_dataset_id IS NOT NULL
 AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_datasets WHERE id = NEW.training_dataset_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.training_dataset_id');
END;
CREATE TRIGGER fine_tune_jobs_training_dataset_id_tenant_update BEFORE UPDATE OF training_dataset_id, organization_id ON fine_tune_jobs
WHEN NEW.training_dataset_id IS NOT NULL
 AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_datasets WHERE id = NEW.training_dataset_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.training_dataset_id');
END;
CREATE TRIGGER fine_tune_jobs_validation_dataset_id_tenant_insert BEFORE INSERT ON fine_tune_jobs
WHEN NEW.validation_dataset_id IS NOT NULL
 AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_datasets WHERE id = NEW.validation_dataset_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.validation_dataset_id');
END;
CREATE TRIGGER fine_tune_jobs_validation_dataset_id_tenant_update BEFORE UPDATE OF validation_dataset_id, organization_id ON fine_tune_jobs
WHEN NEW.validation_dataset_id IS NOT NULL
 AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_datasets WHERE id = NEW.validation_dataset_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.validation_dataset_id');
END;
