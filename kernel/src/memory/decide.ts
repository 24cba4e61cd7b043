/** Pure decisions of the memory context: what to append for a store, a delete, a recall. */
import { type MemorySearchRequest, StoreMemoryRequest } from "@annal/spec"
import { Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { EntityNotFound, InvalidCommand } from "../shared/errors.js"
import type { MemoryDeleted, MemoryRecalled, MemoryStored } from "./events.js"
import { STOPWORDS } from "./LexicalEmbedder.js"

const decodeStore = Schema.decodeUnknownEither(StoreMemoryRequest)

/**
 * A memory to store under the id the service drew: the request is validated by the same schema
 * as the HTTP body (so agents' tools obey the same limits), and duplicate tags collapse.
 */
export const decideStore = (request: unknown, id: string): Either.Either<MemoryStored, InvalidCommand> => {
  const decoded = decodeStore(request)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    const message = issue === undefined ? "invalid memory" : `invalid field "${issue.path.join(".")}": ${issue.message}`
    return Either.left(new InvalidCommand({ message }))
  }
  const m = decoded.right
  return Either.right({ id, memory_type: m.memory_type, content: m.content, tags: [...new Set(m.tags)], importance: m.importance })
}

/** Deleting needs the memory to exist. */
export const decideDelete = (id: string, exists: boolean): Either.Either<MemoryDeleted, EntityNotFound> =>
  exists ? Either.right({ id }) : Either.left(new EntityNotFound({ what: "memory", id }))

/** What a search that returned `ids` records; nothing when it returned none. */
export const decideRecall = (
  mode: MemoryRecalled["mode"],
  request: Pick<MemorySearchRequest, "query" | "memory_type">,
  ids: ReadonlyArray<string>
): MemoryRecalled | undefined =>
  ids.length === 0 ? undefined : {
    mode,
    memory_type: request.memory_type ?? null,
    query_sha256: createHash("sha256").update(request.query, "utf8").digest("hex"),
    query_length: request.query.length,
    memory_ids: [...ids],
    count: ids.length
  }

/** Most words of a keyword query that are matched. */
export const MAX_QUERY_TERMS = 32

/**
 * An FTS5 MATCH expression for a user's keyword query: its words, each a quoted string (so no
 * character of the query is FTS syntax), any of which may match; BM25 ranks documents that
 * match more and rarer words first. Function words ("the", "and") are left out unless the
 * query has nothing else: they match nearly every memory and BM25 gives them almost no weight.
 * Undefined when the query has no words.
 */
export const matchExpression = (query: string): string | undefined => {
  const words = [...new Set((query.normalize("NFKC").match(/[\p{L}\p{N}]+/gu) ?? []).map((w) => w.toLowerCase()))]
  const meaningful = words.filter((w) => !STOPWORDS.has(w))
  const unique = (meaningful.length > 0 ? meaningful : words).slice(0, MAX_QUERY_TERMS)
  if (unique.length === 0) return undefined
  // \p{L}\p{N} runs contain no double quote; quoting makes AND, OR, NEAR and * plain words
  return unique.map((w) => `"${w}"`).join(" OR ")
}
