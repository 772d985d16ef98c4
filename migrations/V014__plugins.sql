-- The plugin marketplace: plugins and versions are platform-wide (published
-- by developers), installations belong to organizations, reviews to users.
-- (Origin: two competing definitions; this follows variant (a), the one the
-- code queried, with (b)'s useful columns.)

-- Origin: plugins (developer_id without FK, price as DECIMAL). Platform-wide;
-- price in minor units, is_free derived from it; icons and banners are files.
CREATE TABLE plugins (
    id                 INTEGER PRIMARY KEY,
    developer_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug               TEXT NOT NULL UNIQUE CHECK (slug = lower(slug)),
    description        TEXT,
    long_description   TEXT,
    version            TEXT NOT NULL DEFAULT '1.0.0',
    category_id        INTEGER REFERENCES plugin_categories(id) ON DELETE SET NULL,
    icon_file_id       INTEGER REFERENCES files(id) ON DELETE SET NULL,
    banner_file_id     INTEGER REFERENCES files(id) ON DELETE SET NULL,
    price              INTEGER NOT NULL DEFAULT 0 CHECK (price >= 0),   -- minor units
    currency           TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    is_free            INTEGER NOT NULL GENERATED ALWAYS AS (price = 0) VIRTUAL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','published','rejected','suspended')),
    is_featured        INTEGER NOT NULL DEFAULT 0 CHECK (is_featured IN (0,1)),
    downloads          INTEGER NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    rating             REAL NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    review_count       INTEGER NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    manifest           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(manifest)),
    permissions        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    tags               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    support_url        TEXT,
    documentation_url  TEXT,
    repository_url     TEXT,
    published_at       TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX plugins_listing ON plugins (status, category_id, downloads);

-- Origin: plugin_versions. The bundle is a platform file (organization NULL).
CREATE TABLE plugin_versions (
    id                    INTEGER PRIMARY KEY,
    plugin_id             INTEGER NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    version               TEXT NOT NULL,
    changelog             TEXT,
    bundle_file_id        INTEGER REFERENCES files(id) ON DELETE SET NULL,
    manifest              TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(manifest)),
    min_platform_version  TEXT,
    status                TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('pending','published','deprecated')),
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (plugin_id, version)
);

-- Origin: plugin_installations (tenant_id without FK).
CREATE TABLE plugin_installations (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    plugin_id          INTEGER NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    installed_version  TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled','pending_update')),
    settings           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    installed_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    installed_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (plugin_id, organization_id)
);
CREATE INDEX plugin_installations_org ON plugin_installations (organization_id);

-- Origin: plugin_reviews (user_id without FK). One review per user and plugin.
CREATE TABLE plugin_reviews (
    id             INTEGER PRIMARY KEY,
    plugin_id      INTEGER NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rating         INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment        TEXT,
    helpful_count  INTEGER NOT NULL DEFAULT 0 CHECK (helpful_count >= 0),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (plugin_id, user_id)
);

-- Counters: installs count as downloads; rating is the mean of reviews.
CREATE TRIGGER plugin_installations_count AFTER INSERT ON plugin_installations
BEGIN
    UPDATE plugins SET downloads = downloads + 1 WHERE id = NEW.plugin_id;
END;
CREATE TRIGGER plugin_reviews_rating_insert AFTER INSERT ON plugin_reviews
BEGIN
    UPDATE plugins SET
        review_count = (SELECT count(*) FROM plugin_reviews WHERE plugin_id = NEW.plugin_id),
        rating = (SELECT round(avg(rating), 2) FROM plugin_reviews WHERE plugin_id = NEW.plugin_id)
    WHERE id = NEW.plugin_id;
END;
CREATE TRIGGER plugin_reviews_rating_update AFTER UPDATE OF rating ON plugin_reviews
BEGIN
    UPDATE plugins SET rating = (SELECT round(avg(rating), 2) FROM plugin_reviews WHERE plugin_id = NEW.plugin_id)
    WHERE id = NEW.plugin_id;
END;
CREATE TRIGGER plugin_reviews_rating_delete AFTER DELETE ON plugin_reviews
BEGIN
    UPDATE plugins SET
        review_count = (SELECT count(*) FROM plugin_reviews WHERE plugin_id = OLD.plugin_id),
        rating = coalesce((SELECT round(avg(rating), 2) FROM plugin_reviews WHERE plugin_id = OLD.plugin_id), 0)
    WHERE id = OLD.plugin_id;
END;
