-- The language of the product's own UI chosen by each user (issue 24 item 6).
-- NULL until they pick one: the UI then follows the browser's language.
-- Which codes exist is the application's list (src/locales.rs, one catalog
-- per locale under assets/i18n/), so adding a locale needs no migration.
ALTER TABLE users ADD COLUMN locale TEXT CHECK (locale IS NULL OR length(locale) BETWEEN 2 AND 16);
