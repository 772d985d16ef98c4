-- Knowledge bases: documents, chunks, their full-text (FTS5) and vector
-- (sqlite-vec) indexes, embedding progress, and links to agents and bots.

-- Origin: knowledge_bases (tenant_id without FK). Statistics are kept by triggers.
CREATE TABLE knowledge_bases (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description      TEXT,
    embedding_model  TEXT NOT NULL DEFAULT 'all-MiniLM-L6-v2',
    language         TEXT NOT NULL DEFAULT 'en',
    chunk_size       INTEGER NOT NULL DEFAULT 256 CHECK (chunk_size BETWEEN 32 AND 4096),    -- tokens
    chunk_overlap    INTEGER NOT NULL DEFAULT 32 CHECK (chunk_overlap >= 0),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','reindexing','archived')),
    document_count   INTEGER NOT NULL DEFAULT 0 CHECK (document_count >= 0),
    total_chunks     INTEGER NOT NULL DEFAULT 0 CHECK (total_chunks >= 0),
    total_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    total_bytes      INTEGER NOT NULL DEFAULT 0 CHECK (total_bytes >= 0),
    last_synced_at   TEXT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (chunk_overlap < chunk_size),
    UNIQUE (organization_id, name)
);

-- Origin: documents. status follows the ingestion pipeline.
CREATE TABLE documents (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    knowledge_base_id  INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    type               TEXT NOT NULL CHECK (type IN ('txt','md','html','pdf','docx','csv','json','url','text')),
    source_url         TEXT,
    file_id            INTEGER REFERENCES files(id) ON DELETE SET NULL,
    size_bytes         INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    content_hash       TEXT CHECK (content_hash IS NULL OR length(content_hash) = 64),
    status             TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','extracting','embedding','ready','failed')),
    error_message      TEXT,
    chunk_count        INTEGER NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
    token_count        INTEGER NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX documents_kb ON documents (organization_id, knowledge_base_id, created_at);
CREATE UNIQUE INDEX documents_content ON documents (knowledge_base_id, content_hash) WHERE content_hash IS NOT NULL;

-- Origin: chunks (embedding as pgvector). The embedding is a little-endian
-- f32 BLOB, copied into chunk_vectors for nearest-neighbour search.
CREATE TABLE chunks (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    knowledge_base_id  INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    document_id        INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_index        INTEGER NOT NULL CHECK (chunk_index >= 0),
    content            TEXT NOT NULL,
    heading_path       TEXT NOT NULL DEFAULT '',
    token_count        INTEGER NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    start_char         INTEGER,
    end_char           INTEGER,
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    embedding          BLOB,
    embedding_model    TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (document_id, chunk_index)
);
CREATE INDEX chunks_kb ON chunks (organization_id, knowledge_base_id);

-- A chunk is in its document's knowledge base (retrieval filters and the
-- vector partition use chunks.knowledge_base_id).
CREATE TRIGGER chunks_knowledge_base_id_parent_insert BEFORE INSERT ON chunks
WHEN NEW.organization_id IS (SELECT organization_id FROM documents WHERE id = NEW.document_id)
 AND NEW.organization_id IS (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
 AND NEW.knowledge_base_id IS NOT (SELECT knowledge_base_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'parent_mismatch: chunks.knowledge_base_id');
END;
CREATE TRIGGER chunks_knowledge_base_id_parent_update BEFORE UPDATE OF knowledge_base_id, document_id ON chunks
WHEN NEW.organization_id IS (SELECT organization_id FROM documents WHERE id = NEW.document_id)
 AND NEW.organization_id IS (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
 AND NEW.knowledge_base_id IS NOT (SELECT knowledge_base_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'parent_mismatch: chunks.knowledge_base_id');
END;

-- Full-text index over chunks (external content, kept in sync by triggers).
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    content, heading_path,
    content = 'chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks
BEGIN
    INSERT INTO chunks_fts (rowid, content, heading_path) VALUES (NEW.id, NEW.content, NEW.heading_path);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks
BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, content, heading_path) VALUES ('delete', OLD.id, OLD.content, OLD.heading_path);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF content, heading_path ON chunks
BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, content, heading_path) VALUES ('delete', OLD.id, OLD.content, OLD.heading_path);
    INSERT INTO chunks_fts (rowid, content, heading_path) VALUES (NEW.id, NEW.content, NEW.heading_path);
