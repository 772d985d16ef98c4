-- Sentence vectors of NLU training examples, kept for the next training.
--
-- Retraining re-embedded every example (15k examples: 12-20 s of a 45 s
-- run). A vector depends only on the text and the embedding model (each
-- text runs alone through the model), so it is stored with the key of the
-- model that produced it (`Embedder::vectors_key`) and reused while that
-- key is the loaded one. Format: little-endian f32 values.
ALTER TABLE intent_examples ADD COLUMN embedding BLOB CHECK (embedding IS NULL OR length(embedding) % 4 = 0);
ALTER TABLE intent_examples ADD COLUMN embedding_key TEXT;

-- A new text needs a new vector, whatever path changes it.
CREATE TRIGGER intent_examples_text_changed AFTER UPDATE OF text ON intent_examples
WHEN OLD.text IS NOT NEW.text
BEGIN
    UPDATE intent_examples SET embedding = NULL, embedding_key = NULL WHERE id = NEW.id;
END;
