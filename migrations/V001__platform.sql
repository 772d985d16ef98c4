-- Platform tables: instance settings, subscription plans, plugin categories,
-- voice bot templates. No tenant column: they are shared by all organizations.

-- Instance settings (added table). `retention.unlock` is set only inside the
-- retention job's own transaction to let it delete append-only rows.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(value)),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
) WITHOUT ROWID;

-- Origin: subscription_plans (003). Prices are integer minor units (cents);
-- -1 means unlimited.
CREATE TABLE subscription_plans (
    id                       INTEGER PRIMARY KEY,
    name                     TEXT NOT NULL UNIQUE CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 50),
    display_name             TEXT NOT NULL,
    description              TEXT,
    price_monthly            INTEGER NOT NULL CHECK (price_monthly >= 0),   -- minor units
    price_yearly             INTEGER CHECK (price_yearly IS NULL OR price_yearly >= 0),
    currency                 TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    max_bots                 INTEGER NOT NULL CHECK (max_bots >= -1),
    max_messages_per_month   INTEGER NOT NULL CHECK (max_messages_per_month >= -1),
    features                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(features)),
    stripe_price_id_monthly  TEXT,
    stripe_price_id_yearly   TEXT,
    is_active                INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

INSERT INTO subscription_plans (name, display_name, description, price_monthly, price_yearly, max_bots, max_messages_per_month, features) VALUES
 ('free', 'Free', 'For trying botbuilder out', 0, 0, 1, 1000,
  '{"api_access": false, "webhook_support": true, "priority_support": false, "custom_branding": false}'),
 ('pro', 'Pro', 'For teams running production bots', 2900, 29000, 10, 50000,
  '{"api_access": true, "webhook_support": true, "priority_support": true, "custom_branding": false}'),
 ('enterprise', 'Enterprise', 'Unlimited bots and messages, white-label', 9900, 99000, -1, -1,
  '{"api_access": true, "webhook_support": true, "priority_support": true, "custom_branding": true}');

-- Origin: plugin_categories (023, variant a) with variant (b)'s sort order.
CREATE TABLE plugin_categories (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL UNIQUE CHECK (slug = lower(slug)),
    icon         TEXT,
    description  TEXT,
    sort_order   INTEGER NOT NULL DEFAULT 0,
    is_active    INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

INSERT INTO plugin_categories (name, slug, icon, description, sort_order) VALUES
 ('AI & Automation', 'ai-automation', '🤖', 'Language models, classifiers and automations', 1),
 ('Analytics', 'analytics', '📊', 'Measure conversations and outcomes', 2),
 ('Communication', 'communication', '💬', 'Email, SMS and messaging integrations', 3),
 ('CRM', 'crm', '📇', 'Customer records and pipelines', 4),
 ('E-commerce', 'e-commerce', '🛒', 'Catalogues, carts and orders', 5),
 ('Marketing', 'marketing', '📣', 'Campaigns and audience tools', 6),
 ('Productivity', 'productivity', '🗂️', 'Calendars, documents and tasks', 7),
 ('Security', 'security', '🔒', 'Compliance, moderation and access control', 8),
 ('Social Media', 'social-media', '🌐', 'Social networks and communities', 9),
 ('Utilities', 'utilities', '🧰', 'Helpers for flows and data', 10);

-- Origin: voice_bot_templates. Platform-wide starting points for voice bots.
CREATE TABLE voice_bot_templates (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT,
    category          TEXT NOT NULL CHECK (category IN ('support','sales','faq','booking','custom')),
    prompt_template   TEXT NOT NULL,
    example_phrases   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(example_phrases) AND json_type(example_phrases) = 'array'),
    default_intents   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(default_intents) AND json_type(default_intents) = 'array'),
    default_entities  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(default_entities) AND json_type(default_entities) = 'array'),
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    usage_count       INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

INSERT INTO voice_bot_templates (name, description, category, prompt_template, example_phrases, default_intents) VALUES
 ('Customer Support', 'Answers product questions and opens tickets', 'support',
  'You are the phone support agent of {{company}}. Greet the caller, find out what they need, answer from the knowledge base and offer to open a ticket when you cannot solve the problem.',
  '["I need help with my order","My device does not turn on","I want to speak to someone"]',
  '[{"name":"order_status","examples":["where is my order","track my package","has my order shipped"]},{"name":"talk_to_human","examples":["speak to a person","connect me to an agent","I want a human"]}]'),
 ('Sales Assistant', 'Qualifies leads and books demos', 'sales',
  'You are a friendly sales assistant for {{company}}. Ask about the caller''s needs, team size and timeline, explain the matching plan and offer to book a demo.',
  '["How much does it cost","I want a demo","Do you have a plan for teams"]',
  '[{"name":"pricing","examples":["how much is it","what are your prices","is there a free plan"]},{"name":"book_demo","examples":["schedule a demo","can I see the product","book a call"]}]'),
 ('FAQ Bot', 'Answers frequent questions from a knowledge base', 'faq',
  'You answer frequently asked questions about {{company}} in one or two sentences, using only the provided knowledge. Say when you do not know.',
  '["What are your opening hours","Where are you located","Do you ship abroad"]',
  '[{"name":"opening_hours","examples":["when are you open","opening hours","are you open on sunday"]},{"name":"location","examples":["where are you","what is your address","how do I get there"]}]'),
 ('Appointment Booking', 'Books, moves and cancels appointments', 'booking',
  'You book appointments for {{company}}. Collect the service, preferred date and time and the caller''s name, confirm the slot and read back the booking.',
  '["I want to book an appointment","Can I move my appointment","Cancel my booking"]',
  '[{"name":"book_appointment","examples":["book an appointment","I need a slot tomorrow","schedule a visit"]},{"name":"cancel_appointment","examples":["cancel my appointment","I can''t make it","remove my booking"]}]');
