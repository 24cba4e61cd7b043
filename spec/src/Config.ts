/**
 * Annal's configuration: what `GET /api/config` returns and `PUT /api/config` changes. Every
 * change is a `config_changed` event; the running server applies it at once, except
 * `server.host` and `server.port`, which take effect at the next start.
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Percent = Schema.Number.pipe(Schema.between(0, 100))

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** True for a DNS host name (RFC 1123 labels), a dotted IPv4 address or an IPv6 address. */
export const isHostName = (host: string): boolean => {
  if (host.includes(":")) {
    // IPv6: the WHATWG URL parser is the standard's own validator (also in browsers)
    if (!/^[0-9A-Fa-f:.]+$/.test(host)) return false
    try {
      return new URL(`http://[${host}]/`).hostname !== ""
    } catch {
      return false
    }
  }
  const labels = (host.endsWith(".") ? host.slice(0, -1) : host).split(".")
  if (host.length === 0 || host.length > 253 || !labels.every((l) => LABEL.test(l))) return false
  // all-numeric: must be a real IPv4 address, not a name no resolver knows
  return !labels.every((l) => /^\d+$/.test(l)) || (labels.length === 4 && labels.every((l) => Number(l) <= 255))
}

/** A host name or IP address the server can listen on. */
export const HostName = Schema.String.pipe(
  Schema.filter((h) => isHostName(h) || "must be a host name or an IP address, e.g. 127.0.0.1, ::1 or localhost", {
    identifier: "HostName"
  })
)

export const ServerConfig = Schema.Struct({
  host: HostName,
  port: Schema.Int.pipe(Schema.between(0, 65535))
})

export const SecurityConfig = Schema.Struct({
  /** When false, `/api/*` needs no token. */
  auth_enabled: Schema.Boolean,
  /** Token-bucket limit per client address: refill per minute, and the burst. */
  rate_limit_per_minute: PositiveInt,
  /** Largest request body accepted, in bytes. */
  max_body_bytes: PositiveInt.pipe(Schema.lessThanOrEqualTo(100 * 1024 * 1024)),
  /** Whether an API key is set in the configuration (the key itself is never shown). */
  api_key_set: Schema.Boolean
})

export const ResourcesConfig = Schema.Struct({
  sample_interval_secs: PositiveInt,
  history_size: PositiveInt.pipe(Schema.lessThanOrEqualTo(100_000)),
  overload: Schema.Struct({
    cpu_percent: Percent,
    memory_percent: Percent,
    load_avg: Schema.Number.pipe(Schema.nonNegative())
  })
})

export const EventsConfig = Schema.Struct({
  /** Seconds between SSE keep-alive comments. */
  ping_interval_secs: PositiveInt,
  /** Live events buffered per SSE/WebSocket subscriber before it is cut off (it then resumes). */
  subscriber_buffer: PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000_000)),
  /** Seconds a cut-off client has to read what was queued before its connection is closed. */
  cut_grace_secs: PositiveInt.pipe(Schema.lessThanOrEqualTo(3600))
})

export const SchedulerConfig = Schema.Struct({
  /** Tasks running at the same time at most. */
  max_concurrent: PositiveInt.pipe(Schema.lessThanOrEqualTo(1000)),
  /** Task starts per rolling minute at most. */
  rate_limit_per_minute: PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000_000))
})

