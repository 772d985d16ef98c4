// Knowledge bases: list, documents (drag-and-drop upload with live progress,
// paste, URL/crawl), chunk viewer, search playground and answer playground
// (streamed, with citations).
import { html, Page, useLoad, useState, useEffect, useRef, ErrorBox, Field, FieldError, toast, toastError, formatDate, plural, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del, postEvents, ApiError } from "../api.js";
import { currentOrg, currentUser, can } from "../session.js";
import { t } from "../i18n.js";

const STATUS_CLASS = { ready: "ok", failed: "bad", queued: "", extracting: "warn", embedding: "warn" };

/**
 * The model to suggest for a language: the multilingual one for anything
 * but English (the built-in model is English-only), else the default.
 */
function suggestedModel(models, language) {
  const english = !language.trim() || language.trim().toLowerCase().startsWith("en");
  const multilingual = models.find((m) => m.name.includes("multilingual"));
  const fallback = models.find((m) => m.default) || models[0];
  return english || !multilingual ? fallback && fallback.name : multilingual.name;
}

function CreateKb({ org, onCreated }) {
  const [name, setName] = useState("");
  const [chunkSize, setChunkSize] = useState("256");
  const [language, setLanguage] = useState("en");
  const [model, setModel] = useState("");
  const [modelChosen, setModelChosen] = useState(false);
  const [error, setError] = useState(null);
  const models = useLoad(() => get(`/api/v1/orgs/${org.id}/knowledge/models`), [org.id]);
  const available = models.data || [];
  // Until someone picks a model, it follows the language.
  const shownModel = modelChosen ? model : suggestedModel(available, language) || "";
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, chunk_size: Number(chunkSize), language: language.trim() || "en" };
      if (shownModel) body.embedding_model = shownModel;
      const kb = await post(`/api/v1/orgs/${org.id}/knowledge-bases`, body);
      setName("");
      toast(t("knowledge.created", { name: kb.name }));
      onCreated(kb);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-kb" onSubmit=${submit}>
    <h2>${t("knowledge.new_knowledge_base")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1"><${Field} label=${t("knowledge.language_of_the_content")} name="language" value=${language} onInput=${setLanguage} error=${error} /></div>
      <div style="flex:1">
        <label for="kb-embedding-model">${t("knowledge.embedding_model")}</label>
        <select id="kb-embedding-model" name="embedding_model" value=${shownModel} onChange=${(e) => (setModel(e.target.value), setModelChosen(true))}>
          ${available.map((m) => html`<option value=${m.name}>${m.default ? t("knowledge.model_default", { name: m.name }) : m.name}</option>`)}
        </select>
        <${FieldError} error=${error} name="embedding_model" />
      </div>
      <div style="flex:1"><${Field} label=${t("knowledge.chunk_size_tokens")} name="chunk_size" type="number" value=${chunkSize} onInput=${setChunkSize} error=${error} /></div>
      <button class="primary" type="submit">${t("common.create")}</button>
    </div>
    <p class="muted small">${t("knowledge.language_picks_the_tokenizer")}</p>
  </form>`;
}

function KnowledgeBases() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/knowledge-bases?limit=200`), [org.id]);
  return html`<${Page} title=${t("knowledge.knowledge_bases")}>
    ${can("knowledge.write") && html`<${CreateKb} org=${org} onCreated=${(kb) => navigate(`/knowledge/${kb.id}`)} />`}
    <${ErrorBox} error=${list.error} />
    <div class="card">
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("knowledge.documents")}</th><th>${t("knowledge.chunks")}</th><th>${t("common.tokens")}</th><th>${t("common.model")}</th><th>${t("common.status")}</th><th>${t("common.updated")}</th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (kb) => html`<tr data-kb=${kb.id}>
              <td><a href=${`/knowledge/${kb.id}`}><strong>${kb.name}</strong></a><div class="muted">${kb.description || ""}</div></td>
              <td>${kb.document_count}</td>
              <td>${kb.total_chunks}</td>
              <td>${kb.total_tokens}</td>
              <td class="muted">${kb.embedding_model}${kb.pending_embedding_model ? ` → ${kb.pending_embedding_model}` : ""}</td>
              <td><span class=${"badge " + (kb.status === "active" ? "ok" : "warn")}>${kb.status}</span></td>
              <td class="muted">${formatDate(kb.updated_at)}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="7" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="7" class="muted">${t("knowledge.no_knowledge_bases_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

/** Uploads one file with XHR (for byte progress); resolves to the document. */
function uploadFile(kbId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/knowledge-bases/${kbId}/documents`);
    const me = currentUser();
    if (me && me.csrf_token) xhr.setRequestHeader("X-CSRF-Token", me.csrf_token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body, xhr.getResponseHeader("x-request-id")));
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { code: "network_error", message: "cannot reach the server" } }));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

function Uploader({ kb, onUploaded }) {
  const [uploads, setUploads] = useState([]);
  const [over, setOver] = useState(false);
  const input = useRef(null);
  const start = (files) => {
    for (const file of files) {
      const key = `${file.name}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name, progress: 0, error: null }]);
      uploadFile(kb.id, file, (p) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, progress: p } : x))))
        .then(() => {
          setUploads((u) => u.filter((x) => x.key !== key));
          onUploaded();
        })
        .catch((err) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, error: err.message } : x))));
    }
  };
  return html`<div class="card">
    <h2>${t("knowledge.add_documents")}</h2>
    <div
      class=${"dropzone" + (over ? " over" : "")}
      id="dropzone"
      onDragOver=${(e) => (e.preventDefault(), setOver(true))}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e) => (e.preventDefault(), setOver(false), start([...e.dataTransfer.files]))}
    >
      <label for="file-input" class="dropzone-label">${t("knowledge.drop_txt_md_html_pdf")}</label>
      <div><input ref=${input} id="file-input" type="file" multiple onClick=${(e) => e.stopPropagation()} onChange=${(e) => (start([...e.target.files]), (e.target.value = ""))} /></div>
    </div>
    ${uploads.map(
      (u) => html`<div class="row upload-row">
        <span>${u.name}</span>
        ${u.error ? html`<span class="field-error">${u.error}</span>` : html`<progress max="1" value=${u.progress}></progress>`}
      </div>`,
    )}
    <${PasteAndUrl} kb=${kb} onAdded=${onUploaded} />
  </div>`;
}

