//! Integer id newtypes: one per table that the API exposes, so that a `BotId`
//! cannot be passed where an `OrgId` is expected.

/// Declares an `i64` id newtype that maps to SQL, JSON and `OpenAPI` as a plain integer.
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A row of `users`.
    UserId
);
id_type!(
    /// A row of `organizations`.
    OrgId
);
id_type!(
    /// A row of `bots`.
    BotId
);
id_type!(
    /// A row of `roles`.
    RoleId
);
id_type!(
    /// A row of `user_sessions`.
    SessionId
);
id_type!(
    /// A row of `api_tokens`.
    ApiTokenId
);
id_type!(
    /// A row of `jobs`.
    JobId
);
id_type!(
    /// A row of `teams`.
    TeamId
);
id_type!(
    /// A row of `team_roles`.
    TeamRoleId
);
id_type!(
    /// A row of `team_invitations`.
    InvitationId
);
id_type!(
    /// A row of `entity_versions`.
    VersionId
);
id_type!(
    /// A row of `entity_branches`.
    BranchId
);
id_type!(
    /// A row of `files`.
    FileId
);
id_type!(
    /// A row of `admin_ip_whitelist`.
    AllowlistEntryId
);
