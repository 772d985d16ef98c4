-- Every organization gets a default team role, so people can be added to a
-- team or invited into one without naming a role (before this, such an
-- invitation failed with "the organization has no default team role").
-- New organizations get it when they are created (teams::service); this adds
-- it to the organizations made before. An organization that already named a
-- default, or has a role called "Member", is left as it is.
INSERT INTO team_roles (organization_id, name, permissions, is_default)
SELECT o.id, 'Member', '["bots.read","conversations.handle","conversations.read"]', 1
FROM organizations o
WHERE NOT EXISTS (SELECT 1 FROM team_roles r WHERE r.organization_id = o.id AND r.is_default = 1)
ON CONFLICT DO NOTHING;
