-- Knowledge retrieval at scale: binary codes for approximate nearest
-- neighbours, staging vectors for re-embedding with another model, and the
-- columns ingestion needs (stable failure codes, replacement of a document).

-- Sign bits of each chunk's live vector (one bit per dimension, packed
-- little-endian into 64-bit words). The server scans these in memory to find
-- candidates and rescoring reads the exact float vectors from chunk_vectors.
-- Written in the same transaction as the vector; deleted with the chunk.
CREATE TABLE chunk_codes (
    id                 INTEGER PRIMARY KEY,
    chunk_id           INTEGER NOT NULL UNIQUE REFERENCES chunks(id) ON DELETE CASCADE,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    knowledge_base_id  INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    code               BLOB NOT NULL CHECK (length(code) % 8 = 0)
);
CREATE INDEX chunk_codes_kb ON chunk_codes (organization_id, knowledge_base_id, chunk_id);
-- Cascades from knowledge_bases (FK-supporting index).
CREATE INDEX chunk_codes_knowledge_base ON chunk_codes (knowledge_base_id);

CREATE TRIGGER chunk_codes_chunk_id_tenant_insert BEFORE INSERT ON chunk_codes WHEN NEW.organization_id IS NOT (SELECT organization_id FROM chunks WHERE id = NEW.chunk_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunk_codes.chunk_id');
END;
CREATE TRIGGER chunk_codes_chunk_id_tenant_update BEFORE UPDATE OF chunk_id, organization_id ON chunk_codes WHEN NEW.organization_id IS NOT (SELECT organization_id FROM chunks WHERE id = NEW.chunk_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunk_codes.chunk_id');
END;
CREATE TRIGGER chunk_codes_knowledge_base_id_tenant_insert BEFORE INSERT ON chunk_codes WHEN NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunk_codes.knowledge_base_id');
END;
CREATE TRIGGER chunk_codes_knowledge_base_id_tenant_update BEFORE UPDATE OF knowledge_base_id, organization_id ON chunk_codes WHEN NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunk_codes.knowledge_base_id');
END;

-- The in-memory code index of a knowledge base is valid while index_version
-- is unchanged; index_vectors is how many codes it should hold.
ALTER TABLE knowledge_bases ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE knowledge_bases ADD COLUMN index_vectors INTEGER NOT NULL DEFAULT 0 CHECK (index_vectors >= 0);
-- The model a background re-embedding is moving the knowledge base to;
-- search keeps using embedding_model until the switch.
ALTER TABLE knowledge_bases ADD COLUMN pending_embedding_model TEXT;

CREATE TRIGGER chunk_codes_count_insert AFTER INSERT ON chunk_codes
BEGIN
    UPDATE knowledge_bases SET index_version = index_version + 1, index_vectors = index_vectors + 1
    WHERE id = NEW.knowledge_base_id;
END;
CREATE TRIGGER chunk_codes_count_delete AFTER DELETE ON chunk_codes
BEGIN
    UPDATE knowledge_bases SET index_version = index_version + 1, index_vectors = index_vectors - 1
    WHERE id = OLD.knowledge_base_id;
END;

-- Vectors of the pending model while a knowledge base is re-embedded
-- (rowid = chunks.id). Moved into chunk_vectors at the switch.
CREATE VIRTUAL TABLE chunk_vectors_next USING vec0(
    knowledge_base_id INTEGER PARTITION KEY,
    embedding float[384] distance_metric=cosine
);
CREATE TRIGGER chunk_vectors_next_delete AFTER DELETE ON chunks
BEGIN
    DELETE FROM chunk_vectors_next WHERE rowid = OLD.id;
END;

-- Failures carry a stable code (unsupported_file_type, corrupt_file, …)
-- beside the message. A replacement document takes its predecessor's place
-- when it becomes ready (the old one is deleted in the same transaction).
ALTER TABLE documents ADD COLUMN error_code TEXT;
ALTER TABLE documents ADD COLUMN replaces_document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL;
CREATE INDEX documents_replaces ON documents (replaces_document_id) WHERE replaces_document_id IS NOT NULL;
CREATE INDEX documents_status ON documents (organization_id, knowledge_base_id, status);

CREATE TRIGGER documents_replaces_document_id_tenant_insert BEFORE INSERT ON documents WHEN NEW.replaces_document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.replaces_document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.replaces_document_id');
END;
CREATE TRIGGER documents_replaces_document_id_tenant_update BEFORE UPDATE OF replaces_document_id, organization_id ON documents WHEN NEW.replaces_document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.replaces_document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.replaces_document_id');
END;
