//! PDF text: lopdf loads the document, every filtered stream is decoded here
//! with the bounded decoders of [`super::budget`] against the document's one
//! budget (in lopdf's load filter, so object streams are inflated by us before
//! lopdf parses them, and once more after loading for streams whose length
//! lopdf resolves late), and pdf-extract reads the prepared document, whose
//! streams then carry no filter it could inflate on its own. Images are
//! emptied: their pixels hold no text.
//!
//! What lopdf still inflates itself while loading (cross-reference streams,
//! object streams of encrypted files) is bounded by the extraction worker's
//! memory limit (see `worker.rs`).

use std::cell::RefCell;
use std::collections::HashSet;

use lopdf::{Document, Object, ObjectId, Stream};

use super::budget::{Budget, Decoded, decode};
use super::{Extracted, error, split_paragraphs};
use crate::error::{AppError, ErrorCode};

/// The budget of the document lopdf is loading on this thread; lopdf's load
/// filter is a plain `fn`, so it reaches its budget here.
struct Loading {
    budget: Budget,
    failed: Option<AppError>,
}

thread_local! {
    static LOADING: RefCell<Option<Loading>> = const { RefCell::new(None) };
}

/// lopdf's load filter: decodes each stream as it is read.
fn load_filter(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    LOADING.with_borrow_mut(|loading| {
        let Some(loading) = loading.as_mut() else { return Some((id, object.clone())) };
        if loading.failed.is_some() {
            // Over the limit already: drop the rest quickly.
            return None;
        }
        if let Object::Stream(stream) = object {
            if let Err(e) = prepare(stream, &mut loading.budget) {
                loading.failed = Some(e);
                return None;
            }
            // lopdf keeps `object` (now decoded) and only looks at the returned
            // value for objects inside object streams, which are never streams:
            // no need to copy the content.
            return Some((id, Object::Null));
        }
        Some((id, object.clone()))
    })
}

/// Decodes one stream in place within `budget`.
fn prepare(stream: &mut Stream, budget: &mut Budget) -> Result<(), AppError> {
    let is_image = stream.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|s| s == b"Image");
    if is_image {
        stream.set_plain_content(Vec::new());
        return Ok(());
    }
    if stream.content.is_empty() {
        // Length not known yet (an indirect /Length): decoded after loading.
        return Ok(());
    }
    let Ok(filters) = stream.filters() else { return Ok(()) };
    if filters.is_empty() {
        return Ok(());
    }
    let filters: Vec<Vec<u8>> = filters.into_iter().map(<[u8]>::to_vec).collect();
    let names: Vec<&[u8]> = filters.iter().map(Vec::as_slice).collect();
    let params = stream.dict.get(b"DecodeParms").and_then(Object::as_dict).ok().cloned();
    match decode(&stream.content, &names, params.as_ref(), budget)? {
        Decoded::Plain(data) => stream.set_plain_content(data),
        Decoded::Partial { data, rest } => {
            // The remaining filters start with one nobody decodes (lopdf fails at
            // once on it): keep them so readers see what it is.
            stream.dict.set("Filter", Object::Array(rest.into_iter().map(Object::Name).collect()));
            stream.set_content(data);
        }
    }
    Ok(())
}

/// Loads `bytes` with every stream decoded within `budget`.
fn load(bytes: &[u8], budget: &mut Budget) -> Result<Document, AppError> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = LOADING.with_borrow_mut(Option::take);
        }
    }
    let taken = std::mem::replace(budget, Budget::new(0));
    LOADING.with_borrow_mut(|l| *l = Some(Loading { budget: taken, failed: None }));
    let reset = Reset;
    let loaded = Document::load_mem_with_options(bytes, lopdf::LoadOptions::with_filter(load_filter));
    let state = LOADING.with_borrow_mut(Option::take);
    drop(reset);
    let Some(state) = state else { return Err(error(ErrorCode::Internal, "the PDF loader lost its budget")) };
    *budget = state.budget;
    if let Some(e) = state.failed {
        return Err(e);
    }
    let mut doc = loaded.map_err(|e| error(ErrorCode::CorruptFile, format!("the PDF is damaged: {e}")))?;
    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object {
            prepare(stream, budget)?;
        }
    }
    Ok(doc)
}

/// Refuses a page whose `/Parent` chain loops (pdf-extract would follow it
/// forever looking for inherited resources).
fn check_page_tree(doc: &Document, pages: &std::collections::BTreeMap<u32, ObjectId>) -> Result<(), AppError> {
    for page in pages.values() {
        let mut seen = HashSet::new();
        let mut node = *page;
        loop {
            if !seen.insert(node) {
                return Err(error(ErrorCode::CorruptFile, "the PDF's page tree loops (a page is its own ancestor)")
                    .with_details(serde_json::json!({ "field": "file", "object": node.0 })));
            }
            let Some(parent) =
                doc.get_dictionary(node).ok().and_then(|d| d.get(b"Parent").ok()).and_then(|p| p.as_reference().ok())
            else {
                break;
            };
            node = parent;
        }
    }
    Ok(())
}

/// Extracts the text of a PDF, page by page, inflating at most `budget`.
pub(super) fn pdf(bytes: &[u8], budget: &mut Budget) -> Result<Extracted, AppError> {
    let doc = load(bytes, budget)?;
    if doc.is_encrypted() {
        return Err(error(ErrorCode::CorruptFile, "the PDF is encrypted"));
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(error(ErrorCode::CorruptFile, "the PDF has no pages"));
    }
    check_page_tree(&doc, &pages)?;
    let mut out = Extracted::default();
    for &number in pages.keys() {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        // As pdf-extract's own page loop: the first unreadable page ends the text.
        if pdf_extract::output_doc_page(&doc, &mut output, number).is_err() {
            break;
        }
        for paragraph in split_paragraphs(&text) {
            out.push(&[], Some(number), paragraph);
        }
    }
    Ok(out)
}