function PasteAndUrl({ kb, onAdded }) {
  const [name, setName] = useState("");
  const [text, setText] = useState("");
  const [url, setUrl] = useState("");
  const [crawl, setCrawl] = useState(false);
  const [error, setError] = useState(null);
  const addText = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/knowledge-bases/${kb.id}/documents/text`, { name, text });
      setName("");
      setText("");
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  const addUrl = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await post(`/api/v1/knowledge-bases/${kb.id}/documents/url`, { url, crawl });
      setUrl("");
      toast(r.job_id ? t("knowledge.crawling_job", { job: r.job_id }) : t("knowledge.added"));
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="grid" style="margin-top:1rem">
    <${ErrorBox} error=${error} />
    <form onSubmit=${addText} id="paste-form">
      <${Field} label=${t("knowledge.paste_text_name")} name="paste_name" value=${name} onInput=${setName} required />
      <label for="paste_text">${t("knowledge.text_markdown_headings_are_kept")}</label>
      <textarea id="paste_text" rows="4" value=${text} onInput=${(e) => setText(e.target.value)} required></textarea>
      <button type="submit">${t("knowledge.add_text")}</button>
    </form>
    <form onSubmit=${addUrl} id="url-form">
      <${Field} label=${t("knowledge.web_page_url")} name="url" type="url" value=${url} onInput=${setUrl} required />
      <label><input type="checkbox" checked=${crawl} onChange=${(e) => setCrawl(e.target.checked)} style="width:auto" /> ${t("knowledge.crawl_the_site_same_host")}</label>
      <button type="submit">${t("knowledge.add_url")}</button>
    </form>
  </div>`;
}

function Progress({ doc }) {
  const p = doc.progress;
  if (doc.status === "ready") return html`<span class="muted">${plural(doc.chunk_count, "chunk")}</span>`;
  if (doc.status === "failed") return html`<span class="field-error" data-code=${doc.error_code}>${doc.error_code}: ${doc.error_message}</span>`;
  if (p && p.total_chunks > 0) return html`<progress max=${p.total_chunks} value=${p.embedded_chunks}></progress> <span class="muted">${p.embedded_chunks}/${p.total_chunks}</span>`;
  return html`<progress></progress>`;
}

