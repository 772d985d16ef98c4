-- Finding a customer's contacts by external id, email or phone within an
-- organization (revenue recovery matches every incoming event this way):
-- without these, each lookup scanned all of the organization's contacts.
CREATE INDEX channel_contacts_org_external ON channel_contacts (organization_id, external_id);
CREATE INDEX channel_contacts_org_email ON channel_contacts (organization_id, lower(email));
CREATE INDEX channel_contacts_org_phone ON channel_contacts (organization_id, phone_number);
