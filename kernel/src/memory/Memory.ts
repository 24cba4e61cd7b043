/**
 * The memory service: store, list, read and delete memories (events and their view), keyword
 * search over the view's FTS5 table, and semantic search over the HNSW index, which a
 * background fiber keeps following the log.
 */
import type {
  MemoryConfig,
  MemoryEntry,
  MemoryListItem,
  MemorySearchEntry,
  MemorySearchRequest,
  MemorySearchResponse,
  MemorySemanticResponse,
  PageRequest
} from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator, ReadingAt } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, FiberRef, Layer, Queue, Schedule, Schema, Stream } from "effect"
import { Configuration } from "../config/Configuration.js"
import { type CommandContext, commandsOf, counted, query } from "../shared/Command.js"
import { commandHandler, eventOf } from "../shared/CommandHandler.js"
import { DataDir } from "../shared/DataDir.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand, type Unavailable } from "../shared/errors.js"
import { readData } from "../shared/EventData.js"
import { type Paged, pagedWith } from "../shared/Page.js"
import { decideDelete, decideRecall, decideStore, matchExpression } from "./decide.js"
import { MEMORY_DELETED, MEMORY_RECALLED, MEMORY_STORED, type MemoryRecalled, MemoryStored, memoryStream, RECALL_STREAM } from "./events.js"
import { MemoryRow } from "./projection.js"
import { makeSemanticIndex } from "./SemanticIndex.js"

/** What `GET /api/status` shows of memory. */
export interface MemoryStatus {
  readonly enabled: boolean
  readonly index_size: number
  readonly total_entries: number
}

/** A row of `memory_entries` as searches read it. */
const EntryRow = MemoryRow.pipe(Schema.pick("id", "type", "content", "tags", "importance", "created_at"))
const searchEntry = (row: typeof EntryRow.Type): MemorySearchEntry => row
const MemoryListed = MemoryRow.pipe(Schema.pick("id", "type", "importance", "created_at"))

/** Keyword and semantic search requests as the kernel takes them (the limit is required). */
export type MemoryQuery = Pick<MemorySearchRequest, "query" | "limit"> & { readonly memory_type?: MemorySearchRequest["memory_type"] }

