-- Languages (issue 24 items 3 and 4): the language detected in each parsed
-- message, and a full-text tokenizer per knowledge base.

-- ISO 639-1 code and confidence (0–1) of the detected language; NULL when
-- the message was too short or in a script the detector does not know.
ALTER TABLE nlu_logs ADD COLUMN detected_language TEXT CHECK (detected_language IS NULL OR length(detected_language) = 2);
ALTER TABLE nlu_logs ADD COLUMN language_confidence REAL CHECK (language_confidence IS NULL OR language_confidence BETWEEN 0 AND 1);

-- The FTS5 tokenizer of a knowledge base, chosen from its language:
-- porter (English: stemming), unicode61 (other alphabetic languages:
-- diacritics folded, no stemming) or trigram (Chinese, Japanese, Korean,
-- Thai: no spaces between words, so substrings of three characters).
-- Existing knowledge bases keep Porter, which indexed them.
ALTER TABLE knowledge_bases ADD COLUMN fts_tokenizer TEXT NOT NULL DEFAULT 'porter'
    CHECK (fts_tokenizer IN ('porter', 'unicode61', 'trigram'));
-- Copied onto each chunk so the triggers know which index holds it even
-- while its knowledge base is being deleted; changing it moves the chunk.
ALTER TABLE chunks ADD COLUMN fts_tokenizer TEXT NOT NULL DEFAULT 'porter'
    CHECK (fts_tokenizer IN ('porter', 'unicode61', 'trigram'));

CREATE VIRTUAL TABLE chunks_fold_fts USING fts5(
    content, heading_path,
    content = 'chunks', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE chunks_trigram_fts USING fts5(
    content, heading_path,
    content = 'chunks', content_rowid = 'id',
    tokenize = 'trigram'
);

-- Each chunk is in exactly the index of its tokenizer.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TRIGGER chunks_fts_update;

CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks WHEN NEW.fts_tokenizer = 'porter'
BEGIN
    INSERT INTO chunks_fts (rowid, content, heading_path) VALUES (NEW.id, NEW.content, NEW.heading_path);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks WHEN OLD.fts_tokenizer = 'porter'
BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, content, heading_path) VALUES ('delete', OLD.id, OLD.content, OLD.heading_path);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF content, heading_path, fts_tokenizer ON chunks
BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, content, heading_path)
        SELECT 'delete', OLD.id, OLD.content, OLD.heading_path WHERE OLD.fts_tokenizer = 'porter';
    INSERT INTO chunks_fts (rowid, content, heading_path)
        SELECT NEW.id, NEW.content, NEW.heading_path WHERE NEW.fts_tokenizer = 'porter';
END;

CREATE TRIGGER chunks_fold_fts_insert AFTER INSERT ON chunks WHEN NEW.fts_tokenizer = 'unicode61'
BEGIN
    INSERT INTO chunks_fold_fts (rowid, content, heading_path) VALUES (NEW.id, NEW.content, NEW.heading_path);
END;
CREATE TRIGGER chunks_fold_fts_delete AFTER DELETE ON chunks WHEN OLD.fts_tokenizer = 'unicode61'
BEGIN
    INSERT INTO chunks_fold_fts (chunks_fold_fts, rowid, content, heading_path) VALUES ('delete', OLD.id, OLD.content, OLD.heading_path);
END;
CREATE TRIGGER chunks_fold_fts_update AFTER UPDATE OF content, heading_path, fts_tokenizer ON chunks
BEGIN
    INSERT INTO chunks_fold_fts (chunks_fold_fts, rowid, content, heading_path)
        SELECT 'delete', OLD.id, OLD.content, OLD.heading_path WHERE OLD.fts_tokenizer = 'unicode61';
    INSERT INTO chunks_fold_fts (rowid, content, heading_path)
        SELECT NEW.id, NEW.content, NEW.heading_path WHERE NEW.fts_tokenizer = 'unicode61';
END;

CREATE TRIGGER chunks_trigram_fts_insert AFTER INSERT ON chunks WHEN NEW.fts_tokenizer = 'trigram'
BEGIN
    INSERT INTO chunks_trigram_fts (rowid, content, heading_path) VALUES (NEW.id, NEW.content, NEW.heading_path);
END;
CREATE TRIGGER chunks_trigram_fts_delete AFTER DELETE ON chunks WHEN OLD.fts_tokenizer = 'trigram'
BEGIN
    INSERT INTO chunks_trigram_fts (chunks_trigram_fts, rowid, content, heading_path) VALUES ('delete', OLD.id, OLD.content, OLD.heading_path);
END;
CREATE TRIGGER chunks_trigram_fts_update AFTER UPDATE OF content, heading_path, fts_tokenizer ON chunks
BEGIN
    INSERT INTO chunks_trigram_fts (chunks_trigram_fts, rowid, content, heading_path)
        SELECT 'delete', OLD.id, OLD.content, OLD.heading_path WHERE OLD.fts_tokenizer = 'trigram';
    INSERT INTO chunks_trigram_fts (rowid, content, heading_path)
        SELECT NEW.id, NEW.content, NEW.heading_path WHERE NEW.fts_tokenizer = 'trigram';
END;
