//! The `form` node: slot filling. On entry the slots are filled from the
//! entities of the message that reached the form (the one that triggered
//! the intent); then the form asks, one prompt at a time, only for the
//! required slots still missing. While it waits, every message is read
//! for all slots, so a later "no, to Munich" re-fills the slot of `city`
//! in role `to` (a correction) even when another slot is being asked.
//! A refused value (its slot's `validation` is false) re-asks with the
//! slot's prompt; after `retries` refusals, or on a cancel keyword or
//! intent, the form leaves through `cancelled`, else through `done`.

use serde_json::Value;

use super::{EntityHit, Scope, Turn, Wait, contains_phrase, expr, to_text, truthy};
use crate::flows::compile::{Form, Node, Slot};

/// The evaluation scope of a slot's validation: `value` is the candidate.
struct WithValue<'a> {
    inner: &'a dyn Scope,
    value: &'a Value,
}

impl Scope for WithValue<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        if name == "value" { Some(self.value.clone()) } else { self.inner.lookup(name) }
    }
}

/// Which slot each entity of a message fills. A value found in a role goes
/// to the slot of that entity and role; a value without a role goes to the
/// slot being asked, else to the first empty slot of its entity, else to
/// the only slot of its entity (a correction). Each slot takes one value.
pub(super) fn match_slots(
    form: &Form,
    hits: &[EntityHit],
    asking: Option<usize>,
    filled: &[String],
) -> Vec<(usize, Value)> {
    let mut order: Vec<&EntityHit> = hits.iter().collect();
    // Values with a role first, so a bare value cannot take their slot.
    order.sort_by_key(|h| h.role.is_none());
    let mut taken: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for hit in order {
        let candidates: Vec<usize> = form
            .slots
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.entity == hit.entity
                    && !taken.contains(i)
                    && (s.role.is_none() || hit.role.is_none() || s.role == hit.role)
            })
            .map(|(i, _)| i)
            .collect();
        let exact = candidates.iter().copied().find(|&i| hit.role.is_some() && form.slots[i].role == hit.role);
        let chosen = exact
            .or_else(|| candidates.iter().copied().find(|&i| Some(i) == asking))
            .or_else(|| candidates.iter().copied().find(|&i| !filled.contains(&form.slots[i].variable)))
            .or_else(|| (candidates.len() == 1).then(|| candidates[0]));
        if let Some(i) = chosen {
            taken.push(i);
            out.push((i, hit.value.clone()));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

impl Turn<'_> {
    /// The entities of this turn's message.
    fn message_hits(&self) -> Vec<EntityHit> {
        self.nlu.as_ref().map(|n| n.entities.clone()).unwrap_or_default()
    }

    /// Whether `value` passes the slot's validation (a failing expression
    /// refuses the value and is reported).
    fn slot_accepts(&mut self, node: &str, slot: &Slot, value: &Value) -> bool {
        let Some(check) = &slot.validation else { return true };
        match self.with_scope(node, |s| expr::eval(check, &WithValue { inner: s, value })) {
            Ok(v) => truthy(&v),
            Err(err) => {
                self.problem(Some(node), format!("validation of `{}` failed: {err}", slot.variable));
                false
            }
        }
    }

    /// Fills the slots the message gives; returns the refused slots.
    fn fill_slots(
        &mut self,
        node: &str,
        form: &Form,
        found: Vec<(usize, Value)>,
        filled: &mut Vec<String>,
    ) -> Vec<usize> {
        let mut refused = Vec::new();
        for (i, value) in found {
            let slot = &form.slots[i];
            if !self.slot_accepts(node, slot, &value) {
                refused.push(i);
                continue;
            }
            let corrected = filled.contains(&slot.variable);
            self.event(format!(
                "slot `{}` {} {}",
                slot.variable,
                if corrected { "corrected to" } else { "filled with" },
                to_text(&value)
            ));
            self.assign(node, &slot.variable.clone(), value);
            if !corrected {
                filled.push(slot.variable.clone());
            }
        }
        refused
    }

    /// Asks for the next missing required slot and waits, or returns `done`.
    fn ask_next(
        &mut self,
        flow: &str,
        node: &Node,
        form: &Form,
        filled: Vec<String>,
        retries: u32,
    ) -> Option<&'static str> {
        let Some(slot) = form.slots.iter().find(|s| s.required && !filled.contains(&s.variable)) else {
            self.trace(flow, node, Some(format!("done ({} slots)", filled.len())));
            return Some("done");
        };
        self.trace(flow, node, Some(format!("asks for `{}`", slot.variable)));
        let prompt = self.render_content(&node.id, &slot.prompt);
        self.say(prompt);
        self.state.node = Some(node.id.clone());
        self.state.wait = Some(Wait::Form { asking: slot.variable.clone(), retries, filled });
        None
    }

    /// The form is reached: prefill from the message, then ask or finish.
    pub(super) fn form_enter(&mut self, flow: &str, node: &Node, form: &Form) -> Option<&'static str> {
        let mut filled = Vec::new();
        if form.keep_existing {
            for s in &form.slots {
                let has = self.with_scope(&node.id, |scope| scope.lookup(&s.variable)).is_some_and(|v| !v.is_null());
                if has {
                    filled.push(s.variable.clone());
                }
            }
        }
        if self.text.is_some() {
            let hits = self.message_hits();
            let found = match_slots(form, &hits, None, &filled);
            if !found.is_empty() {
                self.consumed = true;
            }
            // A refused value on entry is simply asked for again.
            self.fill_slots(&node.id, form, found, &mut filled);
        }
        self.ask_next(flow, node, form, filled, 0)
    }

    /// The user answered while the form waits.
    pub(super) async fn form_answer(
        &mut self,
        flow: &str,
        node: &Node,
        form: &Form,
        asking: String,
        retries: u32,
        mut filled: Vec<String>,
    ) -> Option<&'static str> {
        let text = self.text.clone().unwrap_or_default();
        let lower = text.to_lowercase();
        let intent = self.nlu.as_ref().and_then(|n| n.intent.clone());
        let by_word = form.cancel_keywords.iter().any(|k| contains_phrase(&lower, k));
        let by_intent = intent.is_some_and(|i| form.cancel_intents.contains(&i));
        if by_word || by_intent {
            self.trace(flow, node, Some("cancelled by the user".into()));
            return Some("cancelled");
        }
        let asked = form.slots.iter().position(|s| s.variable == asking);
        let hits = self.message_hits();
        let mut found = match_slots(form, &hits, asked, &filled);
        // The slot asked for may be a value NLU did not return (a system
        // entity the bot does not declare, no model): look for it alone.
        if let Some(a) = asked
            && !found.iter().any(|(i, _)| *i == a)
            && !text.trim().is_empty()
        {
            let slot = &form.slots[a];
            match self.io.entity(&slot.entity, text.trim()).await {
                Ok(Some(v)) if slot.role.is_none() || !hits.iter().any(|h| h.entity == slot.entity) => {
                    found.push((a, v));
                }
                Ok(_) => {}
                Err(e) => self.problem(Some(&node.id), format!("entity `{}` cannot be checked: {e}", slot.entity)),
            }
        }
        let answered_any = !found.is_empty();
        let refused = self.fill_slots(&node.id, form, found, &mut filled);
        let asked_missing = asked.is_some_and(|a| !filled.contains(&form.slots[a].variable));
        if let Some(a) = asked
            && asked_missing
            && (refused.contains(&a) || !answered_any)
        {
            // The answer was not a value for the slot asked: re-ask it.
            if retries >= form.retries {
                self.trace(flow, node, Some(format!("cancelled (`{asking}` refused, no retries left)")));
                return Some("cancelled");
            }
            let slot = &form.slots[a];
            let message = match &slot.invalid_message {
                Some(t) => self.render(&node.id, t),
                None => "Sorry, that is not a valid answer.".to_owned(),
            };
            self.say_text(message);
            self.trace(flow, node, Some(format!("`{asking}` refused (retry {} of {})", retries + 1, form.retries)));
            let prompt = self.render_content(&node.id, &slot.prompt);
            self.say(prompt);
            self.state.node = Some(node.id.clone());
            self.state.wait = Some(Wait::Form { asking, retries: retries + 1, filled });
            return None;
        }
        let retries = if asked_missing { retries } else { 0 };
        self.ask_next(flow, node, form, filled, retries)
    }
}
