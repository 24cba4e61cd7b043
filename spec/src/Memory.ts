/**
 * Memory (seed section 8): what agents and users remember, searchable by keyword (FTS5, BM25)
 * and by meaning (an HNSW index over embeddings). A stored memory's `name` is its id and its
 * `category` its `memory_type`.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { StreamName } from "./StreamName.js"
import { Authorization } from "./Auth.js"
import { NotFound, ServiceUnavailable } from "./Errors.js"
import { Page } from "./Pagination.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"

/** Largest memory content accepted, in UTF-8 bytes (32 KB). */
export const MEMORY_CONTENT_MAX_BYTES = 32 * 1024
/** Most results a search returns. */
export const MEMORY_SEARCH_MAX_LIMIT = 500

/** The kinds of memory that can be stored. */
export const MemoryType = Schema.Literal("fact", "episode", "knowledge")
export type MemoryType = typeof MemoryType.Type

/** The kinds a search may filter on (conversation and session memories are written by the chat). */
export const MemoryTypeFilter = Schema.Literal("conversation", "session", "fact", "episode", "knowledge")
export type MemoryTypeFilter = typeof MemoryTypeFilter.Type

const encoder = new TextEncoder()

const MemoryContent = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0 || "content must not be empty"),
  Schema.filter((s) => {
    const bytes = encoder.encode(s).length
    return bytes <= MEMORY_CONTENT_MAX_BYTES || `content is ${bytes} bytes; at most ${MEMORY_CONTENT_MAX_BYTES} (32 KB) are accepted`
  })
)

const Tag = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

/** The body of `POST /api/memory`. */
export const StoreMemoryRequest = Schema.Struct({
  content: MemoryContent,
  memory_type: Schema.optionalWith(MemoryType, { default: () => "fact" as const, nullable: true }),
  tags: Schema.optionalWith(Schema.Array(Tag).pipe(Schema.maxItems(64)), { default: () => [], nullable: true }),
  importance: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.5, nullable: true })
}).annotations({ identifier: "StoreMemoryRequest" })
export type StoreMemoryRequest = typeof StoreMemoryRequest.Type

export const StoreMemoryResponse = Schema.Struct({ id: Schema.String, status: Schema.Literal("created") })

/** One item of `GET /api/memory`: `name` is the memory's id, `category` its type. */
export const MemoryListItem = Schema.Struct({
  name: Schema.String,
  category: Schema.String,
  importance: Schema.Number,
  created_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "MemoryListItem" })
export type MemoryListItem = typeof MemoryListItem.Type

/** `GET /api/memory/{name}`. */
export const MemoryEntry = Schema.Struct({
  name: Schema.String,
  category: Schema.String,
  content: Schema.String,
  id: Schema.String,
  type: Schema.String,
  tags: Schema.Array(Schema.String),
  importance: Schema.Number,
  created_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "MemoryEntry" })
export type MemoryEntry = typeof MemoryEntry.Type

const SearchLimit = Schema.Int.pipe(Schema.between(1, MEMORY_SEARCH_MAX_LIMIT))

/** The body of `POST /api/memory/search` and `POST /api/memory/semantic`. */
export const MemorySearchRequest = Schema.Struct({
  query: Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0 || "query must not be empty"),
    Schema.maxLength(4096)
  ),
  memory_type: Schema.optionalWith(MemoryTypeFilter, { nullable: true }),
  limit: Schema.optionalWith(SearchLimit, { default: () => 10, nullable: true })
}).annotations({ identifier: "MemorySearchRequest" })
export type MemorySearchRequest = typeof MemorySearchRequest.Type

/** One keyword search result. */
export const MemorySearchEntry = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  content: Schema.String,
  tags: Schema.Array(Schema.String),
  importance: Schema.Number,
  created_at: Schema.String
}).annotations({ identifier: "MemorySearchEntry" })
export type MemorySearchEntry = typeof MemorySearchEntry.Type

export const MemorySearchResponse = Schema.Struct({ count: Schema.Number, entries: Schema.Array(MemorySearchEntry) })
export type MemorySearchResponse = typeof MemorySearchResponse.Type

/** One semantic search result: `similarity` is the cosine, `distance` 1 - cosine. */
export const MemorySemanticEntry = Schema.Struct({
  ...MemorySearchEntry.fields,
  similarity: Schema.Number,
  distance: Schema.Number
}).annotations({ identifier: "MemorySemanticEntry" })
export type MemorySemanticEntry = typeof MemorySemanticEntry.Type

export const MemorySemanticResponse = Schema.Struct({
  count: Schema.Number,
  entries: Schema.Array(MemorySemanticEntry),
  /** `hnsw`: the live index (approximate); `exact`: the memories as of `?at_seq`, compared one by one (Annal's addition). */
  engine: Schema.Literal("hnsw", "exact")
})
export type MemorySemanticResponse = typeof MemorySemanticResponse.Type

export const DeleteMemoryResponse = Schema.Struct({ name: Schema.String, status: Schema.Literal("deleted") })

const NamePath = Schema.Struct({ name: Schema.String })

export class MemoryGroup extends HttpApiGroup.make("memory")
  .add(HttpApiEndpoint.get("list", "/api/memory").setUrlParams(PageAtSeqQuery).addSuccess(Page(MemoryListItem)))
  .add(HttpApiEndpoint.post("create", "/api/memory").setPayload(StoreMemoryRequest).addSuccess(StoreMemoryResponse))
  .add(
    HttpApiEndpoint.post("search", "/api/memory/search")
      .setPayload(MemorySearchRequest)
      .setUrlParams(AtSeqQuery)
      .addSuccess(MemorySearchResponse)
      .annotate(OpenApi.Description, "Keyword search: SQLite FTS5, ranked by BM25; the query's words are matched literally (no FTS syntax).")
  )
  .add(
    HttpApiEndpoint.post("semantic", "/api/memory/semantic")
      .setPayload(MemorySearchRequest)
      .setUrlParams(AtSeqQuery)
      .addSuccess(MemorySemanticResponse)
      .addError(ServiceUnavailable)
      .annotate(
        OpenApi.Description,
        "Semantic search over an HNSW index (cosine); with ?at_seq=N, an exact comparison with the memories as they stood after event N (engine `exact`); 503 when the configured embedding provider cannot be used."
      )
  )
  .add(HttpApiEndpoint.get("get", "/api/memory/:name").setPath(NamePath).setUrlParams(AtSeqQuery).addSuccess(MemoryEntry).addError(NotFound))
  .add(HttpApiEndpoint.del("delete", "/api/memory/:name").setPath(NamePath).addSuccess(DeleteMemoryResponse).addError(NotFound))
  .middleware(Authorization)
{}
