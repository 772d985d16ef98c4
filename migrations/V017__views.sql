-- The origin's four views, fixed: subscriptions and usage per organization,
-- and per-user activity without the origin's double-join inflation.

-- One row per organization: its subscription and that subscription's plan;
-- an organization without a user_subscriptions row shows its plan_tier (the
-- plan limits read) and the subscription columns of organizations.
CREATE VIEW user_subscription_details AS
SELECT o.id                                                   AS organization_id,
       o.name                                                 AS organization_name,
       o.plan_tier,
       s.id                                                   AS subscription_id,
       p.id                                                   AS plan_id,
       p.name                                                 AS plan_name,
       p.display_name                                         AS plan_display_name,
       p.max_bots,
       p.max_messages_per_month,
       p.features,
       coalesce(s.status, o.subscription_status)              AS status,
       coalesce(s.billing_cycle, 'monthly')                   AS billing_cycle,
       coalesce(s.current_period_end, o.subscription_current_period_end) AS current_period_end,
       coalesce(s.cancel_at_period_end, 0)                    AS cancel_at_period_end
FROM organizations o
LEFT JOIN user_subscriptions s ON s.organization_id = o.id
JOIN subscription_plans p ON p.id = coalesce(s.plan_id, (SELECT id FROM subscription_plans WHERE name = o.plan_tier));

-- Monthly usage per organization and metric.
CREATE VIEW user_usage_summary AS
SELECT organization_id,
       substr(day, 1, 7) AS month,
       metric_type,
       sum(count)        AS total_count
FROM usage_tracking
GROUP BY organization_id, substr(day, 1, 7), metric_type;

-- The last 30 days of the audit log with readable names.
CREATE VIEW recent_audit_activity AS
SELECT a.id,
       a.organization_id,
       a.action,
       a.resource_type,
       a.resource_id,
       u.name  AS username,
       u.email AS user_email,
       o.name  AS organization_name,
       a.ip_address,
       a.created_at
FROM audit_logs a
LEFT JOIN users u ON u.id = a.user_id
LEFT JOIN organizations o ON o.id = a.organization_id
WHERE a.created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days');

-- Per user over the last 30 days. Totals and the per-action counts are
-- aggregated separately, then joined once per user: no row multiplication.
CREATE VIEW user_activity_summary AS
WITH recent AS (
    SELECT user_id, organization_id, action, created_at
    FROM audit_logs
    WHERE user_id IS NOT NULL AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days')
),
totals AS (
    SELECT user_id, count(*) AS total_actions, count(DISTINCT organization_id) AS organizations_accessed,
           max(created_at) AS last_activity
    FROM recent GROUP BY user_id
),
per_action AS (
    SELECT user_id, action, count(*) AS n FROM recent GROUP BY user_id, action
),
action_counts AS (
    SELECT user_id, json_group_object(action, n) AS action_counts FROM per_action GROUP BY user_id
)
SELECT u.id                                      AS user_id,
       u.name                                    AS username,
       u.email,
       coalesce(t.total_actions, 0)              AS total_actions,
       coalesce(t.organizations_accessed, 0)     AS organizations_accessed,
       t.last_activity,
       coalesce(c.action_counts, '{}')           AS action_counts
FROM users u
LEFT JOIN totals t ON t.user_id = u.id
LEFT JOIN action_counts c ON c.user_id = u.id;
