//! Writing a draft from the retrieved past exchanges: with a chat model
//! (the clone's provider, else the organization's default) conditioned on
//! the style profile and the examples; without one, the best past reply
//! adapted — its greeting addressed to the new sender when the message is
//! signed, and the person's usual sign-off added.

use std::fmt::Write as _;

use serde_json::Value;

use super::model::{CloneCitation, DraftMode, TrainingPair, WorkClone};
use super::style::StyleProfile;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::http::Tenant;
use crate::llm::call;
use crate::llm::client::{ChatOptions, Message};
use crate::llm::service::{chain, llm_error};

/// Retrieval scores of a cited pair.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    pub score: f64,
    pub similarity: f64,
}

/// A written draft.
pub struct Written {
    pub mode: DraftMode,
    pub text: String,
    pub citations: Vec<CloneCitation>,
    /// (prompt, completion) tokens of the model call.
    pub tokens: (i64, i64),
    pub note: String,
}

fn citation(s: Scored, p: &TrainingPair) -> CloneCitation {
    CloneCitation {
        pair_id: p.id,
        score: (s.score * 10_000.0).round() / 10_000.0,
        similarity: (s.similarity * 10_000.0).round() / 10_000.0,
        context: p.context.clone(),
        reply: p.reply.clone(),
    }
}

/// Writes the draft.
pub async fn write(
    state: &AppState,
    tenant: &Tenant,
    clone: &WorkClone,
    profile: &StyleProfile,
    message: &str,
    cited: &[(Scored, TrainingPair)],
) -> AppResult<Written> {
    let citations: Vec<CloneCitation> = cited.iter().map(|(s, p)| citation(*s, p)).collect();
    let Some(chain) = chain(state, tenant, clone.provider_id, clone.ai_model.as_deref(), None).await? else {
        let Some((_, best)) = cited.first() else {
            return Err(AppError::internal(anyhow::anyhow!("a trained version without pairs")));
        };
        return Ok(Written {
            mode: DraftMode::Retrieval,
            text: adapt(best, profile, message),
            citations: citations.into_iter().take(1).collect(),
            tokens: (0, 0),
            note: format!(
                "No chat model is configured for this clone or organization: this is the past reply to the most \
                 similar message (pair {}), with the greeting addressed to the sender where the message is signed and \
                 the usual sign-off.",
                best.id.0
            ),
        });
    };
    let messages = prompt(&clone.name, profile, message, cited);
    let options = ChatOptions { temperature: Some(0.7), max_tokens: Some(800), ..ChatOptions::default() };
    let (completion, served) =
        call::complete(state, &chain, &messages, &options).await.map_err(|failed| llm_error(&failed.error))?;
    let (prompt_tokens, completion_tokens) =
        completion.usage.map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    if let Some(u) = completion.usage {
        crate::knowledge::service::record_usage(
            state,
            tenant,
            None,
            "llm_tokens",
            i64::try_from(u.total_tokens).unwrap_or(0),
        )
        .await;
    }
    Ok(Written {
        mode: DraftMode::Model,
        text: completion.text.trim().to_owned(),
        citations,
        tokens: (i64::try_from(prompt_tokens).unwrap_or(0), i64::try_from(completion_tokens).unwrap_or(0)),
        note: format!(
            "Drafted by {} ({}) from the style profile and the {} cited past exchanges.",
            served.target.provider_name,
            served.target.config.model,
            cited.len()
        ),
    })
}

/// The chat messages asking the model to answer as the person.
fn prompt(name: &str, profile: &StyleProfile, message: &str, cited: &[(Scored, TrainingPair)]) -> Vec<Message> {
    let mut system = format!(
        "You draft replies as {name}, imitating how they write. Their style: {}\n\n\
         Past exchanges of theirs most similar to the new message (they answered the message with the reply):\n",
        profile.describe()
    );
    for (i, (_, p)) in cited.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(system, "\n[{}] Message: {}\nReply: {}\n", i + 1, p.context, p.reply);
    }
    system.push_str(
        "\nWrite only the reply to the new message, in their voice, with their usual greeting and sign-off. \
         Reuse facts from the past replies only where they apply; never invent commitments.",
    );
    vec![Message::new("system", system), Message::new("user", message.to_owned())]
}

/// The best past reply, re-addressed and signed as the person usually signs.
fn adapt(best: &TrainingPair, profile: &StyleProfile, message: &str) -> String {
    let mut body = best.reply.clone();
    let greeting = best.features.get("greeting").and_then(Value::as_str);
    if let (Some(greeting), Some(name)) = (greeting, sender_name(message))
        && let Some(word) = greeting.split_whitespace().next()
        && body.starts_with(greeting)
    {
        let word = word.trim_end_matches([',', '!', ':']);
        body = format!("{word} {name},{}", &body[greeting.len()..]);
    }
    let sign_off = best
        .features
        .get("sign_off")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| profile.sign_offs.first().map(|s| s.text.clone()));
    if let Some(s) = sign_off {
        body.push_str("\n\n");
        body.push_str(&s);
    }
    body
}

/// The name a message is signed with: its last line when that is one to
/// three capitalized words (and the message has more lines than that).
fn sender_name(message: &str) -> Option<String> {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    let last = lines.last()?;
    let words: Vec<&str> = last.split_whitespace().collect();
    let is_name = (1..=3).contains(&words.len())
        && last.chars().count() <= 30
        && words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase) && w.chars().all(char::is_alphabetic));
    is_name.then(|| (*last).to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clones::model::CloneDataId;

    #[test]
    fn the_best_reply_is_readdressed_and_signed() {
        let best = TrainingPair {
            id: CloneDataId(1),
            data_type: "email".into(),
            source: Some("mbox".into()),
            context: "Can we move the call?".into(),
            reply: "Hi Bob,\nThursday works for me.".into(),
            features: json!({ "greeting": "Hi Bob,", "sign_off": "Best," }),
            enabled: true,
            created_at: String::new(),
        };
        let text = adapt(&best, &StyleProfile::default(), "Could we push the review to Friday?\nCarol");
        assert_eq!(text, "Hi Carol,\nThursday works for me.\n\nBest,");
        assert_eq!(sender_name("just one line"), None);
        assert_eq!(sender_name("Thanks for the help!\nNo idea why it broke"), None);
    }
}