export const OrchestratorConfig = Schema.Struct({
  /** Seed generations (the first included) the chat's evolve loop runs at most. */
  max_generations: PositiveInt.pipe(Schema.lessThanOrEqualTo(20)),
  /** Seconds `POST /api/chat` waits for a reply before it answers 504. */
  chat_timeout_secs: PositiveInt.pipe(Schema.lessThanOrEqualTo(86_400)),
  /** Past `chat_timeout_secs`: `continue` lets the run go on (its reply lands in the session), `stop` stops it. */
  on_timeout: Schema.Literal("continue", "stop"),
  /** The interview passes at most this ambiguity (1 − mean clarity); 1 never asks questions. */
  ambiguity_threshold: Schema.Number.pipe(Schema.between(0, 1)),
  /** Agents a seed with 3 or more acceptance criteria is split into, at most. */
  max_group_size: PositiveInt.pipe(Schema.lessThanOrEqualTo(32)),
  /** A message that asks for no work (a greeting, a question) is answered in the interview's one model call (phase `respond`); false sends every message through the loop. */
  direct_answers: Schema.Boolean
})

export const ApprovalsConfig = Schema.Struct({
  /** Seconds a pending approval waits for a decision before it expires (denied). */
  timeout_secs: PositiveInt.pipe(Schema.lessThanOrEqualTo(7 * 86_400))
})

const MemoryEmbeddingFields = {
  /** `lexical`: built in, offline; `llama`: a local GGUF model; `openai`: an OpenAI-compatible endpoint. */
  provider: Schema.Literal("lexical", "llama", "openai"),
  /** Vector length of the lexical embedder (llama and openai vectors have their model's length). */
  dimension: Schema.Int.pipe(Schema.between(32, 4096)),
  /** llama: path of the GGUF model. */
  model_path: Schema.NullOr(Schema.String.pipe(Schema.minLength(1))),
  /** openai: the endpoint; requests go to `{base_url}/v1/embeddings` (a trailing `/v1` is accepted). */
  base_url: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "base_url must be an http(s) URL" }))),
  /** openai: the model name sent with each request. */
  model: Schema.NullOr(Schema.String.pipe(Schema.minLength(1))),
  /** openai: the environment variable holding the API key (the key never enters the log). */
  api_key_env: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))),
  /** openai: texts per request. */
  batch_size: PositiveInt.pipe(Schema.lessThanOrEqualTo(2048))
}

/** How memories become vectors; a provider is refused without the settings it needs. */
export const MemoryEmbeddingConfig = Schema.Struct(MemoryEmbeddingFields).pipe(
  Schema.filter((e) =>
    e.provider === "llama" && e.model_path === null
      ? { path: ["model_path"], message: "the llama provider needs model_path" }
      : e.provider === "openai" && e.base_url === null
      ? { path: ["base_url"], message: "the openai provider needs base_url" }
      : e.provider === "openai" && e.model === null
      ? { path: ["model"], message: "the openai provider needs model" }
      : undefined
  )
)

/** The semantic index: HNSW links per node, and candidate lists when building and searching. */
export const MemoryHnswConfig = Schema.Struct({
  m: Schema.Int.pipe(Schema.between(4, 64)),
  ef_construction: Schema.Int.pipe(Schema.between(16, 1000)),
  ef_search: Schema.Int.pipe(Schema.between(1, 1000))
})

export const MemoryConfig = Schema.Struct({
  embedding: MemoryEmbeddingConfig,
  hnsw: MemoryHnswConfig
})
export type MemoryConfig = typeof MemoryConfig.Type

/** How a tool call is approved: `auto` never asks (the blacklist still does), `on_demand` asks when the call is consequential, `always` asks every time. */
export const ToolPolicy = Schema.Literal("auto", "on_demand", "always")
export type ToolPolicy = typeof ToolPolicy.Type

export const ToolsConfig = Schema.Struct({
  /** Binaries `exec` may run, by bare name (looked up on PATH; no slashes, so no path tricks). */
  exec_allowlist: Schema.Array(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._+-]{1,64}$/, { message: () => "an allowlisted binary is a bare name" }))),
  /** Seconds an `exec` child may run before it (and its process group) is killed. */
  exec_timeout_secs: PositiveInt.pipe(Schema.lessThanOrEqualTo(86_400)),
  /** Bytes of output a tool returns at most; the rest is cut off. */
  output_cap_bytes: PositiveInt.pipe(Schema.lessThanOrEqualTo(16 * 1024 * 1024)),
  /** Approval policy per tool name; a tool not named is `on_demand`. */
  policies: Schema.Record({ key: Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9_-]{1,64}$/)), value: ToolPolicy })
})

