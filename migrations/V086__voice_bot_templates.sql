-- Voice bot templates that build a working voice bot (issue 26): each
-- template row gets a stable slug, the greeting callers hear and its
-- definition (the bot, its NLU data, knowledge seed and phone-ready flows as
-- one JSON document). The definitions are written at start-up from the
-- files embedded in the binary (src/voice/templates/*.json), idempotently
-- by name, so a new release updates them without another migration.

ALTER TABLE voice_bot_templates ADD COLUMN slug TEXT CHECK (slug IS NULL OR (length(slug) BETWEEN 1 AND 64));
ALTER TABLE voice_bot_templates ADD COLUMN greeting TEXT;
ALTER TABLE voice_bot_templates ADD COLUMN definition TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(definition));

CREATE UNIQUE INDEX voice_bot_templates_slug ON voice_bot_templates (slug) WHERE slug IS NOT NULL;

-- The origin's prompt-only templates without a flow cannot make a voice
-- bot here; they stay listed for the record but switched off.
UPDATE voice_bot_templates SET is_active = 0 WHERE name IN ('Customer Support', 'Sales Assistant');
