-- Issue 19: the wire format of an LLM provider. `openai` is the
-- OpenAI-compatible chat-completions API (the default, every provider so
-- far); `anthropic` is Anthropic's Messages API (`POST {base_url}/messages`,
-- `x-api-key`, `anthropic-version`). The API shows it as `kind`
-- (`openai_compatible` or `anthropic`); the old `kind` column keeps its
-- single value (its CHECK cannot change without rebuilding the table).
ALTER TABLE llm_providers ADD COLUMN api_format TEXT NOT NULL DEFAULT 'openai'
    CHECK (api_format IN ('openai','anthropic'));