export class Memory extends Context.Tag("@annal/kernel/Memory")<
  Memory,
  {
    /** Stores a memory (validated like `POST /api/memory`); returns its id. */
    readonly store: (request: unknown, context: CommandContext) => Effect.Effect<{ readonly id: string }, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Memories newest first: `name` is the id, `category` the type. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<MemoryListItem>, EventStoreError>
    readonly get: (id: string) => Effect.Effect<MemoryEntry, EntityNotFound | EventStoreError>
    /** Deletes a memory: it leaves both searches. */
    readonly remove: (id: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Keyword search (FTS5, BM25); records `memory_recalled` when something is found. */
    readonly search: (request: MemoryQuery, context: CommandContext) => Effect.Effect<MemorySearchResponse, EventStoreError>
    /** Semantic search (HNSW, cosine); records `memory_recalled` when something is found. */
    readonly semantic: (request: MemoryQuery, context: CommandContext) => Effect.Effect<MemorySemanticResponse, Unavailable | EventStoreError>
    readonly status: Effect.Effect<MemoryStatus, EventStoreError>
    /** Brings the semantic index up to the log's head now; its size and last indexed seq. */
    readonly syncIndex: Effect.Effect<{ readonly size: number; readonly lastSeq: number }, Unavailable | EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Memory,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      const config = yield* Configuration
      const paths = yield* DataDir
      const provide = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) =>
        effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(EventStore, store))
      const commands = commandsOf(store, sql)
      const handle = commandHandler(store)
      const semantic = yield* makeSemanticIndex(paths.memoryIndex)
      // every use of the semantic index takes this one permit: it is one mutable graph
      const lock = yield* Effect.makeSemaphore(1)
      const exclusive = lock.withPermits(1)
      const memoryConfig = Effect.map(config.current, (c): MemoryConfig => c.memory)

      // added before the fibers below, so it runs after they are interrupted: a rebuild in
      // progress stops at once and what it indexed so far is saved
      yield* Effect.addFinalizer(() => exclusive(semantic.close))

      // Background indexing: a kick after each change (or config change) catches the index up,
      // so a semantic search rarely waits; the search itself still catches up first.
      const kicks = yield* Queue.sliding<void>(1)
      const kick = Queue.offer(kicks, undefined).pipe(Effect.asVoid)
      const background = Effect.gen(function*() {
        const memory = yield* memoryConfig
        if (!(yield* semantic.mayRetry(memory))) return
        yield* exclusive(semantic.sync(memory)).pipe(
          Effect.catchAll((e) => Effect.logWarning(`memory index: ${e.message}`))
        )
      })
      yield* Queue.take(kicks).pipe(Effect.zipRight(background), Effect.forever, Effect.forkScoped)
      yield* config.changes.pipe(
        Stream.map((c) => JSON.stringify(c.memory)),
        Stream.changes,
        Stream.runForEach(() => kick),
        Effect.forkScoped
      )
      yield* exclusive(semantic.saveIfSettled).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not save the memory index: ${e.message}`)),
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.forkScoped
      )

      // awaited: what was recalled goes into prompts that leave the process, and the record comes first
      const recall = (mode: MemoryRecalled["mode"], request: MemoryQuery, ids: ReadonlyArray<string>, context: CommandContext) => {
        const data = decideRecall(mode, request, ids)
        if (data === undefined) return Effect.void
        return commands.appendDecided(RECALL_STREAM, "any", [{ type: MEMORY_RECALLED, data }], context).pipe(
          // "any" cannot conflict
          Effect.catchTag("ConcurrentChange", (e) => Effect.die(e)),
          Effect.flatMap((events) => exclusive(Effect.sync(() => events.forEach((e) => semantic.passed(e.seq)))))
        )
      }

      const storeMemory = handle({
        stream: (command: { readonly id: string; readonly request: unknown }) => memoryStream(command.id),
        load: () => Effect.void,
        decide: (command) => Either.map(decideStore(command.request, command.id), (data) => [{ type: MEMORY_STORED, data }]),
        emits: [MEMORY_STORED],
        // a retried Idempotency-Key answers with the memory it stored the first time
        answer: (events, command) => {
          const stored = eventOf(events, MEMORY_STORED)
          return Effect.zipRight(kick, stored === undefined ? Effect.succeed({ id: command.id }) : Effect.map(readData(MemoryStored, stored), (m) => ({ id: m.id })))
        }
      })

      const list = (page: PageRequest) =>
        pagedWith(sql)(
          "memories",
          page,
          (sql) => sql`SELECT count(*) AS n FROM memory_entries`,
          MemoryListed,
          (sql, limit, offset) =>
            sql`
              SELECT id, type, importance, created_at FROM memory_entries ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`,
          (r): MemoryListItem => ({ name: r.id, category: r.type, importance: r.importance, created_at: r.created_at, stream: memoryStream(r.id) })
        )

      const get = (id: string) =>
        Effect.gen(function*() {
          const rows = yield* provide(query("memory_entries", EntryRow, (sql) =>
            sql`SELECT id, type, content, tags, importance, created_at FROM memory_entries WHERE id = ${id}`))
          const r = rows[0]
          if (r === undefined) return yield* new EntityNotFound({ what: "memory", id })
          const entry = searchEntry(r)
          return { name: r.id, category: r.type, ...entry, stream: memoryStream(r.id) } satisfies MemoryEntry
        })

      const remove = handle({
        stream: memoryStream,
        load: (id: string) =>
          provide(Effect.map(counted("memory_entries", (sql) => sql`SELECT count(*) AS n FROM memory_entries WHERE id = ${id}`), (n) => n > 0)),
        decide: (id, exists) => Either.map(decideDelete(id, exists), (data) => [{ type: MEMORY_DELETED, data }]),
        emits: [MEMORY_DELETED],
        answer: () => kick
      })

      const search = (request: MemoryQuery, context: CommandContext) =>
        Effect.gen(function*() {
          const match = matchExpression(request.query)
          if (match === undefined) return { count: 0, entries: [] }
          const type = request.memory_type ?? undefined
          // content weighs twice as much as tags; ties go to the newer memory
          const rows = yield* provide(query("memory_entries", EntryRow, (sql) =>
            sql.unsafe(
              `SELECT e.id, e.type, e.content, e.tags, e.importance, e.created_at
               FROM memory_fts JOIN memory_entries e ON e.seq = memory_fts.rowid
               WHERE memory_fts MATCH ?${type === undefined ? "" : " AND e.type = ?"}
               ORDER BY bm25(memory_fts, 1.0, 0.5), e.seq DESC LIMIT ?`,
              type === undefined ? [match, request.limit] : [match, type, request.limit]
            )))
          const entries = rows.map(searchEntry)
          yield* recall("keyword", request, entries.map((e) => e.id), context)
          return { count: entries.length, entries }
        })

      /**
       * Semantic search of the memories as they stood at a past seq (`?at_seq`): the graph holds
       * only today's memories, so the past's are compared exhaustively (exact, where the graph is
       * approximate), embedded by the embedder configured now.
       */
      const pastSemanticSearch = (request: MemoryQuery, context: CommandContext): Effect.Effect<MemorySemanticResponse, Unavailable | EventStoreError> =>
        Effect.gen(function*() {
          const memory = yield* memoryConfig
          const type = request.memory_type ?? undefined
          const rows = yield* provide(query("memory_entries", EntryRow, (sql) =>
            type === undefined
              ? sql`SELECT id, type, content, tags, importance, created_at FROM memory_entries ORDER BY seq`
              : sql`SELECT id, type, content, tags, importance, created_at FROM memory_entries WHERE type = ${type} ORDER BY seq`))
          const hits = yield* exclusive(semantic.searchAmong(memory, request.query, request.limit, rows))
          const byId = new Map(rows.map((r) => [r.id, r]))
          const entries = hits.map((hit) => ({ ...searchEntry(byId.get(hit.key)!), similarity: 1 - hit.distance, distance: hit.distance }))
          yield* recall("semantic", request, entries.map((e) => e.id), context)
          return { count: entries.length, entries, engine: "exact" as const }
        })

      const liveSemanticSearch = (request: MemoryQuery, context: CommandContext): Effect.Effect<MemorySemanticResponse, Unavailable | EventStoreError> =>
        Effect.gen(function*() {
          const memory = yield* memoryConfig
          const hits = yield* exclusive(semantic.search(memory, request.query, request.limit, request.memory_type ?? undefined))
          if (hits.length === 0) return { count: 0, entries: [], engine: "hnsw" as const }
          const seqs = hits.map((h) => h.seq)
          const rows = yield* commands.view("memory_entries", EntryRow, (sql) =>
            sql`SELECT id, type, content, tags, importance, created_at FROM memory_entries WHERE seq IN ${sql.in(seqs)}`)
          const byId = new Map(rows.map((r) => [r.id, r]))
          const entries = hits.flatMap((hit) => {
            const row = byId.get(hit.key)
            // a memory deleted since the index last caught up is not a result
            return row === undefined ? [] : [{ ...searchEntry(row), similarity: 1 - hit.distance, distance: hit.distance }]
          })
          yield* recall("semantic", request, entries.map((e) => e.id), context)
          return { count: entries.length, entries, engine: "hnsw" as const }
        })

      const semanticSearch = (request: MemoryQuery, context: CommandContext): Effect.Effect<MemorySemanticResponse, Unavailable | EventStoreError> =>
        Effect.flatMap(FiberRef.get(ReadingAt), (past) => past === undefined ? liveSemanticSearch(request, context) : pastSemanticSearch(request, context))

      const status = Effect.gen(function*() {
        const memory = yield* memoryConfig
        const total = yield* provide(counted("memory_entries", (sql) => sql`SELECT count(*) AS n FROM memory_entries`))
        const s = semantic.status(memory)
        return { enabled: s.enabled, index_size: s.size, total_entries: total }
      })

      const syncIndex = Effect.gen(function*() {
        const memory = yield* memoryConfig
        return yield* exclusive(Effect.map(semantic.sync(memory), (a) => ({ size: a.index.size(), lastSeq: a.lastSeq })))
      })

      // the first kick opens (or rebuilds) the index in the background at start
      yield* kick
      return Memory.of({ store: (request, context) => Effect.flatMap(ids.next, (id) => storeMemory({ id, request }, context)), list, get, remove, search, semantic: semanticSearch, status, syncIndex })
    })
  )
}
