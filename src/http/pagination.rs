//! The one cursor pagination of every list: `?limit=&after=`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;

/// Query parameters of a list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// A position in a list: the sort key of the last item returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub id: i64,
}

impl PageParams {
    /// The page size, validated.
    pub fn limit(&self) -> AppResult<u32> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n @ 1..=MAX_LIMIT) => Ok(n),
            Some(_) => Err(AppError::validation("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// The decoded cursor, if any.
    pub fn cursor(&self) -> AppResult<Option<Cursor>> {
        let Some(raw) = &self.after else { return Ok(None) };
        let invalid = || AppError::validation("after", "not a cursor returned by this API");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map(Some).map_err(|_| invalid())
    }

    /// `limit + 1` as a SQL parameter: fetching one extra row tells whether
    /// another page follows.
    pub fn fetch_limit(&self) -> AppResult<i64> {
        Ok(i64::from(self.limit()?) + 1)
    }
}

impl Cursor {
    #[must_use]
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self).unwrap_or_default())
    }
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with [`PageParams::fetch_limit`]; `key`
    /// gives the sort key of a row.
    pub fn from_rows(mut rows: Vec<T>, params: &PageParams, key: impl Fn(&T) -> i64) -> AppResult<Page<T>> {
        let limit = params.limit()? as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| Cursor { id: key(r) }.encode())
        } else {
            None
        };
        Ok(Page { items: rows, next_cursor })
    }

    /// Maps the items, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let p = PageParams { limit: Some(2), after: Some(Cursor { id: 42 }.encode()) };
        assert_eq!(p.cursor().expect("ok"), Some(Cursor { id: 42 }));
        let bad = PageParams { limit: None, after: Some("!!".into()) };
        assert!(bad.cursor().is_err());
        assert!(PageParams { limit: Some(0), after: None }.limit().is_err());
        assert!(PageParams { limit: Some(201), after: None }.limit().is_err());
    }

    #[test]
    fn extra_row_produces_next_cursor() {
        let params = PageParams { limit: Some(2), after: None };
        let page = Page::from_rows(vec![1, 2, 3], &params, |x| *x).expect("page");
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(Cursor { id: 2 }.encode()));
        let last = Page::from_rows(vec![1, 2], &params, |x| *x).expect("page");
        assert!(last.next_cursor.is_none());
    }
}
