//! The one permission catalogue. Roles are sets of these; API token scopes
//! are subsets of their creator's; every tenant route names the one it needs
//! as a type parameter (`BotScope<perm::BotsWrite>`), so a route without an
//! authorization decision does not compile.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($marker:ident => $name:literal: $description:literal),* $(,)?) => {
        /// A permission of the catalogue (`domain.action`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum Permission {
            $(#[serde(rename = $name)] $marker),*
        }

        impl Permission {
            /// The whole catalogue, in display order.
            pub const ALL: &'static [Permission] = &[$(Permission::$marker),*];

            /// The wire name, e.g. `bots.write`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$marker => $name),* }
            }

            /// What the permission allows, for the roles editor.
            #[must_use]
            pub fn description(self) -> &'static str {
                match self { $(Permission::$marker => $description),* }
            }

            /// Parses a wire name.
            #[must_use]
            pub fn parse(name: &str) -> Option<Permission> {
                match name { $($name => Some(Permission::$marker),)* _ => None }
            }
        }

        /// Marker types naming a permission at the type level.
        pub mod perm {
            $(
                #[doc = concat!("Requires `", $name, "`.")]
                #[derive(Debug)]
                pub struct $marker;
                impl super::Required for $marker {
                    const PERMISSION: Option<super::Permission> = Some(super::Permission::$marker);
                }
            )*

            /// Any active member of the organization (no specific permission).
            #[derive(Debug)]
            pub struct Member;
            impl super::Required for Member {
                const PERMISSION: Option<super::Permission> = None;
            }
        }
    };
}

/// What a route requires, named by a marker type of [`perm`].
pub trait Required {
    const PERMISSION: Option<Permission>;
}

permissions! {
    OrgManage => "org.manage": "Rename the organization, change its settings and white-label branding.",
    OrgDelete => "org.delete": "Delete the organization and all its data.",
    MembersRead => "members.read": "See members, teams and pending invitations.",
    MembersManage => "members.manage": "Invite, remove and change the role of members; manage teams.",
    RolesManage => "roles.manage": "Create, edit and delete custom roles.",
    ApiTokensManage => "api_tokens.manage": "Create and revoke API tokens (scopes limited to one's own permissions).",
    AuditRead => "audit.read": "Read and export the audit log.",
    BotsRead => "bots.read": "See bots, their flows, NLU data, settings and versions.",
    BotsWrite => "bots.write": "Create and edit bots, flows (drafts), NLU data, canned messages and widget settings.",
    BotsDelete => "bots.delete": "Delete bots.",
    FlowsPublish => "flows.publish": "Publish and roll back bot flows.",
    NluTrain => "nlu.train": "Train and activate NLU models.",
    KnowledgeRead => "knowledge.read": "See knowledge bases, documents and run searches.",
    KnowledgeWrite => "knowledge.write": "Create knowledge bases, upload and delete documents.",
    ConversationsRead => "conversations.read": "Read conversations and transcripts.",
    ConversationsHandle => "conversations.handle": "Take over conversations from the inbox and reply as a human agent.",
    ConversationsWrite => "conversations.write": "Start conversations with a bot and send end-user messages through the API.",
    ChannelsManage => "channels.manage": "Connect and configure channels (Telegram, WhatsApp, Slack, …).",
    AgentsRead => "agents.read": "See AI agents, tools and workflows and their runs.",
    AgentsWrite => "agents.write": "Create and edit AI agents, tools and workflows, and run them.",
    AnalyticsRead => "analytics.read": "See analytics dashboards and usage.",
    BillingManage => "billing.manage": "Change the plan and payment details; see invoices.",
    IntegrationsManage => "integrations.manage": "Manage LLM providers, integrations, webhooks and plugins.",
    SsoManage => "sso.manage": "Configure single sign-on and SCIM.",
    ClonesUse => "clones.use": "Create work clones of oneself, import their training material, train them, and draft replies with the clones one owns or that are shared with one.",
}

/// A set of permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    #[must_use]
    pub fn all() -> Self {
        Self(Permission::ALL.iter().copied().collect())
    }

    #[must_use]
    pub fn contains(&self, p: Permission) -> bool {
        self.0.contains(&p)
    }

    #[must_use]
    pub fn is_subset(&self, other: &PermissionSet) -> bool {
        self.0.is_subset(&other.0)
    }

    #[must_use]
    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        Self(self.0.intersection(&other.0).copied().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    /// Wire names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|p| p.as_str()).collect()
    }

    /// Parses a JSON array of names as stored in `roles.permissions` and
    /// `api_tokens.scopes`; unknown names (from a newer binary) are ignored.
    #[must_use]
    pub fn from_json(json: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(json).unwrap_or_default();
        Self(names.iter().filter_map(|n| Permission::parse(n)).collect())
    }

    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.names()).to_string()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The built-in roles every organization has (rows of `roles` with
/// `organization_id IS NULL`). Their permissions come from here, not the DB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    Owner,
    Admin,
    Editor,
    Agent,
    Viewer,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 5] =
        [BuiltinRole::Owner, BuiltinRole::Admin, BuiltinRole::Editor, BuiltinRole::Agent, BuiltinRole::Viewer];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Editor => "editor",
            BuiltinRole::Agent => "agent",
            BuiltinRole::Viewer => "viewer",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The role's permissions.
    #[must_use]
    pub fn permissions(self) -> PermissionSet {
        use Permission as P;
        match self {
            BuiltinRole::Owner => PermissionSet::all(),
            BuiltinRole::Admin => PermissionSet::all().iter().filter(|p| *p != P::OrgDelete).collect(),
            BuiltinRole::Editor => [
                P::MembersRead,
                P::ApiTokensManage,
                P::BotsRead,
                P::BotsWrite,
                P::BotsDelete,
                P::FlowsPublish,
                P::NluTrain,
                P::KnowledgeRead,
                P::KnowledgeWrite,
                P::ConversationsRead,
                P::ConversationsHandle,
                P::ConversationsWrite,
                P::ChannelsManage,
                P::AgentsRead,
                P::AgentsWrite,
                P::AnalyticsRead,
                P::ClonesUse,
            ]
            .into_iter()
            .collect(),
            BuiltinRole::Agent => [
                P::MembersRead,
                P::BotsRead,
                P::KnowledgeRead,
                P::ConversationsRead,
                P::ConversationsHandle,
                P::AnalyticsRead,
                P::ClonesUse,
            ]
            .into_iter()
            .collect(),
            BuiltinRole::Viewer => {
                [P::MembersRead, P::BotsRead, P::KnowledgeRead, P::ConversationsRead, P::AgentsRead, P::AnalyticsRead]
                    .into_iter()
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
            assert!(seen.insert(p.as_str()));
            assert_eq!(serde_json::to_value(p).expect("ser"), p.as_str());
        }
    }

    #[test]
    fn roles_are_nested() {
        let [owner, admin, editor, agent, viewer] = BuiltinRole::ALL.map(BuiltinRole::permissions);
        assert!(admin.is_subset(&owner) && editor.is_subset(&admin));
        assert!(agent.is_subset(&editor) && viewer.is_subset(&editor));
        assert!(!admin.contains(Permission::OrgDelete));
    }
}