const LlmFields = {
  /** none: chat answers 503 saying how to configure a model; llama: a local GGUF; openai: an OpenAI-compatible endpoint. */
  provider: Schema.Literal("none", "llama", "openai"),
  /** llama: path of the GGUF model. */
  model_path: Schema.NullOr(Schema.String.pipe(Schema.minLength(1))),
  /** llama: tokens of context (null: fit the model and the machine). */
  context_size: Schema.NullOr(Schema.Int.pipe(Schema.between(64, 1_048_576))),
  /** llama: CPU threads (1 is fastest for small models on 2 cores). */
  threads: Schema.Int.pipe(Schema.between(1, 256)),
  /** openai: the endpoint, e.g. http://127.0.0.1:11434 (Ollama); `/v1/chat/completions` is appended. */
  base_url: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "base_url must be an http(s) URL" }))),
  /** openai: the model name sent with each request. */
  model: Schema.NullOr(Schema.String.pipe(Schema.minLength(1))),
  /** openai: the environment variable holding the API key (the key never enters the log). */
  api_key_env: Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))
}

/** The language model; `--model`, `ANNAL_MODEL_PATH`, `ANNAL_LLM_BASE_URL`/`ANNAL_LLM_MODEL` win over it. */
export const LlmConfig = Schema.Struct(LlmFields).pipe(
  Schema.filter((l) =>
    l.provider === "llama" && l.model_path === null
      ? { path: ["model_path"], message: "the llama provider needs model_path" }
      : l.provider === "openai" && l.base_url === null
      ? { path: ["base_url"], message: "the openai provider needs base_url" }
      : l.provider === "openai" && l.model === null
      ? { path: ["model"], message: "the openai provider needs model" }
      : undefined
  )
)
export type LlmConfig = typeof LlmConfig.Type

export const LogConfig = Schema.Struct({
  /** A checkpoint of the log is signed once this many events were appended since the last one… */
  checkpoint_every_events: PositiveInt.pipe(Schema.lessThanOrEqualTo(10_000_000)),
  /** …or once this many seconds passed with any event appended since. */
  checkpoint_every_secs: PositiveInt.pipe(Schema.lessThanOrEqualTo(86_400)),
  /** A witness directory outside the data directory that receives every checkpoint (`--checkpoint-dir` wins). */
  checkpoint_dir: Schema.NullOr(Schema.String.pipe(Schema.minLength(1)))
})

export const AnnalConfig = Schema.Struct({
  server: ServerConfig,
  security: SecurityConfig,
  resources: ResourcesConfig,
  events: EventsConfig,
  scheduler: SchedulerConfig,
  approvals: ApprovalsConfig,
  orchestrator: OrchestratorConfig,
  memory: MemoryConfig,
  tools: ToolsConfig,
  llm: LlmConfig,
  log: LogConfig
})
export type AnnalConfig = typeof AnnalConfig.Type