function Documents({ kb, onChanged }) {
  const docs = useLoad(() => get(`/api/v1/knowledge-bases/${kb.id}/documents?limit=200`), [kb.id]);
  const [chunksOf, setChunksOf] = useState(null);
  const busy = docs.data && docs.data.items.some((d) => !["ready", "failed"].includes(d.status));
  useEffect(() => {
    if (!busy) return;
    const tv = setTimeout(() => (docs.reload(), onChanged()), 1000);
    return () => clearTimeout(tv);
  });
  const remove = async (d) => {
    if (!confirm(t("knowledge.delete", { name: d.name }))) return;
    try {
      await del(`/api/v1/documents/${d.id}`);
      docs.reload();
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  const retry = async (d) => {
    try {
      await post(`/api/v1/documents/${d.id}/retry`);
      docs.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div>
    ${can("knowledge.write") && html`<${Uploader} kb=${kb} onUploaded=${() => (docs.reload(), onChanged())} />`}
    <${ErrorBox} error=${docs.error} />
    <div class="card">
      <table>
        <thead><tr><th>${t("knowledge.document")}</th><th>${t("common.type")}</th><th>${t("common.status")}</th><th>${t("knowledge.progress")}</th><th></th></tr></thead>
        <tbody>
          ${docs.data &&
          docs.data.items.map(
            (d) => html`<tr data-doc=${d.id} data-status=${d.status}>
              <td><strong>${d.name}</strong><div class="muted">${d.source_url || ""}</div></td>
              <td>${d.type}</td>
              <td><span class=${"badge " + (STATUS_CLASS[d.status] || "")}>${d.status}</span></td>
              <td><${Progress} doc=${d} /></td>
              <td class="row">
                ${d.status === "ready" && html`<button onClick=${() => setChunksOf(d)}>${t("knowledge.chunks")}</button>`}
                ${d.status === "failed" && can("knowledge.write") && html`<button onClick=${() => retry(d)}>${t("knowledge.retry")}</button>`}
                ${can("knowledge.write") && html`<button class="danger" onClick=${() => remove(d)}>${t("common.delete")}</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${docs} cols="5" />
          ${docs.data && !docs.data.items.length && html`<tr><td colspan="5" class="muted">${t("knowledge.no_documents_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    ${chunksOf && html`<${ChunkViewer} doc=${chunksOf} onClose=${() => setChunksOf(null)} />`}
  </div>`;
}

function ChunkViewer({ doc, onClose }) {
  const chunks = useLoad(() => get(`/api/v1/documents/${doc.id}/chunks?limit=200`), [doc.id]);
  return html`<div class="card" id="chunk-viewer">
    <div class="row" style="justify-content:space-between"><h2>${t("knowledge.chunks_of", { name: doc.name })}</h2><button onClick=${onClose}>${t("common.close")}</button></div>
    <${ErrorBox} error=${chunks.error} />
    ${chunks.data &&
    chunks.data.items.map(
      (c) => html`<div class="chunk" data-chunk=${c.id}>
        <div class="muted">${t("knowledge.tokens", { chunk_index: c.chunk_index, token_count: c.token_count })}${c.heading_path ? ` · ${c.heading_path}` : ""}${c.metadata.page ? ` · page ${c.metadata.page}` : ""}</div>
        <div>${c.content}</div>
      </div>`,
    )}
  </div>`;
}

/** Renders a snippet with its highlight offsets as <mark>. */
function Snippet({ text, highlights }) {
  const chars = [...text];
  const parts = [];
  let at = 0;
  for (const [a, b] of highlights || []) {
    if (a < at) continue;
    parts.push(chars.slice(at, a).join(""));
    parts.push(html`<mark>${chars.slice(a, b).join("")}</mark>`);
    at = b;
  }
  parts.push(chars.slice(at).join(""));
  return html`<span>${parts}</span>`;
}

function SearchPlayground({ kb }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState("hybrid");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      setResult(await post(`/api/v1/knowledge-bases/${kb.id}/search`, { query, mode, top_k: 10 }));
    } catch (err) {
      setError(err);
    }
  };
  const fmt = (x) => (x === null || x === undefined ? "–" : x.toFixed(3));
  return html`<div class="card" id="search-playground">
    <h2>${t("common.search")}</h2>
    <form class="row" onSubmit=${run}>
      <input id="search-query" style="flex:3" placeholder=${t("knowledge.ask_something")} value=${query} onInput=${(e) => setQuery(e.target.value)} />
      <select id="search-mode" style="flex:1" value=${mode} onChange=${(e) => setMode(e.target.value)}>
        <option value="hybrid">${t("knowledge.hybrid")}</option><option value="vector">${t("knowledge.vector")}</option><option value="keyword">${t("knowledge.keyword")}</option>
      </select>
      <button class="primary" type="submit">${t("common.search")}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result && html`<div class="muted">${t("knowledge.results_in", { results: result.results.length })} ${result.took_ms.toFixed(1)} ${t("knowledge.ms")}${result.approximate ? " " + t("knowledge.approximate_index") : ""}</div>`}
    ${result &&
    result.results.map(
      (r, i) => html`<div class="result" data-result=${r.chunk_id}>
        <div><strong>${i + 1}. ${r.document_name}</strong> <span class="muted">${r.heading_path}</span></div>
        <div class="muted" title=${t("knowledge.fused_score_similarity_keyword_bm25", { score: fmt(r.score), vector_score: fmt(r.vector_score), keyword_score: fmt(r.keyword_score) })}>
          <${Relevance} r=${r} />
        </div>
        <div><${Snippet} text=${r.snippet} highlights=${r.highlights} /></div>
      </div>`,
    )}
  </div>`;
}

/**
 * A result's relevance in words: how close its meaning is to the query
 * (cosine similarity of the sentence vectors) and what matched. The raw
 * figures stay in the tooltip for those who tune retrieval.
 */
function Relevance({ r }) {
  const byMeaning = r.vector_score !== null && r.vector_score !== undefined;
  const byWords = r.keyword_score !== null && r.keyword_score !== undefined;
  const level = !byMeaning ? t("knowledge.keyword_match") : r.vector_score >= 0.6 ? t("knowledge.high_relevance") : r.vector_score >= 0.4 ? t("knowledge.medium_relevance") : t("knowledge.low_relevance");
  const how = byMeaning && byWords ? t("knowledge.how_both") : byMeaning ? t("knowledge.how_meaning") : t("knowledge.how_words");
  const tone = level.startsWith(t("knowledge.high")) ? "ok" : level.startsWith(t("knowledge.low")) ? "warn" : "";
  return html`<span class=${`badge ${tone}`} data-relevance=${level}>${level}</span> <span>${t("knowledge.matched_by", { how })}</span>`;
}

/** Streams an answer over SSE (fetch + ReadableStream), calling `on(event, data)`. */
function streamAnswer(kbId, question, on) {
  return postEvents(`/api/v1/knowledge-bases/${kbId}/answer`, { question }, on);
}

function AnswerPlayground({ kb }) {
  const [question, setQuestion] = useState("");
  const [text, setText] = useState("");
  const [final, setFinal] = useState(null);
  const [note, setNote] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    setText("");
    setFinal(null);
    setNote(null);
    setBusy(true);
    try {
      await streamAnswer(kb.id, question, (event, data) => {
        if (event === "token") setText((tv) => tv + data.text);
        else if (event === "fallback") setNote(t("knowledge.llm_failed_extractive", { reason: data.reason }));
        else if (event === "done") setFinal(data);
      });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="card" id="answer-playground">
    <h2>${t("knowledge.answer")}</h2>
    <form class="row" onSubmit=${run}>
      <input id="answer-question" style="flex:3" placeholder=${t("knowledge.ask_a_question")} value=${question} onInput=${(e) => setQuestion(e.target.value)} />
      <button class="primary" type="submit" disabled=${busy}>${t("knowledge.ask")}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${note && html`<div class="alert error">${note}</div>`}
    ${(text || final) && html`<div class="answer" id="answer-text">${final ? final.answer : text}</div>`}
    ${final && html`<div class="muted" id="answer-mode">${final.mode.replace("_", " ")}${final.model ? ` · ${final.model}` : ""}</div>`}
    ${final &&
    final.citations.map(
      (c) => html`<div class="citation" data-citation=${c.chunk_id}>
        <strong>[${c.number}] ${c.document}</strong>${c.page ? html` <span class="muted">${t("knowledge.page", { page: c.page })}</span>` : ""}
        ${c.source_url ? html` <a href=${c.source_url} target="_blank" rel="noopener">${t("knowledge.source")}</a>` : ""}
        <div class="muted">${c.snippet}</div>
      </div>`,
    )}
  </div>`;
}

function Settings({ kb, onSaved }) {
  const [form, setForm] = useState({ name: kb.name, chunk_size: String(kb.chunk_size), chunk_overlap: String(kb.chunk_overlap), embedding_model: kb.embedding_model });
  const models = useLoad(() => get(`/api/v1/orgs/${kb.organization_id}/knowledge/models`), [kb.id]);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const saved = await patch(`/api/v1/knowledge-bases/${kb.id}`, { ...form, chunk_size: Number(form.chunk_size), chunk_overlap: Number(form.chunk_overlap) });
      toast(saved.pending_embedding_model ? t("knowledge.saved_re_embedding_in_the") : t("knowledge.saved"));
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    if (!confirm(t("knowledge.delete_and_all_its_documents", { name: kb.name }))) return;
    await del(`/api/v1/knowledge-bases/${kb.id}`);
    navigate("/knowledge");
  };
  return html`<form class="card" onSubmit=${save}>
    <h2>${t("knowledge.settings")}</h2>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("common.name")} name="name" value=${form.name} onInput=${set("name")} error=${error} />
    <div class="row">
      <div style="flex:1"><${Field} label=${t("knowledge.chunk_size_tokens_new_documents")} name="chunk_size" type="number" value=${form.chunk_size} onInput=${set("chunk_size")} error=${error} /></div>
      <div style="flex:1"><${Field} label=${t("knowledge.overlap_tokens")} name="chunk_overlap" type="number" value=${form.chunk_overlap} onInput=${set("chunk_overlap")} error=${error} /></div>
      <div style="flex:1">
        <label for="embedding_model">${t("knowledge.embedding_model")}</label>
        <select id="embedding_model" value=${form.embedding_model} onChange=${(e) => set("embedding_model")(e.target.value)}>
          ${(models.data || [{ name: kb.embedding_model }]).map((m) => html`<option value=${m.name}>${m.name}</option>`)}
        </select>
      </div>
    </div>
    <div class="row" style="margin-top:1rem"><button class="primary" type="submit">${t("common.save")}</button><button type="button" class="danger" onClick=${remove}>${t("knowledge.delete_knowledge_base")}</button></div>
  </form>`;
}

function KnowledgeBase({ params }) {
  const kb = useLoad(() => get(`/api/v1/knowledge-bases/${params.kbId}`), [params.kbId]);
  const [tab, setTab] = useState("documents");
  if (kb.error) return html`<${Page} title=${t("knowledge.knowledge_base")}><${ErrorBox} error=${kb.error} /><//>`;
  if (!kb.data) return html`<${Page} title=${t("knowledge.knowledge_base")}><${Loading} load=${kb} /><//>`;
  const k = kb.data;
  const tabs = ["documents", "search", "answer", ...(can("knowledge.write") ? ["settings"] : [])];
  return html`<${Page} title=${k.name}>
    <div class="muted" id="kb-stats">${plural(k.document_count, "document")} · ${plural(k.total_chunks, "chunk")} · ${plural(k.total_tokens, "token")} · ${k.embedding_model}${k.pending_embedding_model ? ` ${t("knowledge.re_embedding_to", { model: k.pending_embedding_model })}` : ""} · <span id="kb-language">${k.language}</span> (${t("knowledge.tokenizer")}: ${k.fts_tokenizer})</div>
    <div class="row tabs" style="margin:1rem 0">
      ${tabs.map((tv) => html`<button class=${tab === tv ? "primary" : ""} data-tab=${tv} onClick=${() => setTab(tv)}>${tv}</button>`)}
    </div>
    ${tab === "documents" && html`<${Documents} kb=${k} onChanged=${kb.reload} />`}
    ${tab === "search" && html`<${SearchPlayground} kb=${k} />`}
    ${tab === "answer" && html`<${AnswerPlayground} kb=${k} />`}
    ${tab === "settings" && html`<${Settings} kb=${k} onSaved=${kb.reload} />`}
  <//>`;
}

route("/knowledge", KnowledgeBases, { nav: { label: "nav.knowledge", section: "nav.build", order: 20, requires: "knowledge.read" } });
route("/knowledge/:kbId", KnowledgeBase);
