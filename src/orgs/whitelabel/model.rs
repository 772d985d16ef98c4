//! White-label types.

use serde::{Deserialize, Serialize};

/// An organization's branding as its members see and edit it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WhiteLabel {
    pub brand_name: String,
    pub primary_color: String,
    pub secondary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
    /// Host name under which the UI shows this branding before sign-in.
    pub custom_domain: Option<String>,
    pub custom_domain_verified: bool,
    pub support_email: Option<String>,
    pub company_name: Option<String>,
    pub company_website: Option<String>,
    /// Sender name of the organization's emails.
    pub email_from_name: Option<String>,
    /// Sender address of the organization's emails (the SMTP server must accept it).
    pub email_from_address: Option<String>,
    pub email_header_color: Option<String>,
    pub email_footer_text: Option<String>,
    pub privacy_policy_url: Option<String>,
    pub terms_of_service_url: Option<String>,
    pub show_powered_by: bool,
    /// Where the uploaded logo is served, if any.
    pub logo_url: Option<String>,
    pub favicon_url: Option<String>,
    pub updated_at: Option<String>,
}

/// `PATCH /orgs/{org_id}/whitelabel`: fields to change; `null` clears an
/// optional one.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWhiteLabelRequest {
    pub brand_name: Option<String>,
    /// `#rrggbb`.
    #[schema(example = "#0f766e")]
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub accent_color: Option<String>,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>, example = "bots.acme.example")]
    pub custom_domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub support_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub company_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub company_website: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub email_from_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub email_from_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub email_header_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub email_footer_text: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub privacy_policy_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub terms_of_service_url: Option<Option<String>>,
    pub show_powered_by: Option<bool>,
}

/// Branding anyone may read: what the sign-in page of a custom domain shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicBranding {
    pub brand_name: String,
    pub primary_color: String,
    pub secondary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
    pub logo_url: Option<String>,
    pub favicon_url: Option<String>,
    pub company_name: Option<String>,
    pub support_email: Option<String>,
    pub privacy_policy_url: Option<String>,
    pub terms_of_service_url: Option<String>,
    pub show_powered_by: bool,
}

impl From<WhiteLabel> for PublicBranding {
    fn from(w: WhiteLabel) -> Self {
        PublicBranding {
            brand_name: w.brand_name,
            primary_color: w.primary_color,
            secondary_color: w.secondary_color,
            accent_color: w.accent_color,
            background_color: w.background_color,
            text_color: w.text_color,
            logo_url: w.logo_url,
            favicon_url: w.favicon_url,
            company_name: w.company_name,
            support_email: w.support_email,
            privacy_policy_url: w.privacy_policy_url,
            terms_of_service_url: w.terms_of_service_url,
            show_powered_by: w.show_powered_by,
        }
    }
}

/// Query of `GET /branding`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrandingQuery {
    /// A custom domain; default: the request's Host.
    pub domain: Option<String>,
}
