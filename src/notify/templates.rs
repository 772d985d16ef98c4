//! The emails botbuilder sends, rendered as plain text and HTML with the
//! sending organization's white-label branding.

use std::fmt::Write as _;

/// Branding applied to an email (an organization's white-label settings, or
/// the instance defaults).
#[derive(Debug, Clone)]
pub struct Branding {
    pub brand_name: String,
    pub header_color: String,
    pub footer_text: Option<String>,
    pub support_email: Option<String>,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub show_powered_by: bool,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            brand_name: "botbuilder".to_owned(),
            header_color: "#6d28d9".to_owned(),
            footer_text: None,
            support_email: None,
            from_name: None,
            from_address: None,
            show_powered_by: true,
        }
    }
}

/// A rendered email.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One paragraph or call to action of an email body.
enum Block<'a> {
    Para(String),
    Button { label: &'a str, url: &'a str },
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render(branding: &Branding, subject: String, blocks: &[Block<'_>]) -> Rendered {
    let mut text = String::new();
    let mut body = String::new();
    for block in blocks {
        match block {
            Block::Para(p) => {
                let _ = writeln!(text, "{p}\n");
                let _ = write!(body, "<p style=\"margin:0 0 16px\">{}</p>", escape(p));
            }
            Block::Button { label, url } => {
                let _ = writeln!(text, "{label}: {url}\n");
                let _ = write!(
                    body,
                    "<p style=\"margin:24px 0\"><a href=\"{url}\" style=\"background:{color};color:#ffffff;\
                     padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block\">{label}</a></p>\
                     <p style=\"margin:0 0 16px;font-size:12px;color:#6b7280\">Or open this link: {url}</p>",
                    url = escape(url),
                    color = escape(&branding.header_color),
                    label = escape(label),
                );
            }
        }
    }
    let mut footer = String::new();
    if let Some(f) = &branding.footer_text {
        let _ = writeln!(text, "--\n{f}");
        let _ = write!(footer, "<p style=\"margin:0 0 8px\">{}</p>", escape(f));
    }
    if let Some(support) = &branding.support_email {
        let _ = writeln!(text, "Questions? {support}");
        let _ = write!(footer, "<p style=\"margin:0 0 8px\">Questions? {}</p>", escape(support));
    }
    if branding.show_powered_by {
        text.push_str("Powered by botbuilder\n");
        footer.push_str("<p style=\"margin:0\">Powered by botbuilder</p>");
    }
    let html = format!(
        "<!doctype html><html><body style=\"margin:0;background:#f3f4f6;font-family:Helvetica,Arial,sans-serif;color:#1f2937\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td align=\"center\" style=\"padding:24px\">\
         <table role=\"presentation\" width=\"560\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#ffffff;border-radius:8px;overflow:hidden\">\
         <tr><td style=\"background:{color};color:#ffffff;padding:16px 24px;font-size:18px;font-weight:bold\">{brand}</td></tr>\
         <tr><td style=\"padding:24px;font-size:15px;line-height:1.5\">{body}</td></tr>\
         <tr><td style=\"padding:16px 24px;font-size:12px;color:#6b7280;border-top:1px solid #e5e7eb\">{footer}</td></tr>\
         </table></td></tr></table></body></html>",
        color = escape(&branding.header_color),
        brand = escape(&branding.brand_name),
    );
    Rendered { subject, text, html }
}

/// "Confirm your email address."
#[must_use]
pub fn verify_email(branding: &Branding, name: &str, link: &str) -> Rendered {
    render(
        branding,
        format!("Confirm your email address for {}", branding.brand_name),
        &[
            Block::Para(format!("Hello {name},")),
            Block::Para("Please confirm that this is your email address. The link is valid for 24 hours.".to_owned()),
            Block::Button { label: "Confirm email address", url: link },
            Block::Para("If you did not create an account, you can ignore this email.".to_owned()),
        ],
    )
}

/// "Someone tried to sign up with your address" (sign-up answers the same
/// for taken addresses, so their owner is told here instead).
#[must_use]
pub fn signup_attempt(branding: &Branding, login_link: &str, reset_link: &str) -> Rendered {
    render(
        branding,
        format!("Someone tried to sign up to {} with your email address", branding.brand_name),
        &[
            Block::Para(
                "Someone tried to create an account with your email address, which already has one.".to_owned(),
            ),
            Block::Para("If it was you, sign in, or reset your password if you forgot it:".to_owned()),
            Block::Button { label: "Sign in", url: login_link },
            Block::Button { label: "Reset your password", url: reset_link },
            Block::Para("If it was not you, ignore this email: nothing was changed.".to_owned()),
        ],
    )
}

/// "Reset your password."
#[must_use]
pub fn password_reset(branding: &Branding, link: &str) -> Rendered {
    render(
        branding,
        format!("Reset your {} password", branding.brand_name),
        &[
            Block::Para("Someone (hopefully you) asked to reset the password of your account.".to_owned()),
            Block::Button { label: "Choose a new password", url: link },
            Block::Para(
                "The link is valid for one hour and works once. If you did not ask for it, ignore this email: \
                 your password stays as it is."
                    .to_owned(),
            ),
        ],
    )
}

/// "X invited you to join Y."
#[must_use]
pub fn invitation(branding: &Branding, org_name: &str, inviter: &str, role: &str, link: &str) -> Rendered {
    render(
        branding,
        format!("{inviter} invited you to {org_name} on {}", branding.brand_name),
        &[
            Block::Para(format!("{inviter} invited you to join the organization {org_name} as {role}.")),
            Block::Button { label: "Accept the invitation", url: link },
            Block::Para(
                "Sign in or create an account with this email address to accept. The invitation expires in 7 days."
                    .to_owned(),
            ),
        ],
    )
}

/// A security notice about the account (password changed, 2FA turned off…).
#[must_use]
pub fn security_notice(branding: &Branding, what: &str) -> Rendered {
    render(
        branding,
        format!("Security notice from {}", branding.brand_name),
        &[
            Block::Para(format!("{what}.")),
            Block::Para(
                "If this was you, there is nothing to do. If not, reset your password at once and review your \
                 active sessions."
                    .to_owned(),
            ),
        ],
    )
}

/// A notice about the organization: a subject and plain paragraphs.
#[must_use]
pub fn notice(branding: &Branding, subject: String, paragraphs: &[String]) -> Rendered {
    let blocks: Vec<Block<'_>> = paragraphs.iter().map(|p| Block::Para(p.clone())).collect();
    render(branding, subject, &blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_html_and_branding_applies() {
        let branding = Branding {
            brand_name: "Acme <Bots>".into(),
            header_color: "#112233".into(),
            footer_text: Some("Acme Inc.".into()),
            show_powered_by: false,
            ..Branding::default()
        };
        let r = invitation(&branding, "<script>", "Eve", "viewer", "https://x.io/a?token=abc");
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
        assert!(r.html.contains("#112233") && r.html.contains("Acme &lt;Bots&gt;"));
        assert!(r.text.contains("https://x.io/a?token=abc") && r.text.contains("Acme Inc."));
        assert!(!r.text.contains("Powered by"));
        assert!(r.subject.contains("Acme <Bots>"));
    }
}