export const defaultConfig: AnnalConfig = {
  server: { host: "127.0.0.1", port: 4200 },
  security: { auth_enabled: true, rate_limit_per_minute: 600, max_body_bytes: 10 * 1024 * 1024, api_key_set: false },
  resources: { sample_interval_secs: 5, history_size: 720, overload: { cpu_percent: 90, memory_percent: 90, load_avg: 10 } },
  events: { ping_interval_secs: 30, subscriber_buffer: 1024, cut_grace_secs: 10 },
  scheduler: { max_concurrent: 2, rate_limit_per_minute: 60 },
  approvals: { timeout_secs: 300 },
  orchestrator: { max_generations: 3, chat_timeout_secs: 120, on_timeout: "continue", ambiguity_threshold: 0.2, max_group_size: 4, direct_answers: true },
  memory: {
    embedding: { provider: "lexical", dimension: 384, model_path: null, base_url: null, model: null, api_key_env: "ANNAL_EMBEDDING_API_KEY", batch_size: 64 },
    hnsw: { m: 16, ef_construction: 100, ef_search: 64 }
  },
  tools: {
    exec_allowlist: ["git", "ls", "cat", "echo", "node", "npm", "python3", "grep", "wc", "head", "tail"],
    exec_timeout_secs: 30,
    output_cap_bytes: 65_536,
    policies: {
      read: "auto",
      ls: "auto",
      grep: "auto",
      find: "auto",
      memory_store: "auto",
      memory_search: "auto",
      write: "on_demand",
      edit: "on_demand",
      exec: "always"
    }
  },
  llm: { provider: "none", model_path: null, context_size: null, threads: 1, base_url: null, model: null, api_key_env: "ANNAL_LLM_API_KEY" },
  log: { checkpoint_every_events: 1000, checkpoint_every_secs: 60, checkpoint_dir: null }
}

/**
 * Keys Annal does not know (an Oxios config's `kernel` section, `security.cors_origins`, ...):
 * accepted, kept as given and returned, never interpreted.
 */
const Rest = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const open = <F extends Schema.Struct.Fields>(fields: F) => Schema.Struct(fields, Rest)
const openPatch = <F extends Schema.Struct.Fields>(fields: F) => Schema.partial(Schema.Struct(fields, Rest))

/**
 * What `GET /api/config` returns: the configuration, with every section open to the keys Annal
 * does not know that a client stored through `PUT /api/config`.
 */
export const ConfigDocument = open({
  server: open(ServerConfig.fields),
  security: open(SecurityConfig.fields),
  resources: open({ ...ResourcesConfig.fields, overload: open(ResourcesConfig.fields.overload.fields) }),
  events: open(EventsConfig.fields),
  scheduler: open(SchedulerConfig.fields),
  approvals: open(ApprovalsConfig.fields),
  orchestrator: open(OrchestratorConfig.fields),
  memory: open({ embedding: open(MemoryEmbeddingFields), hnsw: open(MemoryHnswConfig.fields) }),
  tools: open(ToolsConfig.fields),
  llm: open(LlmFields)
}).annotations({ identifier: "ConfigDocument" })
export type ConfigDocument = typeof ConfigDocument.Type

/**
 * The body of `PUT /api/config`: any part of the configuration; what is given replaces the
 * current value, the rest stays. `security.api_key` sets (string) or clears (null) the API key;
 * `security.api_key_set` is accepted so a GET can be sent back unchanged, and ignored. Keys Annal
 * does not know, at any level, are kept as given (like an Oxios server, which ignores them).
 */
export const ConfigPatch = openPatch({
  server: openPatch(ServerConfig.fields),
  security: openPatch({
    ...SecurityConfig.fields,
    api_key: Schema.NullOr(Schema.String.pipe(Schema.minLength(16, { message: () => "an API key needs at least 16 characters" })))
  }),
  resources: openPatch({ ...ResourcesConfig.fields, overload: openPatch(ResourcesConfig.fields.overload.fields) }),
  events: openPatch(EventsConfig.fields),
  scheduler: openPatch(SchedulerConfig.fields),
  approvals: openPatch(ApprovalsConfig.fields),
  orchestrator: openPatch(OrchestratorConfig.fields),
  memory: openPatch({ embedding: openPatch(MemoryEmbeddingFields), hnsw: openPatch(MemoryHnswConfig.fields) }),
  tools: openPatch(ToolsConfig.fields),
  llm: openPatch(LlmFields),
  log: openPatch(LogConfig.fields)
}).annotations({ identifier: "ConfigPatch" })
export type ConfigPatch = typeof ConfigPatch.Type
