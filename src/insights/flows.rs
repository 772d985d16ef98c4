//! Flow funnels: from the nodes each conversation's turns visited
//! (`flow_node_visits`, written with the turn), per node the conversations
//! that reached it, dropped off there and the time spent, and per edge the
//! moves along it.

use std::collections::HashMap;

use super::model::{Funnel, FunnelEdge, FunnelNode, RangeQuery};
use super::store;
use crate::app::AppState;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::BotId;

/// The funnel of a flow of the bot over a range.
pub async fn funnel(state: &AppState, tenant: Tenant, bot: BotId, flow: String, q: RangeQuery) -> AppResult<Funnel> {
    let range = q.check()?;
    let detail = crate::flows::service::get(state, tenant.clone(), bot, flow.clone()).await?;
    let version = detail.published.as_ref().unwrap_or(&detail.draft);
    let doc_nodes = version.document.as_ref().map(|d| d.nodes.as_slice()).unwrap_or_default();
    let (name, r) = (flow.clone(), range.clone());
    let (nodes, edges, conversations) = state
        .db
        .read(move |c| {
            Ok((
                store::funnel_nodes(c, &tenant, bot, &name, &r)?,
                store::funnel_edges(c, &tenant, bot, &name, &r)?,
                store::funnel_conversations(c, &tenant, bot, &name, &r)?,
            ))
        })
        .await?;
    let mut counted: HashMap<String, (i64, i64, Option<f64>)> =
        nodes.into_iter().map(|(node, reached, dropped, secs)| (node, (reached, dropped, secs))).collect();
    let mut out = Vec::with_capacity(doc_nodes.len());
    for n in doc_nodes {
        let (reached, dropped_off, average_seconds) = counted.remove(&n.id).unwrap_or((0, 0, None));
        out.push(FunnelNode {
            id: n.id.clone(),
            node_type: Some(n.kind.clone()),
            label: n.label.clone(),
            reached,
            dropped_off,
            average_seconds,
        });
    }
    let mut gone: Vec<_> = counted.into_iter().collect();
    gone.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, (reached, dropped_off, average_seconds)) in gone {
        out.push(FunnelNode { id, node_type: None, label: None, reached, dropped_off, average_seconds });
    }
    let edges = edges
        .into_iter()
        .map(|(source, target, count, conversations)| FunnelEdge { source, target, count, conversations })
        .collect();
    Ok(Funnel { flow, range, conversations, nodes: out, edges })
}