END;

-- Vector index: rowid = chunks.id; partitioned by knowledge base so a search
-- within one knowledge base does not scan the others.
CREATE VIRTUAL TABLE chunk_vectors USING vec0(
    knowledge_base_id INTEGER PARTITION KEY,
    embedding float[384] distance_metric=cosine
);
-- A deleted chunk takes its vector with it (documents, knowledge bases and
-- organizations delete chunks by cascade).
CREATE TRIGGER chunk_vectors_delete AFTER DELETE ON chunks
BEGIN
    DELETE FROM chunk_vectors WHERE rowid = OLD.id;
END;

-- Statistics of knowledge bases and documents.
CREATE TRIGGER documents_count_insert AFTER INSERT ON documents
BEGIN
    UPDATE knowledge_bases SET document_count = document_count + 1, total_bytes = total_bytes + NEW.size_bytes
    WHERE id = NEW.knowledge_base_id;
END;
CREATE TRIGGER documents_count_delete AFTER DELETE ON documents
BEGIN
    UPDATE knowledge_bases SET document_count = document_count - 1, total_bytes = total_bytes - OLD.size_bytes
    WHERE id = OLD.knowledge_base_id;
END;
CREATE TRIGGER documents_count_size AFTER UPDATE OF size_bytes ON documents
BEGIN
    UPDATE knowledge_bases SET total_bytes = total_bytes - OLD.size_bytes + NEW.size_bytes WHERE id = NEW.knowledge_base_id;
END;
CREATE TRIGGER chunks_count_insert AFTER INSERT ON chunks
BEGIN
    UPDATE knowledge_bases SET total_chunks = total_chunks + 1, total_tokens = total_tokens + NEW.token_count
    WHERE id = NEW.knowledge_base_id;
    UPDATE documents SET chunk_count = chunk_count + 1, token_count = token_count + NEW.token_count
    WHERE id = NEW.document_id;
END;
CREATE TRIGGER chunks_count_delete AFTER DELETE ON chunks
BEGIN
    UPDATE knowledge_bases SET total_chunks = total_chunks - 1, total_tokens = total_tokens - OLD.token_count
    WHERE id = OLD.knowledge_base_id;
    UPDATE documents SET chunk_count = chunk_count - 1, token_count = token_count - OLD.token_count
    WHERE id = OLD.document_id;
END;

-- Origin: embedding_queue (dead). Per-document embedding progress.
CREATE TABLE embedding_queue (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    document_id      INTEGER NOT NULL UNIQUE REFERENCES documents(id) ON DELETE CASCADE,
    job_id           INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','processing','completed','failed')),
    total_chunks     INTEGER NOT NULL DEFAULT 0 CHECK (total_chunks >= 0),
    embedded_chunks  INTEGER NOT NULL DEFAULT 0 CHECK (embedded_chunks >= 0),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error_message    TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    processed_at     TEXT,
    CHECK (embedded_chunks <= total_chunks)
);
CREATE INDEX embedding_queue_status ON embedding_queue (organization_id, status);

-- Origin: agent_knowledge_bases (agent_id had no FK). Links a knowledge base
-- to an agent or to a bot, with a priority.
CREATE TABLE agent_knowledge_bases (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    knowledge_base_id  INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    agent_id           INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    priority           INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK ((agent_id IS NULL) <> (bot_id IS NULL))
);
CREATE UNIQUE INDEX agent_knowledge_bases_agent ON agent_knowledge_bases (agent_id, knowledge_base_id) WHERE agent_id IS NOT NULL;
CREATE UNIQUE INDEX agent_knowledge_bases_bot ON agent_knowledge_bases (bot_id, knowledge_base_id) WHERE bot_id IS NOT NULL;
CREATE INDEX agent_knowledge_bases_kb ON agent_knowledge_bases (organization_id, knowledge_base_id);
