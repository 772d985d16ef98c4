-- Systematic consistency rules, one per table or per foreign key of the
-- tables of V001-V015, written mechanically (nothing hand-picked); tests
-- check that none is missing:
--  * updated_at is maintained on every table that has it: an UPDATE that
--    does not set updated_at itself gets the current time;
--  * a row never changes organization (RAISE 'tenant_mismatch:
--    <table>.organization_id'), so moving a parent cannot strand its children;
--  * a child row's organization_id must equal its parent's, for every
--    reference between two tenant-owned tables (RAISE 'tenant_mismatch:
--    <table>.<column>'). References to roles are checked next to their tables
--    (built-in roles have no organization);
--  * every foreign key has an index starting with its column, so that ON
--    DELETE actions (cascades when an organization, bot or conversation is
--    deleted) look children up instead of scanning. Exception: SET NULL
--    references to users ("who did it"); deleting a user is rare and costs
--    one scan per table.

-- updated_at

CREATE TRIGGER settings_updated_at AFTER UPDATE ON settings WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE settings SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE key = NEW.key;
END;
CREATE TRIGGER subscription_plans_updated_at AFTER UPDATE ON subscription_plans WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE subscription_plans SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER plugin_categories_updated_at AFTER UPDATE ON plugin_categories WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE plugin_categories SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER voice_bot_templates_updated_at AFTER UPDATE ON voice_bot_templates WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE voice_bot_templates SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER users_updated_at AFTER UPDATE ON users WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE users SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER organizations_updated_at AFTER UPDATE ON organizations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE organizations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER roles_updated_at AFTER UPDATE ON roles WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE roles SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER organization_members_updated_at AFTER UPDATE ON organization_members WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE organization_members SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER teams_updated_at AFTER UPDATE ON teams WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE teams SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER team_roles_updated_at AFTER UPDATE ON team_roles WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE team_roles SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER team_members_updated_at AFTER UPDATE ON team_members WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE team_members SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER team_invitations_updated_at AFTER UPDATE ON team_invitations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE team_invitations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER whitelabel_settings_updated_at AFTER UPDATE ON whitelabel_settings WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE whitelabel_settings SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER api_tokens_updated_at AFTER UPDATE ON api_tokens WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE api_tokens SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER entity_branches_updated_at AFTER UPDATE ON entity_branches WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE entity_branches SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER jobs_updated_at AFTER UPDATE ON jobs WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE jobs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER webhooks_updated_at AFTER UPDATE ON webhooks WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE webhooks SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER webhook_logs_updated_at AFTER UPDATE ON webhook_logs WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE webhook_logs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER email_notifications_updated_at AFTER UPDATE ON email_notifications WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE email_notifications SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER user_subscriptions_updated_at AFTER UPDATE ON user_subscriptions WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE user_subscriptions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER usage_tracking_updated_at AFTER UPDATE ON usage_tracking WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE usage_tracking SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER bots_updated_at AFTER UPDATE ON bots WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE bots SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER bot_messages_updated_at AFTER UPDATE ON bot_messages WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE bot_messages SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER bot_flows_updated_at AFTER UPDATE ON bot_flows WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE bot_flows SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER flow_orchestrations_updated_at AFTER UPDATE ON flow_orchestrations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE flow_orchestrations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER flow_transitions_updated_at AFTER UPDATE ON flow_transitions WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE flow_transitions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER flow_variables_updated_at AFTER UPDATE ON flow_variables WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE flow_variables SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER conversations_updated_at AFTER UPDATE ON conversations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE conversations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER widget_configs_updated_at AFTER UPDATE ON widget_configs WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE widget_configs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER llm_providers_updated_at AFTER UPDATE ON llm_providers WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE llm_providers SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ai_configurations_updated_at AFTER UPDATE ON ai_configurations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ai_configurations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER agents_updated_at AFTER UPDATE ON agents WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE agents SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER agent_workflows_updated_at AFTER UPDATE ON agent_workflows WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE agent_workflows SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER workflow_executions_updated_at AFTER UPDATE ON workflow_executions WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE workflow_executions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER agent_execution_steps_updated_at AFTER UPDATE ON agent_execution_steps WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE agent_execution_steps SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER autonomous_agents_updated_at AFTER UPDATE ON autonomous_agents WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE autonomous_agents SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER agent_tasks_updated_at AFTER UPDATE ON agent_tasks WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE agent_tasks SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER tools_updated_at AFTER UPDATE ON tools WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE tools SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER knowledge_bases_updated_at AFTER UPDATE ON knowledge_bases WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE knowledge_bases SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER documents_updated_at AFTER UPDATE ON documents WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE documents SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER embedding_queue_updated_at AFTER UPDATE ON embedding_queue WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE embedding_queue SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER intents_updated_at AFTER UPDATE ON intents WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE intents SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER entities_updated_at AFTER UPDATE ON entities WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE entities SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER fine_tune_models_updated_at AFTER UPDATE ON fine_tune_models WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE fine_tune_models SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER fine_tune_jobs_updated_at AFTER UPDATE ON fine_tune_jobs WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE fine_tune_jobs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER model_versions_updated_at AFTER UPDATE ON model_versions WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE model_versions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER ab_tests_updated_at AFTER UPDATE ON ab_tests WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ab_tests SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER channels_updated_at AFTER UPDATE ON channels WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE channels SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER channel_contacts_updated_at AFTER UPDATE ON channel_contacts WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE channel_contacts SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER channel_messages_updated_at AFTER UPDATE ON channel_messages WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE channel_messages SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER channel_templates_updated_at AFTER UPDATE ON channel_templates WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE channel_templates SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER integrations_updated_at AFTER UPDATE ON integrations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE integrations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER voice_bots_updated_at AFTER UPDATE ON voice_bots WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE voice_bots SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER phone_numbers_updated_at AFTER UPDATE ON phone_numbers WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE phone_numbers SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER calls_updated_at AFTER UPDATE ON calls WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE calls SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER voice_bot_creations_updated_at AFTER UPDATE ON voice_bot_creations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE voice_bot_creations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER work_clones_updated_at AFTER UPDATE ON work_clones WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE work_clones SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER clone_training_data_updated_at AFTER UPDATE ON clone_training_data WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE clone_training_data SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER clone_responses_updated_at AFTER UPDATE ON clone_responses WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE clone_responses SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER clone_sessions_updated_at AFTER UPDATE ON clone_sessions WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE clone_sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER recovery_campaigns_updated_at AFTER UPDATE ON recovery_campaigns WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE recovery_campaigns SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER recovery_events_updated_at AFTER UPDATE ON recovery_events WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE recovery_events SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER recovery_messages_updated_at AFTER UPDATE ON recovery_messages WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE recovery_messages SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER recovery_analytics_updated_at AFTER UPDATE ON recovery_analytics WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE recovery_analytics SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER customer_health_scores_updated_at AFTER UPDATE ON customer_health_scores WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE customer_health_scores SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER plugins_updated_at AFTER UPDATE ON plugins WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE plugins SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER plugin_installations_updated_at AFTER UPDATE ON plugin_installations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE plugin_installations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER plugin_reviews_updated_at AFTER UPDATE ON plugin_reviews WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE plugin_reviews SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER sso_configurations_updated_at AFTER UPDATE ON sso_configurations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE sso_configurations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER sso_user_mappings_updated_at AFTER UPDATE ON sso_user_mappings WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE sso_user_mappings SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;

-- tenant consistency: organization_id never changes

CREATE TRIGGER roles_organization_id_immutable BEFORE UPDATE OF organization_id ON roles
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: roles.organization_id');
END;
CREATE TRIGGER organization_members_organization_id_immutable BEFORE UPDATE OF organization_id ON organization_members
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: organization_members.organization_id');
END;
CREATE TRIGGER teams_organization_id_immutable BEFORE UPDATE OF organization_id ON teams
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: teams.organization_id');
END;
CREATE TRIGGER team_roles_organization_id_immutable BEFORE UPDATE OF organization_id ON team_roles
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_roles.organization_id');
END;
CREATE TRIGGER team_members_organization_id_immutable BEFORE UPDATE OF organization_id ON team_members
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_members.organization_id');
END;
CREATE TRIGGER team_invitations_organization_id_immutable BEFORE UPDATE OF organization_id ON team_invitations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.organization_id');
END;
CREATE TRIGGER audit_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON audit_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: audit_logs.organization_id');
END;
CREATE TRIGGER activity_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON activity_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: activity_logs.organization_id');
END;
CREATE TRIGGER files_organization_id_immutable BEFORE UPDATE OF organization_id ON files
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: files.organization_id');
END;
CREATE TRIGGER whitelabel_settings_organization_id_immutable BEFORE UPDATE OF organization_id ON whitelabel_settings
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.organization_id');
END;
CREATE TRIGGER api_tokens_organization_id_immutable BEFORE UPDATE OF organization_id ON api_tokens
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: api_tokens.organization_id');
END;
CREATE TRIGGER entity_versions_organization_id_immutable BEFORE UPDATE OF organization_id ON entity_versions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_versions.organization_id');
END;
CREATE TRIGGER entity_branches_organization_id_immutable BEFORE UPDATE OF organization_id ON entity_branches
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_branches.organization_id');
END;
CREATE TRIGGER jobs_organization_id_immutable BEFORE UPDATE OF organization_id ON jobs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: jobs.organization_id');
END;
CREATE TRIGGER webhooks_organization_id_immutable BEFORE UPDATE OF organization_id ON webhooks
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: webhooks.organization_id');
END;
CREATE TRIGGER webhook_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON webhook_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: webhook_logs.organization_id');
END;
CREATE TRIGGER email_notifications_organization_id_immutable BEFORE UPDATE OF organization_id ON email_notifications
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: email_notifications.organization_id');
END;
CREATE TRIGGER user_subscriptions_organization_id_immutable BEFORE UPDATE OF organization_id ON user_subscriptions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: user_subscriptions.organization_id');
END;
CREATE TRIGGER payment_history_organization_id_immutable BEFORE UPDATE OF organization_id ON payment_history
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: payment_history.organization_id');
END;
CREATE TRIGGER usage_tracking_organization_id_immutable BEFORE UPDATE OF organization_id ON usage_tracking
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.organization_id');
END;
CREATE TRIGGER bots_organization_id_immutable BEFORE UPDATE OF organization_id ON bots
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bots.organization_id');
END;
CREATE TRIGGER bot_messages_organization_id_immutable BEFORE UPDATE OF organization_id ON bot_messages
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_messages.organization_id');
END;
CREATE TRIGGER bot_flows_organization_id_immutable BEFORE UPDATE OF organization_id ON bot_flows
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_flows.organization_id');
END;
CREATE TRIGGER flow_orchestrations_organization_id_immutable BEFORE UPDATE OF organization_id ON flow_orchestrations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_orchestrations.organization_id');
END;
CREATE TRIGGER flow_transitions_organization_id_immutable BEFORE UPDATE OF organization_id ON flow_transitions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_transitions.organization_id');
END;
CREATE TRIGGER flow_variables_organization_id_immutable BEFORE UPDATE OF organization_id ON flow_variables
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_variables.organization_id');
END;
CREATE TRIGGER conversations_organization_id_immutable BEFORE UPDATE OF organization_id ON conversations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.organization_id');
END;
CREATE TRIGGER widget_configs_organization_id_immutable BEFORE UPDATE OF organization_id ON widget_configs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_configs.organization_id');
END;
CREATE TRIGGER widget_messages_organization_id_immutable BEFORE UPDATE OF organization_id ON widget_messages
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_messages.organization_id');
END;
CREATE TRIGGER llm_providers_organization_id_immutable BEFORE UPDATE OF organization_id ON llm_providers
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: llm_providers.organization_id');
END;
CREATE TRIGGER ai_configurations_organization_id_immutable BEFORE UPDATE OF organization_id ON ai_configurations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.organization_id');
END;
CREATE TRIGGER agents_organization_id_immutable BEFORE UPDATE OF organization_id ON agents
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agents.organization_id');
END;
CREATE TRIGGER agent_workflows_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_workflows
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_workflows.organization_id');
END;
CREATE TRIGGER workflow_executions_organization_id_immutable BEFORE UPDATE OF organization_id ON workflow_executions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: workflow_executions.organization_id');
END;
CREATE TRIGGER agent_execution_steps_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_execution_steps
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_execution_steps.organization_id');
END;
CREATE TRIGGER agent_messages_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_messages
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.organization_id');
END;
CREATE TRIGGER autonomous_agents_organization_id_immutable BEFORE UPDATE OF organization_id ON autonomous_agents
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: autonomous_agents.organization_id');
END;
CREATE TRIGGER agent_tasks_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_tasks
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tasks.organization_id');
END;
CREATE TRIGGER task_steps_organization_id_immutable BEFORE UPDATE OF organization_id ON task_steps
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: task_steps.organization_id');
END;
CREATE TRIGGER tools_organization_id_immutable BEFORE UPDATE OF organization_id ON tools
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.organization_id');
END;
CREATE TRIGGER agent_tools_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_tools
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tools.organization_id');
END;
CREATE TRIGGER tool_executions_organization_id_immutable BEFORE UPDATE OF organization_id ON tool_executions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.organization_id');
END;
CREATE TRIGGER knowledge_bases_organization_id_immutable BEFORE UPDATE OF organization_id ON knowledge_bases
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: knowledge_bases.organization_id');
END;
CREATE TRIGGER documents_organization_id_immutable BEFORE UPDATE OF organization_id ON documents
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.organization_id');
END;
CREATE TRIGGER chunks_organization_id_immutable BEFORE UPDATE OF organization_id ON chunks
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunks.organization_id');
END;
CREATE TRIGGER embedding_queue_organization_id_immutable BEFORE UPDATE OF organization_id ON embedding_queue
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: embedding_queue.organization_id');
END;
CREATE TRIGGER agent_knowledge_bases_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_knowledge_bases
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.organization_id');
END;
CREATE TRIGGER intents_organization_id_immutable BEFORE UPDATE OF organization_id ON intents
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intents.organization_id');
END;
CREATE TRIGGER intent_examples_organization_id_immutable BEFORE UPDATE OF organization_id ON intent_examples
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intent_examples.organization_id');
END;
CREATE TRIGGER entities_organization_id_immutable BEFORE UPDATE OF organization_id ON entities
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entities.organization_id');
END;
CREATE TRIGGER entity_values_organization_id_immutable BEFORE UPDATE OF organization_id ON entity_values
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_values.organization_id');
END;
CREATE TRIGGER nlu_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON nlu_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.organization_id');
END;
CREATE TRIGGER fine_tune_models_organization_id_immutable BEFORE UPDATE OF organization_id ON fine_tune_models
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.organization_id');
END;
CREATE TRIGGER fine_tune_datasets_organization_id_immutable BEFORE UPDATE OF organization_id ON fine_tune_datasets
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_datasets.organization_id');
END;
CREATE TRIGGER fine_tune_jobs_organization_id_immutable BEFORE UPDATE OF organization_id ON fine_tune_jobs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.organization_id');
END;
CREATE TRIGGER fine_tuning_metrics_organization_id_immutable BEFORE UPDATE OF organization_id ON fine_tuning_metrics
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tuning_metrics.organization_id');
END;
CREATE TRIGGER model_versions_organization_id_immutable BEFORE UPDATE OF organization_id ON model_versions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.organization_id');
END;
CREATE TRIGGER ab_tests_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_tests
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.organization_id');
END;
CREATE TRIGGER ab_test_results_organization_id_immutable BEFORE UPDATE OF organization_id ON ab_test_results
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.organization_id');
END;
CREATE TRIGGER channels_organization_id_immutable BEFORE UPDATE OF organization_id ON channels
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.organization_id');
END;
CREATE TRIGGER channel_contacts_organization_id_immutable BEFORE UPDATE OF organization_id ON channel_contacts
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_contacts.organization_id');
END;
CREATE TRIGGER channel_messages_organization_id_immutable BEFORE UPDATE OF organization_id ON channel_messages
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.organization_id');
END;
CREATE TRIGGER channel_templates_organization_id_immutable BEFORE UPDATE OF organization_id ON channel_templates
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_templates.organization_id');
END;
CREATE TRIGGER channel_webhooks_organization_id_immutable BEFORE UPDATE OF organization_id ON channel_webhooks
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.organization_id');
END;
CREATE TRIGGER integrations_organization_id_immutable BEFORE UPDATE OF organization_id ON integrations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integrations.organization_id');
END;
CREATE TRIGGER integration_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON integration_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.organization_id');
END;
CREATE TRIGGER voice_bots_organization_id_immutable BEFORE UPDATE OF organization_id ON voice_bots
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bots.organization_id');
END;
CREATE TRIGGER phone_numbers_organization_id_immutable BEFORE UPDATE OF organization_id ON phone_numbers
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: phone_numbers.organization_id');
END;
CREATE TRIGGER calls_organization_id_immutable BEFORE UPDATE OF organization_id ON calls
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.organization_id');
END;
CREATE TRIGGER call_segments_organization_id_immutable BEFORE UPDATE OF organization_id ON call_segments
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: call_segments.organization_id');
END;
CREATE TRIGGER voice_bot_creations_organization_id_immutable BEFORE UPDATE OF organization_id ON voice_bot_creations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_creations.organization_id');
END;
CREATE TRIGGER voice_bot_sessions_organization_id_immutable BEFORE UPDATE OF organization_id ON voice_bot_sessions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_sessions.organization_id');
END;
CREATE TRIGGER work_clones_organization_id_immutable BEFORE UPDATE OF organization_id ON work_clones
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: work_clones.organization_id');
END;
CREATE TRIGGER clone_training_data_organization_id_immutable BEFORE UPDATE OF organization_id ON clone_training_data
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_training_data.organization_id');
END;
CREATE TRIGGER clone_responses_organization_id_immutable BEFORE UPDATE OF organization_id ON clone_responses
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_responses.organization_id');
END;
CREATE TRIGGER clone_sessions_organization_id_immutable BEFORE UPDATE OF organization_id ON clone_sessions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_sessions.organization_id');
END;
CREATE TRIGGER recovery_campaigns_organization_id_immutable BEFORE UPDATE OF organization_id ON recovery_campaigns
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_campaigns.organization_id');
END;
CREATE TRIGGER recovery_events_organization_id_immutable BEFORE UPDATE OF organization_id ON recovery_events
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_events.organization_id');
END;
CREATE TRIGGER recovery_messages_organization_id_immutable BEFORE UPDATE OF organization_id ON recovery_messages
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.organization_id');
END;
CREATE TRIGGER recovery_analytics_organization_id_immutable BEFORE UPDATE OF organization_id ON recovery_analytics
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_analytics.organization_id');
END;
CREATE TRIGGER customer_health_scores_organization_id_immutable BEFORE UPDATE OF organization_id ON customer_health_scores
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: customer_health_scores.organization_id');
END;
CREATE TRIGGER customer_health_score_history_organization_id_immutable BEFORE UPDATE OF organization_id ON customer_health_score_history
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: customer_health_score_history.organization_id');
END;
CREATE TRIGGER plugin_installations_organization_id_immutable BEFORE UPDATE OF organization_id ON plugin_installations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: plugin_installations.organization_id');
END;
CREATE TRIGGER sso_configurations_organization_id_immutable BEFORE UPDATE OF organization_id ON sso_configurations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_configurations.organization_id');
END;
CREATE TRIGGER sso_domains_organization_id_immutable BEFORE UPDATE OF organization_id ON sso_domains
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_domains.organization_id');
END;
CREATE TRIGGER sso_user_mappings_organization_id_immutable BEFORE UPDATE OF organization_id ON sso_user_mappings
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_user_mappings.organization_id');
END;
CREATE TRIGGER sso_login_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON sso_login_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_login_logs.organization_id');
END;

-- tenant consistency: a child belongs to its parent's organization

CREATE TRIGGER team_members_team_id_tenant_insert BEFORE INSERT ON team_members
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_members.team_id');
END;
CREATE TRIGGER team_members_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON team_members
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_members.team_id');
END;
CREATE TRIGGER team_members_team_role_id_tenant_insert BEFORE INSERT ON team_members
WHEN NEW.team_role_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM team_roles WHERE id = NEW.team_role_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_members.team_role_id');
END;
CREATE TRIGGER team_members_team_role_id_tenant_update BEFORE UPDATE OF team_role_id, organization_id ON team_members
WHEN NEW.team_role_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM team_roles WHERE id = NEW.team_role_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_members.team_role_id');
END;
CREATE TRIGGER team_invitations_team_id_tenant_insert BEFORE INSERT ON team_invitations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.team_id');
END;
CREATE TRIGGER team_invitations_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON team_invitations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.team_id');
END;
CREATE TRIGGER team_invitations_team_role_id_tenant_insert BEFORE INSERT ON team_invitations
WHEN NEW.team_role_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM team_roles WHERE id = NEW.team_role_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.team_role_id');
END;
CREATE TRIGGER team_invitations_team_role_id_tenant_update BEFORE UPDATE OF team_role_id, organization_id ON team_invitations
WHEN NEW.team_role_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM team_roles WHERE id = NEW.team_role_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.team_role_id');
END;
CREATE TRIGGER whitelabel_settings_logo_file_id_tenant_insert BEFORE INSERT ON whitelabel_settings
WHEN NEW.logo_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.logo_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.logo_file_id');
END;
CREATE TRIGGER whitelabel_settings_logo_file_id_tenant_update BEFORE UPDATE OF logo_file_id, organization_id ON whitelabel_settings
WHEN NEW.logo_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.logo_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.logo_file_id');
END;
CREATE TRIGGER whitelabel_settings_logo_dark_file_id_tenant_insert BEFORE INSERT ON whitelabel_settings
WHEN NEW.logo_dark_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.logo_dark_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.logo_dark_file_id');
END;
CREATE TRIGGER whitelabel_settings_logo_dark_file_id_tenant_update BEFORE UPDATE OF logo_dark_file_id, organization_id ON whitelabel_settings
WHEN NEW.logo_dark_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.logo_dark_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.logo_dark_file_id');
END;
CREATE TRIGGER whitelabel_settings_favicon_file_id_tenant_insert BEFORE INSERT ON whitelabel_settings
WHEN NEW.favicon_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.favicon_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.favicon_file_id');
END;
CREATE TRIGGER whitelabel_settings_favicon_file_id_tenant_update BEFORE UPDATE OF favicon_file_id, organization_id ON whitelabel_settings
WHEN NEW.favicon_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.favicon_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: whitelabel_settings.favicon_file_id');
END;
CREATE TRIGGER api_tokens_bot_id_tenant_insert BEFORE INSERT ON api_tokens
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: api_tokens.bot_id');
END;
CREATE TRIGGER api_tokens_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON api_tokens
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: api_tokens.bot_id');
END;
CREATE TRIGGER entity_versions_branch_id_tenant_insert BEFORE INSERT ON entity_versions
WHEN NEW.branch_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_branches WHERE id = NEW.branch_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_versions.branch_id');
END;
CREATE TRIGGER entity_versions_branch_id_tenant_update BEFORE UPDATE OF branch_id, organization_id ON entity_versions
WHEN NEW.branch_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_branches WHERE id = NEW.branch_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_versions.branch_id');
END;
CREATE TRIGGER entity_branches_base_version_id_tenant_insert BEFORE INSERT ON entity_branches
WHEN NEW.base_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_versions WHERE id = NEW.base_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_branches.base_version_id');
END;
CREATE TRIGGER entity_branches_base_version_id_tenant_update BEFORE UPDATE OF base_version_id, organization_id ON entity_branches
WHEN NEW.base_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_versions WHERE id = NEW.base_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_branches.base_version_id');
END;
CREATE TRIGGER entity_branches_head_version_id_tenant_insert BEFORE INSERT ON entity_branches
WHEN NEW.head_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_versions WHERE id = NEW.head_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_branches.head_version_id');
END;
CREATE TRIGGER entity_branches_head_version_id_tenant_update BEFORE UPDATE OF head_version_id, organization_id ON entity_branches
WHEN NEW.head_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entity_versions WHERE id = NEW.head_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_branches.head_version_id');
END;
CREATE TRIGGER webhook_logs_webhook_id_tenant_insert BEFORE INSERT ON webhook_logs
WHEN NEW.webhook_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM webhooks WHERE id = NEW.webhook_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: webhook_logs.webhook_id');
END;
CREATE TRIGGER webhook_logs_webhook_id_tenant_update BEFORE UPDATE OF webhook_id, organization_id ON webhook_logs
WHEN NEW.webhook_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM webhooks WHERE id = NEW.webhook_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: webhook_logs.webhook_id');
END;
CREATE TRIGGER payment_history_subscription_id_tenant_insert BEFORE INSERT ON payment_history
WHEN NEW.subscription_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM user_subscriptions WHERE id = NEW.subscription_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: payment_history.subscription_id');
END;
CREATE TRIGGER payment_history_subscription_id_tenant_update BEFORE UPDATE OF subscription_id, organization_id ON payment_history
WHEN NEW.subscription_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM user_subscriptions WHERE id = NEW.subscription_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: payment_history.subscription_id');
END;
CREATE TRIGGER usage_tracking_bot_id_tenant_insert BEFORE INSERT ON usage_tracking
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.bot_id');
END;
CREATE TRIGGER usage_tracking_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON usage_tracking
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: usage_tracking.bot_id');
END;
CREATE TRIGGER bots_team_id_tenant_insert BEFORE INSERT ON bots
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bots.team_id');
END;
CREATE TRIGGER bots_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON bots
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bots.team_id');
END;
CREATE TRIGGER bots_avatar_file_id_tenant_insert BEFORE INSERT ON bots
WHEN NEW.avatar_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.avatar_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bots.avatar_file_id');
END;
CREATE TRIGGER bots_avatar_file_id_tenant_update BEFORE UPDATE OF avatar_file_id, organization_id ON bots
WHEN NEW.avatar_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.avatar_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bots.avatar_file_id');
END;
CREATE TRIGGER bot_messages_bot_id_tenant_insert BEFORE INSERT ON bot_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_messages.bot_id');
END;
CREATE TRIGGER bot_messages_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON bot_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_messages.bot_id');
END;
CREATE TRIGGER bot_flows_bot_id_tenant_insert BEFORE INSERT ON bot_flows
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_flows.bot_id');
END;
CREATE TRIGGER bot_flows_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON bot_flows
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: bot_flows.bot_id');
END;
CREATE TRIGGER flow_orchestrations_bot_id_tenant_insert BEFORE INSERT ON flow_orchestrations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_orchestrations.bot_id');
END;
CREATE TRIGGER flow_orchestrations_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON flow_orchestrations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_orchestrations.bot_id');
END;
CREATE TRIGGER flow_transitions_orchestration_id_tenant_insert BEFORE INSERT ON flow_transitions
WHEN NEW.orchestration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM flow_orchestrations WHERE id = NEW.orchestration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_transitions.orchestration_id');
END;
CREATE TRIGGER flow_transitions_orchestration_id_tenant_update BEFORE UPDATE OF orchestration_id, organization_id ON flow_transitions
WHEN NEW.orchestration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM flow_orchestrations WHERE id = NEW.orchestration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_transitions.orchestration_id');
END;
CREATE TRIGGER flow_variables_orchestration_id_tenant_insert BEFORE INSERT ON flow_variables
WHEN NEW.orchestration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM flow_orchestrations WHERE id = NEW.orchestration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_variables.orchestration_id');
END;
CREATE TRIGGER flow_variables_orchestration_id_tenant_update BEFORE UPDATE OF orchestration_id, organization_id ON flow_variables
WHEN NEW.orchestration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM flow_orchestrations WHERE id = NEW.orchestration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: flow_variables.orchestration_id');
END;
CREATE TRIGGER conversations_bot_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.bot_id');
END;
CREATE TRIGGER conversations_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON conversations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.bot_id');
END;
CREATE TRIGGER conversations_channel_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.channel_id');
END;
CREATE TRIGGER conversations_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON conversations
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.channel_id');
END;
CREATE TRIGGER conversations_contact_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.contact_id');
END;
CREATE TRIGGER conversations_contact_id_tenant_update BEFORE UPDATE OF contact_id, organization_id ON conversations
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.contact_id');
END;
CREATE TRIGGER conversations_team_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.team_id');
END;
CREATE TRIGGER conversations_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON conversations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.team_id');
END;
CREATE TRIGGER widget_configs_bot_id_tenant_insert BEFORE INSERT ON widget_configs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_configs.bot_id');
END;
CREATE TRIGGER widget_configs_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON widget_configs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_configs.bot_id');
END;
CREATE TRIGGER widget_messages_bot_id_tenant_insert BEFORE INSERT ON widget_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_messages.bot_id');
END;
CREATE TRIGGER widget_messages_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON widget_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_messages.bot_id');
END;
CREATE TRIGGER widget_messages_conversation_id_tenant_insert BEFORE INSERT ON widget_messages
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_messages.conversation_id');
END;
CREATE TRIGGER widget_messages_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON widget_messages
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: widget_messages.conversation_id');
END;
CREATE TRIGGER ai_configurations_bot_id_tenant_insert BEFORE INSERT ON ai_configurations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.bot_id');
END;
CREATE TRIGGER ai_configurations_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON ai_configurations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.bot_id');
END;
CREATE TRIGGER ai_configurations_provider_id_tenant_insert BEFORE INSERT ON ai_configurations
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.provider_id');
END;
CREATE TRIGGER ai_configurations_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON ai_configurations
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.provider_id');
END;
CREATE TRIGGER ai_configurations_knowledge_base_id_tenant_insert BEFORE INSERT ON ai_configurations
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.knowledge_base_id');
END;
CREATE TRIGGER ai_configurations_knowledge_base_id_tenant_update BEFORE UPDATE OF knowledge_base_id, organization_id ON ai_configurations
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ai_configurations.knowledge_base_id');
END;
CREATE TRIGGER agents_bot_id_tenant_insert BEFORE INSERT ON agents
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agents.bot_id');
END;
CREATE TRIGGER agents_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON agents
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agents.bot_id');
END;
CREATE TRIGGER agents_provider_id_tenant_insert BEFORE INSERT ON agents
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agents.provider_id');
END;
CREATE TRIGGER agents_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON agents
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agents.provider_id');
END;
CREATE TRIGGER agent_workflows_bot_id_tenant_insert BEFORE INSERT ON agent_workflows
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_workflows.bot_id');
END;
CREATE TRIGGER agent_workflows_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON agent_workflows
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_workflows.bot_id');
END;
CREATE TRIGGER agent_workflows_entry_agent_id_tenant_insert BEFORE INSERT ON agent_workflows
WHEN NEW.entry_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.entry_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_workflows.entry_agent_id');
END;
CREATE TRIGGER agent_workflows_entry_agent_id_tenant_update BEFORE UPDATE OF entry_agent_id, organization_id ON agent_workflows
WHEN NEW.entry_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.entry_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_workflows.entry_agent_id');
END;
CREATE TRIGGER workflow_executions_workflow_id_tenant_insert BEFORE INSERT ON workflow_executions
WHEN NEW.workflow_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_workflows WHERE id = NEW.workflow_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: workflow_executions.workflow_id');
END;
CREATE TRIGGER workflow_executions_workflow_id_tenant_update BEFORE UPDATE OF workflow_id, organization_id ON workflow_executions
WHEN NEW.workflow_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_workflows WHERE id = NEW.workflow_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: workflow_executions.workflow_id');
END;
CREATE TRIGGER workflow_executions_bot_id_tenant_insert BEFORE INSERT ON workflow_executions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: workflow_executions.bot_id');
END;
CREATE TRIGGER workflow_executions_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON workflow_executions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: workflow_executions.bot_id');
END;
CREATE TRIGGER agent_execution_steps_execution_id_tenant_insert BEFORE INSERT ON agent_execution_steps
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_execution_steps.execution_id');
END;
CREATE TRIGGER agent_execution_steps_execution_id_tenant_update BEFORE UPDATE OF execution_id, organization_id ON agent_execution_steps
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_execution_steps.execution_id');
END;
CREATE TRIGGER agent_execution_steps_agent_id_tenant_insert BEFORE INSERT ON agent_execution_steps
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_execution_steps.agent_id');
END;
CREATE TRIGGER agent_execution_steps_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_execution_steps
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_execution_steps.agent_id');
END;
CREATE TRIGGER agent_messages_execution_id_tenant_insert BEFORE INSERT ON agent_messages
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.execution_id');
END;
CREATE TRIGGER agent_messages_execution_id_tenant_update BEFORE UPDATE OF execution_id, organization_id ON agent_messages
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.execution_id');
END;
CREATE TRIGGER agent_messages_from_agent_id_tenant_insert BEFORE INSERT ON agent_messages
WHEN NEW.from_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.from_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.from_agent_id');
END;
CREATE TRIGGER agent_messages_from_agent_id_tenant_update BEFORE UPDATE OF from_agent_id, organization_id ON agent_messages
WHEN NEW.from_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.from_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.from_agent_id');
END;
CREATE TRIGGER agent_messages_to_agent_id_tenant_insert BEFORE INSERT ON agent_messages
WHEN NEW.to_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.to_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.to_agent_id');
END;
CREATE TRIGGER agent_messages_to_agent_id_tenant_update BEFORE UPDATE OF to_agent_id, organization_id ON agent_messages
WHEN NEW.to_agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.to_agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_messages.to_agent_id');
END;
CREATE TRIGGER autonomous_agents_provider_id_tenant_insert BEFORE INSERT ON autonomous_agents
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: autonomous_agents.provider_id');
END;
CREATE TRIGGER autonomous_agents_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON autonomous_agents
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: autonomous_agents.provider_id');
END;
CREATE TRIGGER agent_tasks_agent_id_tenant_insert BEFORE INSERT ON agent_tasks
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM autonomous_agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tasks.agent_id');
END;
CREATE TRIGGER agent_tasks_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_tasks
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM autonomous_agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tasks.agent_id');
END;
CREATE TRIGGER task_steps_task_id_tenant_insert BEFORE INSERT ON task_steps
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: task_steps.task_id');
END;
CREATE TRIGGER task_steps_task_id_tenant_update BEFORE UPDATE OF task_id, organization_id ON task_steps
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: task_steps.task_id');
END;
CREATE TRIGGER tools_bot_id_tenant_insert BEFORE INSERT ON tools
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.bot_id');
END;
CREATE TRIGGER tools_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON tools
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.bot_id');
END;
CREATE TRIGGER agent_tools_agent_id_tenant_insert BEFORE INSERT ON agent_tools
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tools.agent_id');
END;
CREATE TRIGGER agent_tools_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_tools
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tools.agent_id');
END;
CREATE TRIGGER agent_tools_tool_id_tenant_insert BEFORE INSERT ON agent_tools
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tools.tool_id');
END;
CREATE TRIGGER agent_tools_tool_id_tenant_update BEFORE UPDATE OF tool_id, organization_id ON agent_tools
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_tools.tool_id');
END;
CREATE TRIGGER tool_executions_tool_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.tool_id');
END;
CREATE TRIGGER tool_executions_tool_id_tenant_update BEFORE UPDATE OF tool_id, organization_id ON tool_executions
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.tool_id');
END;
CREATE TRIGGER tool_executions_agent_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.agent_id');
END;
CREATE TRIGGER tool_executions_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON tool_executions
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.agent_id');
END;
CREATE TRIGGER tool_executions_execution_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.execution_id');
END;
CREATE TRIGGER tool_executions_execution_id_tenant_update BEFORE UPDATE OF execution_id, organization_id ON tool_executions
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.execution_id');
END;
CREATE TRIGGER tool_executions_task_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.task_id');
END;
CREATE TRIGGER tool_executions_task_id_tenant_update BEFORE UPDATE OF task_id, organization_id ON tool_executions
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.task_id');
END;
CREATE TRIGGER documents_knowledge_base_id_tenant_insert BEFORE INSERT ON documents
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.knowledge_base_id');
END;
CREATE TRIGGER documents_knowledge_base_id_tenant_update BEFORE UPDATE OF knowledge_base_id, organization_id ON documents
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.knowledge_base_id');
END;
CREATE TRIGGER documents_file_id_tenant_insert BEFORE INSERT ON documents
WHEN NEW.file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.file_id');
END;
CREATE TRIGGER documents_file_id_tenant_update BEFORE UPDATE OF file_id, organization_id ON documents
WHEN NEW.file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: documents.file_id');
END;
CREATE TRIGGER chunks_knowledge_base_id_tenant_insert BEFORE INSERT ON chunks
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunks.knowledge_base_id');
END;
CREATE TRIGGER chunks_knowledge_base_id_tenant_update BEFORE UPDATE OF knowledge_base_id, organization_id ON chunks
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunks.knowledge_base_id');
END;
CREATE TRIGGER chunks_document_id_tenant_insert BEFORE INSERT ON chunks
WHEN NEW.document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunks.document_id');
END;
CREATE TRIGGER chunks_document_id_tenant_update BEFORE UPDATE OF document_id, organization_id ON chunks
WHEN NEW.document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: chunks.document_id');
END;
CREATE TRIGGER embedding_queue_document_id_tenant_insert BEFORE INSERT ON embedding_queue
WHEN NEW.document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: embedding_queue.document_id');
END;
CREATE TRIGGER embedding_queue_document_id_tenant_update BEFORE UPDATE OF document_id, organization_id ON embedding_queue
WHEN NEW.document_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM documents WHERE id = NEW.document_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: embedding_queue.document_id');
END;
CREATE TRIGGER embedding_queue_job_id_tenant_insert BEFORE INSERT ON embedding_queue
WHEN NEW.job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM jobs WHERE id = NEW.job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: embedding_queue.job_id');
END;
CREATE TRIGGER embedding_queue_job_id_tenant_update BEFORE UPDATE OF job_id, organization_id ON embedding_queue
WHEN NEW.job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM jobs WHERE id = NEW.job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: embedding_queue.job_id');
END;
CREATE TRIGGER agent_knowledge_bases_knowledge_base_id_tenant_insert BEFORE INSERT ON agent_knowledge_bases
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.knowledge_base_id');
END;
CREATE TRIGGER agent_knowledge_bases_knowledge_base_id_tenant_update BEFORE UPDATE OF knowledge_base_id, organization_id ON agent_knowledge_bases
WHEN NEW.knowledge_base_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM knowledge_bases WHERE id = NEW.knowledge_base_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.knowledge_base_id');
END;
CREATE TRIGGER agent_knowledge_bases_agent_id_tenant_insert BEFORE INSERT ON agent_knowledge_bases
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.agent_id');
END;
CREATE TRIGGER agent_knowledge_bases_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_knowledge_bases
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.agent_id');
END;
CREATE TRIGGER agent_knowledge_bases_bot_id_tenant_insert BEFORE INSERT ON agent_knowledge_bases
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.bot_id');
END;
CREATE TRIGGER agent_knowledge_bases_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON agent_knowledge_bases
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_knowledge_bases.bot_id');
END;
CREATE TRIGGER intents_bot_id_tenant_insert BEFORE INSERT ON intents
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intents.bot_id');
END;
CREATE TRIGGER intents_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON intents
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intents.bot_id');
END;
CREATE TRIGGER intent_examples_intent_id_tenant_insert BEFORE INSERT ON intent_examples
WHEN NEW.intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intent_examples.intent_id');
END;
CREATE TRIGGER intent_examples_intent_id_tenant_update BEFORE UPDATE OF intent_id, organization_id ON intent_examples
WHEN NEW.intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: intent_examples.intent_id');
END;
CREATE TRIGGER entities_bot_id_tenant_insert BEFORE INSERT ON entities
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entities.bot_id');
END;
CREATE TRIGGER entities_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON entities
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entities.bot_id');
END;
CREATE TRIGGER entity_values_entity_id_tenant_insert BEFORE INSERT ON entity_values
WHEN NEW.entity_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entities WHERE id = NEW.entity_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_values.entity_id');
END;
CREATE TRIGGER entity_values_entity_id_tenant_update BEFORE UPDATE OF entity_id, organization_id ON entity_values
WHEN NEW.entity_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM entities WHERE id = NEW.entity_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: entity_values.entity_id');
END;
CREATE TRIGGER nlu_logs_bot_id_tenant_insert BEFORE INSERT ON nlu_logs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.bot_id');
END;
CREATE TRIGGER nlu_logs_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON nlu_logs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.bot_id');
END;
CREATE TRIGGER nlu_logs_detected_intent_id_tenant_insert BEFORE INSERT ON nlu_logs
WHEN NEW.detected_intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.detected_intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.detected_intent_id');
END;
CREATE TRIGGER nlu_logs_detected_intent_id_tenant_update BEFORE UPDATE OF detected_intent_id, organization_id ON nlu_logs
WHEN NEW.detected_intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.detected_intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.detected_intent_id');
END;
CREATE TRIGGER nlu_logs_model_version_id_tenant_insert BEFORE INSERT ON nlu_logs
WHEN NEW.model_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.model_version_id');
END;
CREATE TRIGGER nlu_logs_model_version_id_tenant_update BEFORE UPDATE OF model_version_id, organization_id ON nlu_logs
WHEN NEW.model_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.model_version_id');
END;
CREATE TRIGGER nlu_logs_resolved_intent_id_tenant_insert BEFORE INSERT ON nlu_logs
WHEN NEW.resolved_intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.resolved_intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.resolved_intent_id');
END;
CREATE TRIGGER nlu_logs_resolved_intent_id_tenant_update BEFORE UPDATE OF resolved_intent_id, organization_id ON nlu_logs
WHEN NEW.resolved_intent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM intents WHERE id = NEW.resolved_intent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: nlu_logs.resolved_intent_id');
END;
CREATE TRIGGER fine_tune_models_bot_id_tenant_insert BEFORE INSERT ON fine_tune_models
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.bot_id');
END;
CREATE TRIGGER fine_tune_models_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON fine_tune_models
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.bot_id');
END;
CREATE TRIGGER fine_tune_models_provider_id_tenant_insert BEFORE INSERT ON fine_tune_models
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.provider_id');
END;
CREATE TRIGGER fine_tune_models_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON fine_tune_models
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.provider_id');
END;
CREATE TRIGGER fine_tune_models_training_file_id_tenant_insert BEFORE INSERT ON fine_tune_models
WHEN NEW.training_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.training_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.training_file_id');
END;
CREATE TRIGGER fine_tune_models_training_file_id_tenant_update BEFORE UPDATE OF training_file_id, organization_id ON fine_tune_models
WHEN NEW.training_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.training_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_models.training_file_id');
END;
CREATE TRIGGER fine_tune_datasets_fine_tune_model_id_tenant_insert BEFORE INSERT ON fine_tune_datasets
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_datasets.fine_tune_model_id');
END;
CREATE TRIGGER fine_tune_datasets_fine_tune_model_id_tenant_update BEFORE UPDATE OF fine_tune_model_id, organization_id ON fine_tune_datasets
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_datasets.fine_tune_model_id');
END;
CREATE TRIGGER fine_tune_datasets_file_id_tenant_insert BEFORE INSERT ON fine_tune_datasets
WHEN NEW.file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_datasets.file_id');
END;
CREATE TRIGGER fine_tune_datasets_file_id_tenant_update BEFORE UPDATE OF file_id, organization_id ON fine_tune_datasets
WHEN NEW.file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_datasets.file_id');
END;
CREATE TRIGGER fine_tune_jobs_fine_tune_model_id_tenant_insert BEFORE INSERT ON fine_tune_jobs
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.fine_tune_model_id');
END;
CREATE TRIGGER fine_tune_jobs_fine_tune_model_id_tenant_update BEFORE UPDATE OF fine_tune_model_id, organization_id ON fine_tune_jobs
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.fine_tune_model_id');
END;
CREATE TRIGGER fine_tune_jobs_job_id_tenant_insert BEFORE INSERT ON fine_tune_jobs
WHEN NEW.job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM jobs WHERE id = NEW.job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.job_id');
END;
CREATE TRIGGER fine_tune_jobs_job_id_tenant_update BEFORE UPDATE OF job_id, organization_id ON fine_tune_jobs
WHEN NEW.job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM jobs WHERE id = NEW.job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.job_id');
END;
CREATE TRIGGER fine_tune_jobs_validation_file_id_tenant_insert BEFORE INSERT ON fine_tune_jobs
WHEN NEW.validation_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.validation_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.validation_file_id');
END;
CREATE TRIGGER fine_tune_jobs_validation_file_id_tenant_update BEFORE UPDATE OF validation_file_id, organization_id ON fine_tune_jobs
WHEN NEW.validation_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.validation_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tune_jobs.validation_file_id');
END;
CREATE TRIGGER fine_tuning_metrics_fine_tune_model_id_tenant_insert BEFORE INSERT ON fine_tuning_metrics
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tuning_metrics.fine_tune_model_id');
END;
CREATE TRIGGER fine_tuning_metrics_fine_tune_model_id_tenant_update BEFORE UPDATE OF fine_tune_model_id, organization_id ON fine_tuning_metrics
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tuning_metrics.fine_tune_model_id');
END;
CREATE TRIGGER fine_tuning_metrics_fine_tune_job_id_tenant_insert BEFORE INSERT ON fine_tuning_metrics
WHEN NEW.fine_tune_job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_jobs WHERE id = NEW.fine_tune_job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tuning_metrics.fine_tune_job_id');
END;
CREATE TRIGGER fine_tuning_metrics_fine_tune_job_id_tenant_update BEFORE UPDATE OF fine_tune_job_id, organization_id ON fine_tuning_metrics
WHEN NEW.fine_tune_job_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_jobs WHERE id = NEW.fine_tune_job_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: fine_tuning_metrics.fine_tune_job_id');
END;
CREATE TRIGGER model_versions_fine_tune_model_id_tenant_insert BEFORE INSERT ON model_versions
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.fine_tune_model_id');
END;
CREATE TRIGGER model_versions_fine_tune_model_id_tenant_update BEFORE UPDATE OF fine_tune_model_id, organization_id ON model_versions
WHEN NEW.fine_tune_model_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM fine_tune_models WHERE id = NEW.fine_tune_model_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.fine_tune_model_id');
END;
CREATE TRIGGER model_versions_bot_id_tenant_insert BEFORE INSERT ON model_versions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.bot_id');
END;
CREATE TRIGGER model_versions_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON model_versions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.bot_id');
END;
CREATE TRIGGER model_versions_weights_file_id_tenant_insert BEFORE INSERT ON model_versions
WHEN NEW.weights_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.weights_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.weights_file_id');
END;
CREATE TRIGGER model_versions_weights_file_id_tenant_update BEFORE UPDATE OF weights_file_id, organization_id ON model_versions
WHEN NEW.weights_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.weights_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: model_versions.weights_file_id');
END;
CREATE TRIGGER ab_tests_bot_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.bot_id');
END;
CREATE TRIGGER ab_tests_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON ab_tests
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.bot_id');
END;
CREATE TRIGGER ab_tests_model_a_version_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.model_a_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_a_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.model_a_version_id');
END;
CREATE TRIGGER ab_tests_model_a_version_id_tenant_update BEFORE UPDATE OF model_a_version_id, organization_id ON ab_tests
WHEN NEW.model_a_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_a_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.model_a_version_id');
END;
CREATE TRIGGER ab_tests_model_b_version_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.model_b_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_b_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.model_b_version_id');
END;
CREATE TRIGGER ab_tests_model_b_version_id_tenant_update BEFORE UPDATE OF model_b_version_id, organization_id ON ab_tests
WHEN NEW.model_b_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.model_b_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.model_b_version_id');
END;
CREATE TRIGGER ab_tests_winner_version_id_tenant_insert BEFORE INSERT ON ab_tests
WHEN NEW.winner_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.winner_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.winner_version_id');
END;
CREATE TRIGGER ab_tests_winner_version_id_tenant_update BEFORE UPDATE OF winner_version_id, organization_id ON ab_tests
WHEN NEW.winner_version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.winner_version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_tests.winner_version_id');
END;
CREATE TRIGGER ab_test_results_ab_test_id_tenant_insert BEFORE INSERT ON ab_test_results
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.ab_test_id');
END;
CREATE TRIGGER ab_test_results_ab_test_id_tenant_update BEFORE UPDATE OF ab_test_id, organization_id ON ab_test_results
WHEN NEW.ab_test_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM ab_tests WHERE id = NEW.ab_test_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.ab_test_id');
END;
CREATE TRIGGER ab_test_results_version_id_tenant_insert BEFORE INSERT ON ab_test_results
WHEN NEW.version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.version_id');
END;
CREATE TRIGGER ab_test_results_version_id_tenant_update BEFORE UPDATE OF version_id, organization_id ON ab_test_results
WHEN NEW.version_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM model_versions WHERE id = NEW.version_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: ab_test_results.version_id');
END;
CREATE TRIGGER channels_bot_id_tenant_insert BEFORE INSERT ON channels
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.bot_id');
END;
CREATE TRIGGER channels_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON channels
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.bot_id');
END;
CREATE TRIGGER channel_contacts_channel_id_tenant_insert BEFORE INSERT ON channel_contacts
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_contacts.channel_id');
END;
CREATE TRIGGER channel_contacts_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON channel_contacts
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_contacts.channel_id');
END;
CREATE TRIGGER channel_messages_channel_id_tenant_insert BEFORE INSERT ON channel_messages
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.channel_id');
END;
CREATE TRIGGER channel_messages_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON channel_messages
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.channel_id');
END;
CREATE TRIGGER channel_messages_bot_id_tenant_insert BEFORE INSERT ON channel_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.bot_id');
END;
CREATE TRIGGER channel_messages_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON channel_messages
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.bot_id');
END;
CREATE TRIGGER channel_messages_conversation_id_tenant_insert BEFORE INSERT ON channel_messages
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.conversation_id');
END;
CREATE TRIGGER channel_messages_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON channel_messages
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.conversation_id');
END;
CREATE TRIGGER channel_messages_contact_id_tenant_insert BEFORE INSERT ON channel_messages
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.contact_id');
END;
CREATE TRIGGER channel_messages_contact_id_tenant_update BEFORE UPDATE OF contact_id, organization_id ON channel_messages
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_messages.contact_id');
END;
CREATE TRIGGER channel_templates_channel_id_tenant_insert BEFORE INSERT ON channel_templates
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_templates.channel_id');
END;
CREATE TRIGGER channel_templates_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON channel_templates
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_templates.channel_id');
END;
CREATE TRIGGER channel_webhooks_channel_id_tenant_insert BEFORE INSERT ON channel_webhooks
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.channel_id');
END;
CREATE TRIGGER channel_webhooks_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON channel_webhooks
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.channel_id');
END;
CREATE TRIGGER integration_logs_integration_id_tenant_insert BEFORE INSERT ON integration_logs
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.integration_id');
END;
CREATE TRIGGER integration_logs_integration_id_tenant_update BEFORE UPDATE OF integration_id, organization_id ON integration_logs
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.integration_id');
END;
CREATE TRIGGER voice_bots_bot_id_tenant_insert BEFORE INSERT ON voice_bots
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bots.bot_id');
END;
CREATE TRIGGER voice_bots_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON voice_bots
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bots.bot_id');
END;
CREATE TRIGGER voice_bots_phone_number_id_tenant_insert BEFORE INSERT ON voice_bots
WHEN NEW.phone_number_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM phone_numbers WHERE id = NEW.phone_number_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bots.phone_number_id');
END;
CREATE TRIGGER voice_bots_phone_number_id_tenant_update BEFORE UPDATE OF phone_number_id, organization_id ON voice_bots
WHEN NEW.phone_number_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM phone_numbers WHERE id = NEW.phone_number_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bots.phone_number_id');
END;
CREATE TRIGGER phone_numbers_assigned_bot_id_tenant_insert BEFORE INSERT ON phone_numbers
WHEN NEW.assigned_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bots WHERE id = NEW.assigned_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: phone_numbers.assigned_bot_id');
END;
CREATE TRIGGER phone_numbers_assigned_bot_id_tenant_update BEFORE UPDATE OF assigned_bot_id, organization_id ON phone_numbers
WHEN NEW.assigned_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bots WHERE id = NEW.assigned_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: phone_numbers.assigned_bot_id');
END;
CREATE TRIGGER calls_voice_bot_id_tenant_insert BEFORE INSERT ON calls
WHEN NEW.voice_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bots WHERE id = NEW.voice_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.voice_bot_id');
END;
CREATE TRIGGER calls_voice_bot_id_tenant_update BEFORE UPDATE OF voice_bot_id, organization_id ON calls
WHEN NEW.voice_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bots WHERE id = NEW.voice_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.voice_bot_id');
END;
CREATE TRIGGER calls_phone_number_id_tenant_insert BEFORE INSERT ON calls
WHEN NEW.phone_number_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM phone_numbers WHERE id = NEW.phone_number_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.phone_number_id');
END;
CREATE TRIGGER calls_phone_number_id_tenant_update BEFORE UPDATE OF phone_number_id, organization_id ON calls
WHEN NEW.phone_number_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM phone_numbers WHERE id = NEW.phone_number_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.phone_number_id');
END;
CREATE TRIGGER calls_conversation_id_tenant_insert BEFORE INSERT ON calls
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.conversation_id');
END;
CREATE TRIGGER calls_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON calls
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.conversation_id');
END;
CREATE TRIGGER calls_recording_file_id_tenant_insert BEFORE INSERT ON calls
WHEN NEW.recording_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.recording_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.recording_file_id');
END;
CREATE TRIGGER calls_recording_file_id_tenant_update BEFORE UPDATE OF recording_file_id, organization_id ON calls
WHEN NEW.recording_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.recording_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: calls.recording_file_id');
END;
CREATE TRIGGER call_segments_call_id_tenant_insert BEFORE INSERT ON call_segments
WHEN NEW.call_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM calls WHERE id = NEW.call_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: call_segments.call_id');
END;
CREATE TRIGGER call_segments_call_id_tenant_update BEFORE UPDATE OF call_id, organization_id ON call_segments
WHEN NEW.call_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM calls WHERE id = NEW.call_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: call_segments.call_id');
END;
CREATE TRIGGER call_segments_audio_file_id_tenant_insert BEFORE INSERT ON call_segments
WHEN NEW.audio_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.audio_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: call_segments.audio_file_id');
END;
CREATE TRIGGER call_segments_audio_file_id_tenant_update BEFORE UPDATE OF audio_file_id, organization_id ON call_segments
WHEN NEW.audio_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.audio_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: call_segments.audio_file_id');
END;
CREATE TRIGGER voice_bot_creations_audio_file_id_tenant_insert BEFORE INSERT ON voice_bot_creations
WHEN NEW.audio_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.audio_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_creations.audio_file_id');
END;
CREATE TRIGGER voice_bot_creations_audio_file_id_tenant_update BEFORE UPDATE OF audio_file_id, organization_id ON voice_bot_creations
WHEN NEW.audio_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.audio_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_creations.audio_file_id');
END;
CREATE TRIGGER voice_bot_creations_generated_bot_id_tenant_insert BEFORE INSERT ON voice_bot_creations
WHEN NEW.generated_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.generated_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_creations.generated_bot_id');
END;
CREATE TRIGGER voice_bot_creations_generated_bot_id_tenant_update BEFORE UPDATE OF generated_bot_id, organization_id ON voice_bot_creations
WHEN NEW.generated_bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.generated_bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_creations.generated_bot_id');
END;
CREATE TRIGGER voice_bot_sessions_creation_id_tenant_insert BEFORE INSERT ON voice_bot_sessions
WHEN NEW.creation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bot_creations WHERE id = NEW.creation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_sessions.creation_id');
END;
CREATE TRIGGER voice_bot_sessions_creation_id_tenant_update BEFORE UPDATE OF creation_id, organization_id ON voice_bot_sessions
WHEN NEW.creation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM voice_bot_creations WHERE id = NEW.creation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_bot_sessions.creation_id');
END;
CREATE TRIGGER work_clones_avatar_file_id_tenant_insert BEFORE INSERT ON work_clones
WHEN NEW.avatar_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.avatar_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: work_clones.avatar_file_id');
END;
CREATE TRIGGER work_clones_avatar_file_id_tenant_update BEFORE UPDATE OF avatar_file_id, organization_id ON work_clones
WHEN NEW.avatar_file_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.avatar_file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: work_clones.avatar_file_id');
END;
CREATE TRIGGER work_clones_provider_id_tenant_insert BEFORE INSERT ON work_clones
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: work_clones.provider_id');
END;
CREATE TRIGGER work_clones_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON work_clones
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: work_clones.provider_id');
END;
CREATE TRIGGER clone_training_data_clone_id_tenant_insert BEFORE INSERT ON clone_training_data
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_training_data.clone_id');
END;
CREATE TRIGGER clone_training_data_clone_id_tenant_update BEFORE UPDATE OF clone_id, organization_id ON clone_training_data
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_training_data.clone_id');
END;
CREATE TRIGGER clone_responses_clone_id_tenant_insert BEFORE INSERT ON clone_responses
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_responses.clone_id');
END;
CREATE TRIGGER clone_responses_clone_id_tenant_update BEFORE UPDATE OF clone_id, organization_id ON clone_responses
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_responses.clone_id');
END;
CREATE TRIGGER clone_sessions_clone_id_tenant_insert BEFORE INSERT ON clone_sessions
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_sessions.clone_id');
END;
CREATE TRIGGER clone_sessions_clone_id_tenant_update BEFORE UPDATE OF clone_id, organization_id ON clone_sessions
WHEN NEW.clone_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM work_clones WHERE id = NEW.clone_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: clone_sessions.clone_id');
END;
CREATE TRIGGER recovery_campaigns_bot_id_tenant_insert BEFORE INSERT ON recovery_campaigns
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_campaigns.bot_id');
END;
CREATE TRIGGER recovery_campaigns_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON recovery_campaigns
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_campaigns.bot_id');
END;
CREATE TRIGGER recovery_events_campaign_id_tenant_insert BEFORE INSERT ON recovery_events
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_events.campaign_id');
END;
CREATE TRIGGER recovery_events_campaign_id_tenant_update BEFORE UPDATE OF campaign_id, organization_id ON recovery_events
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_events.campaign_id');
END;
CREATE TRIGGER recovery_messages_campaign_id_tenant_insert BEFORE INSERT ON recovery_messages
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.campaign_id');
END;
CREATE TRIGGER recovery_messages_campaign_id_tenant_update BEFORE UPDATE OF campaign_id, organization_id ON recovery_messages
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.campaign_id');
END;
CREATE TRIGGER recovery_messages_event_id_tenant_insert BEFORE INSERT ON recovery_messages
WHEN NEW.event_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_events WHERE id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.event_id');
END;
CREATE TRIGGER recovery_messages_event_id_tenant_update BEFORE UPDATE OF event_id, organization_id ON recovery_messages
WHEN NEW.event_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_events WHERE id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.event_id');
END;
CREATE TRIGGER recovery_analytics_campaign_id_tenant_insert BEFORE INSERT ON recovery_analytics
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_analytics.campaign_id');
END;
CREATE TRIGGER recovery_analytics_campaign_id_tenant_update BEFORE UPDATE OF campaign_id, organization_id ON recovery_analytics
WHEN NEW.campaign_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM recovery_campaigns WHERE id = NEW.campaign_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_analytics.campaign_id');
END;
CREATE TRIGGER customer_health_score_history_customer_health_id_tenant_insert BEFORE INSERT ON customer_health_score_history
WHEN NEW.customer_health_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM customer_health_scores WHERE id = NEW.customer_health_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: customer_health_score_history.customer_health_id');
END;
CREATE TRIGGER customer_health_score_history_customer_health_id_tenant_update BEFORE UPDATE OF customer_health_id, organization_id ON customer_health_score_history
WHEN NEW.customer_health_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM customer_health_scores WHERE id = NEW.customer_health_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: customer_health_score_history.customer_health_id');
END;
CREATE TRIGGER sso_domains_sso_configuration_id_tenant_insert BEFORE INSERT ON sso_domains
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_domains.sso_configuration_id');
END;
CREATE TRIGGER sso_domains_sso_configuration_id_tenant_update BEFORE UPDATE OF sso_configuration_id, organization_id ON sso_domains
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_domains.sso_configuration_id');
END;
CREATE TRIGGER sso_user_mappings_sso_configuration_id_tenant_insert BEFORE INSERT ON sso_user_mappings
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_user_mappings.sso_configuration_id');
END;
CREATE TRIGGER sso_user_mappings_sso_configuration_id_tenant_update BEFORE UPDATE OF sso_configuration_id, organization_id ON sso_user_mappings
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_user_mappings.sso_configuration_id');
END;
CREATE TRIGGER sso_login_logs_sso_configuration_id_tenant_insert BEFORE INSERT ON sso_login_logs
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_login_logs.sso_configuration_id');
END;
CREATE TRIGGER sso_login_logs_sso_configuration_id_tenant_update BEFORE UPDATE OF sso_configuration_id, organization_id ON sso_login_logs
WHEN NEW.sso_configuration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_login_logs.sso_configuration_id');
END;

-- foreign-key support indexes

CREATE INDEX organizations_fk_plan_tier ON organizations (plan_tier);
CREATE INDEX team_members_fk_user_id ON team_members (user_id);
CREATE INDEX team_members_fk_team_role_id ON team_members (team_role_id);
CREATE INDEX team_invitations_fk_role_id ON team_invitations (role_id);
CREATE INDEX team_invitations_fk_team_id ON team_invitations (team_id);
CREATE INDEX team_invitations_fk_team_role_id ON team_invitations (team_role_id);
CREATE INDEX whitelabel_settings_fk_logo_file_id ON whitelabel_settings (logo_file_id);
CREATE INDEX whitelabel_settings_fk_logo_dark_file_id ON whitelabel_settings (logo_dark_file_id);
CREATE INDEX whitelabel_settings_fk_favicon_file_id ON whitelabel_settings (favicon_file_id);
CREATE INDEX api_tokens_fk_bot_id ON api_tokens (bot_id);
CREATE INDEX entity_versions_fk_branch_id ON entity_versions (branch_id);
CREATE INDEX entity_branches_fk_base_version_id ON entity_branches (base_version_id);
CREATE INDEX entity_branches_fk_head_version_id ON entity_branches (head_version_id);
CREATE INDEX webhook_logs_fk_webhook_id ON webhook_logs (webhook_id);
CREATE INDEX user_subscriptions_fk_plan_id ON user_subscriptions (plan_id);
CREATE INDEX payment_history_fk_subscription_id ON payment_history (subscription_id);
CREATE INDEX usage_tracking_fk_bot_id ON usage_tracking (bot_id);
CREATE INDEX bots_fk_team_id ON bots (team_id);
CREATE INDEX bots_fk_avatar_file_id ON bots (avatar_file_id);
CREATE INDEX bot_messages_fk_bot_id ON bot_messages (bot_id);
CREATE INDEX flow_transitions_fk_orchestration_id ON flow_transitions (orchestration_id);
CREATE INDEX conversations_fk_channel_id ON conversations (channel_id);
CREATE INDEX conversations_fk_contact_id ON conversations (contact_id);
CREATE INDEX conversations_fk_team_id ON conversations (team_id);
CREATE INDEX widget_messages_fk_bot_id ON widget_messages (bot_id);
CREATE INDEX widget_messages_fk_conversation_id ON widget_messages (conversation_id);
CREATE INDEX ai_configurations_fk_provider_id ON ai_configurations (provider_id);
CREATE INDEX ai_configurations_fk_knowledge_base_id ON ai_configurations (knowledge_base_id);
CREATE INDEX agents_fk_bot_id ON agents (bot_id);
CREATE INDEX agents_fk_provider_id ON agents (provider_id);
CREATE INDEX agent_workflows_fk_bot_id ON agent_workflows (bot_id);
CREATE INDEX agent_workflows_fk_entry_agent_id ON agent_workflows (entry_agent_id);
CREATE INDEX workflow_executions_fk_workflow_id ON workflow_executions (workflow_id);
CREATE INDEX workflow_executions_fk_bot_id ON workflow_executions (bot_id);
CREATE INDEX agent_execution_steps_fk_execution_id ON agent_execution_steps (execution_id);
CREATE INDEX agent_execution_steps_fk_agent_id ON agent_execution_steps (agent_id);
CREATE INDEX agent_messages_fk_execution_id ON agent_messages (execution_id);
CREATE INDEX agent_messages_fk_from_agent_id ON agent_messages (from_agent_id);
CREATE INDEX agent_messages_fk_to_agent_id ON agent_messages (to_agent_id);
CREATE INDEX autonomous_agents_fk_provider_id ON autonomous_agents (provider_id);
CREATE INDEX agent_tasks_fk_agent_id ON agent_tasks (agent_id);
CREATE INDEX tools_fk_bot_id ON tools (bot_id);
CREATE INDEX tool_executions_fk_tool_id ON tool_executions (tool_id);
CREATE INDEX tool_executions_fk_agent_id ON tool_executions (agent_id);
CREATE INDEX tool_executions_fk_execution_id ON tool_executions (execution_id);
CREATE INDEX tool_executions_fk_task_id ON tool_executions (task_id);
CREATE INDEX documents_fk_knowledge_base_id ON documents (knowledge_base_id);
CREATE INDEX documents_fk_file_id ON documents (file_id);
CREATE INDEX chunks_fk_knowledge_base_id ON chunks (knowledge_base_id);
CREATE INDEX embedding_queue_fk_job_id ON embedding_queue (job_id);
CREATE INDEX agent_knowledge_bases_fk_knowledge_base_id ON agent_knowledge_bases (knowledge_base_id);
CREATE INDEX nlu_logs_fk_bot_id ON nlu_logs (bot_id);
CREATE INDEX nlu_logs_fk_detected_intent_id ON nlu_logs (detected_intent_id);
CREATE INDEX nlu_logs_fk_model_version_id ON nlu_logs (model_version_id);
CREATE INDEX nlu_logs_fk_resolved_intent_id ON nlu_logs (resolved_intent_id);
CREATE INDEX fine_tune_models_fk_bot_id ON fine_tune_models (bot_id);
CREATE INDEX fine_tune_models_fk_provider_id ON fine_tune_models (provider_id);
CREATE INDEX fine_tune_models_fk_training_file_id ON fine_tune_models (training_file_id);
CREATE INDEX fine_tune_datasets_fk_fine_tune_model_id ON fine_tune_datasets (fine_tune_model_id);
CREATE INDEX fine_tune_datasets_fk_file_id ON fine_tune_datasets (file_id);
CREATE INDEX fine_tune_jobs_fk_fine_tune_model_id ON fine_tune_jobs (fine_tune_model_id);
CREATE INDEX fine_tune_jobs_fk_job_id ON fine_tune_jobs (job_id);
CREATE INDEX fine_tune_jobs_fk_validation_file_id ON fine_tune_jobs (validation_file_id);
CREATE INDEX fine_tuning_metrics_fk_fine_tune_job_id ON fine_tuning_metrics (fine_tune_job_id);
CREATE INDEX model_versions_fk_fine_tune_model_id ON model_versions (fine_tune_model_id);
CREATE INDEX model_versions_fk_bot_id ON model_versions (bot_id);
CREATE INDEX model_versions_fk_weights_file_id ON model_versions (weights_file_id);
CREATE INDEX ab_tests_fk_bot_id ON ab_tests (bot_id);
CREATE INDEX ab_tests_fk_model_a_version_id ON ab_tests (model_a_version_id);
CREATE INDEX ab_tests_fk_model_b_version_id ON ab_tests (model_b_version_id);
CREATE INDEX ab_tests_fk_winner_version_id ON ab_tests (winner_version_id);
CREATE INDEX ab_test_results_fk_ab_test_id ON ab_test_results (ab_test_id);
CREATE INDEX ab_test_results_fk_version_id ON ab_test_results (version_id);
CREATE INDEX channels_fk_bot_id ON channels (bot_id);
CREATE INDEX channel_messages_fk_channel_id ON channel_messages (channel_id);
CREATE INDEX channel_messages_fk_bot_id ON channel_messages (bot_id);
CREATE INDEX channel_messages_fk_conversation_id ON channel_messages (conversation_id);
CREATE INDEX channel_messages_fk_contact_id ON channel_messages (contact_id);
CREATE INDEX channel_webhooks_fk_channel_id ON channel_webhooks (channel_id);
CREATE INDEX integration_logs_fk_integration_id ON integration_logs (integration_id);
CREATE INDEX voice_bots_fk_bot_id ON voice_bots (bot_id);
CREATE INDEX voice_bots_fk_phone_number_id ON voice_bots (phone_number_id);
CREATE INDEX phone_numbers_fk_assigned_bot_id ON phone_numbers (assigned_bot_id);
CREATE INDEX calls_fk_voice_bot_id ON calls (voice_bot_id);
CREATE INDEX calls_fk_phone_number_id ON calls (phone_number_id);
CREATE INDEX calls_fk_conversation_id ON calls (conversation_id);
CREATE INDEX calls_fk_recording_file_id ON calls (recording_file_id);
CREATE INDEX call_segments_fk_audio_file_id ON call_segments (audio_file_id);
CREATE INDEX voice_bot_creations_fk_audio_file_id ON voice_bot_creations (audio_file_id);
CREATE INDEX voice_bot_creations_fk_generated_bot_id ON voice_bot_creations (generated_bot_id);
CREATE INDEX work_clones_fk_avatar_file_id ON work_clones (avatar_file_id);
CREATE INDEX work_clones_fk_provider_id ON work_clones (provider_id);
CREATE INDEX clone_training_data_fk_clone_id ON clone_training_data (clone_id);
CREATE INDEX clone_responses_fk_clone_id ON clone_responses (clone_id);
CREATE INDEX clone_sessions_fk_clone_id ON clone_sessions (clone_id);
CREATE INDEX recovery_campaigns_fk_bot_id ON recovery_campaigns (bot_id);
CREATE INDEX recovery_events_fk_campaign_id ON recovery_events (campaign_id);
CREATE INDEX recovery_messages_fk_campaign_id ON recovery_messages (campaign_id);
CREATE INDEX recovery_analytics_fk_campaign_id ON recovery_analytics (campaign_id);
CREATE INDEX customer_health_score_history_fk_customer_health_id ON customer_health_score_history (customer_health_id);
CREATE INDEX plugins_fk_category_id ON plugins (category_id);
CREATE INDEX plugins_fk_icon_file_id ON plugins (icon_file_id);
CREATE INDEX plugins_fk_banner_file_id ON plugins (banner_file_id);
CREATE INDEX plugin_versions_fk_bundle_file_id ON plugin_versions (bundle_file_id);
CREATE INDEX plugin_reviews_fk_user_id ON plugin_reviews (user_id);
CREATE INDEX sso_configurations_fk_default_role_id ON sso_configurations (default_role_id);
CREATE INDEX sso_domains_fk_sso_configuration_id ON sso_domains (sso_configuration_id);
CREATE INDEX sso_login_logs_fk_sso_configuration_id ON sso_login_logs (sso_configuration_id);
