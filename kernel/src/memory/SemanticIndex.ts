/**
 * The semantic index: every stored memory's embedding in an HNSW graph (the store's
 * VectorIndex), kept in `memory.hnsw`. It is not a view: it follows the log by itself, from
 * the last seq it indexed, and is rebuilt from the log when its file is missing or unreadable,
 * when it was built by another embedder, or when it belongs to another log.
 */
import type { MemoryConfig } from "@annal/spec"
import { EventRow, EventStore, type EventStoreError, VectorIndex, type VectorIndexHandle } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Schema } from "effect"
import { commandsOf, counted, query } from "../shared/Command.js"
import { Unavailable } from "../shared/errors.js"
import { readRowData } from "../shared/EventData.js"
import { type Embedder, makeEmbedder } from "./Embedder.js"
import { INDEXED_TYPES, MEMORY_STORED, MemoryDeleted, MemoryStored } from "./events.js"
import { MemoryRow } from "./projection.js"

const LogHash = EventRow.pipe(Schema.pick("hash"))
const LogEntry = EventRow.pipe(Schema.pick("seq", "type", "stream", "data"))
const LogSeq = EventRow.pipe(Schema.pick("seq"))
const IndexedMemory = MemoryRow.pipe(Schema.pick("id", "type", "seq"))

/** Events read from the log per step of a catch-up. */
const PAGE = 512
/** A save waits until no change came for this long… */
const SETTLE_MS = 2000
/** …and until this many vectors changed, or this much time passed since the last save. */
const SAVE_AFTER_CHANGES = 1000
const SAVE_AFTER_MS = 5 * 60_000

interface Active {
  /** The settings it was built under (everything but ef_search). */
  readonly key: string
  readonly embedder: Embedder
  readonly index: VectorIndexHandle
  /** The last seq whose memory events are in the index. */
  lastSeq: number
  /** Each indexed memory's type (for the filter inside the graph walk) and row (its seq). */
  readonly memories: Map<string, { readonly type: string; readonly seq: number }>
  dirty: boolean
  /** Vectors added or removed since the last save. */
  unsaved: number
  lastChangeAt: number
  lastSavedAt: number
}

export interface SemanticStatus {
  /** The configured embedder works (or has not failed yet). */
  readonly enabled: boolean
  /** Vectors in the index. */
  readonly size: number
  readonly lastSeq: number
  /** Why the embedder cannot be used, when it cannot. */
  readonly failure: string | undefined
}

const settingsKey = (memory: MemoryConfig) => JSON.stringify([memory.embedding, memory.hnsw.m, memory.hnsw.ef_construction])

const unavailable = (what: string) => (e: { readonly message: string }) => new Unavailable({ message: `${what}: ${e.message}` })

/** The semantic index over `path`; the caller serialises every call (one semaphore). */
export const makeSemanticIndex = (path: string) =>
  Effect.gen(function*() {
    const vectors = yield* VectorIndex
    const store = yield* EventStore
    const sql = yield* SqlClient.SqlClient
    const provide = Effect.provideService(SqlClient.SqlClient, sql)
    const commands = commandsOf(store, sql)
    let active: Active | undefined
    let failure: { readonly key: string; readonly message: string; readonly at: number } | undefined

    const hashAt = (seq: number) =>
      provide(query("events", LogHash, (sql) => sql`SELECT hash FROM events WHERE seq = ${seq}`)).pipe(Effect.map(([row]) => row?.hash))

    const save = (a: Active) =>
      Effect.gen(function*() {
        if (!a.dirty) return
        const hash = a.lastSeq === 0 ? null : (yield* hashAt(a.lastSeq)) ?? null
        yield* a.index.save({ fingerprint: a.embedder.fingerprint, last_seq: a.lastSeq, last_hash: hash })
        a.dirty = false
        a.unsaved = 0
        a.lastSavedAt = yield* Clock.currentTimeMillis
      })

    /**
     * Saves once changes have settled, when enough changed to be worth rewriting the whole file
     * (a large index is hundreds of MB) or some minutes have passed. What a crash loses is only
     * time: the index catches up from the log. Closing always saves.
     */
    const saveIfSettled = Effect.gen(function*() {
      const a = active
      if (a === undefined || !a.dirty) return
      const now = yield* Clock.currentTimeMillis
      const settled = now - a.lastChangeAt >= SETTLE_MS
      const worth = a.unsaved >= SAVE_AFTER_CHANGES || now - a.lastSavedAt >= SAVE_AFTER_MS
      if ((settled && worth) || now - a.lastSavedAt >= 2 * SAVE_AFTER_MS) yield* save(a)
    })

    const deactivate = Effect.gen(function*() {
      const a = active
      if (a === undefined) return
      active = undefined
      yield* save(a).pipe(Effect.catchAll((e) => Effect.logWarning(`could not save the memory index: ${e.message}`)))
      yield* a.embedder.close
    })

    /** The index under the given settings, opened (loaded or rebuilt) if need be. */
    const activate = (memory: MemoryConfig) =>
      Effect.gen(function*() {
        const key = settingsKey(memory)
        if (active?.key === key) return active
        yield* deactivate
        const embedder = yield* makeEmbedder(memory.embedding).pipe(
          Effect.tapError((e) => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => (failure = { key, message: e.message, at }))))
        )
        failure = undefined
        const count = yield* provide(counted("memory_entries", (sql) => sql`SELECT count(*) AS n FROM memory_entries`))
        const opened = yield* vectors.open({
          path,
          dimension: embedder.dimension,
          space: "cosine",
          m: memory.hnsw.m,
          efConstruction: memory.hnsw.ef_construction,
          initialCapacity: Math.ceil(count * 1.1) + 1024
        }).pipe(Effect.mapError(unavailable("the semantic index could not be opened")))
        const meta = opened.meta
        let reason = opened.reason
        let lastSeq = 0
        if (opened.loaded && meta !== undefined) {
          const seq = typeof meta.last_seq === "number" ? meta.last_seq : -1
          const head = (yield* store.head).seq
          if (meta.fingerprint !== embedder.fingerprint) reason = "it was built by another embedder"
          else if (seq < 0 || seq > head) reason = "it is ahead of this log"
          else if (seq > 0 && (yield* hashAt(seq)) !== meta.last_hash) reason = "it belongs to another log"
          else lastSeq = seq
          if (lastSeq === 0 && seq !== 0) yield* opened.index.clear.pipe(Effect.mapError(unavailable("the semantic index could not be cleared")))
        }
        const rows = yield* provide(query("memory_entries", IndexedMemory, (sql) => sql`SELECT id, type, seq FROM memory_entries`))
        const a: Active = {
          key,
          embedder,
          index: opened.index,
          lastSeq,
          memories: new Map(rows.map((r) => [r.id, { type: r.type, seq: r.seq }])),
          dirty: !opened.loaded || lastSeq === 0,
          unsaved: 0,
          lastChangeAt: yield* Clock.currentTimeMillis,
          lastSavedAt: yield* Clock.currentTimeMillis
        }
        active = a
        yield* lastSeq > 0
          ? Effect.logInfo(`memory index loaded: ${a.index.size()} vectors up to seq ${lastSeq} (${embedder.fingerprint})`)
          : Effect.logInfo(`memory index rebuilt from the log (${reason}; ${embedder.fingerprint})`)
        return a
      })

    /** Adds or removes what the log holds after the index's last seq, up to its head. */
    const catchUp = (a: Active) =>
      Effect.gen(function*() {
        const head = (yield* store.head).seq
        // every semantic search catches up first, most often over nothing: one index probe per
        // type says so (the page query below sorts, which costs tens of µs even when empty)
        const nothing = yield* Effect.map(
          Effect.forEach(INDEXED_TYPES, (type) =>
            commands.view("events", LogSeq, (sql) => sql`SELECT seq FROM events WHERE type = ${type} AND seq > ${a.lastSeq} AND seq <= ${head} LIMIT 1`)),
          (found) => found.every((rows) => rows.length === 0)
        )
        if (nothing) a.lastSeq = Math.max(a.lastSeq, head)
        while (a.lastSeq < head) {
          const rows = yield* commands.view("events", LogEntry, (sql) =>
            sql`SELECT seq, type, stream, data FROM events
              WHERE type IN ${sql.in(INDEXED_TYPES)} AND seq > ${a.lastSeq} AND seq <= ${head} ORDER BY seq LIMIT ${PAGE}`)
          let run: Array<MemoryStored & { readonly seq: number }> = []
          const flush = Effect.gen(function*() {
            if (run.length === 0) return
            const batch = run
            run = []
            const embedded = yield* a.embedder.embed(batch.map((m) => m.content))
            yield* a.index.addAll(batch.map((m, i) => ({ key: m.id, vector: embedded[i]! }))).pipe(
              Effect.mapError(unavailable("the semantic index could not be updated"))
            )
            for (const m of batch) a.memories.set(m.id, { type: m.memory_type, seq: m.seq })
          })
          for (const row of rows) {
            if (row.type === MEMORY_STORED) {
              run.push({ ...(yield* readRowData(MemoryStored, row)), seq: row.seq })
              continue
            }
            yield* flush
            const { id } = yield* readRowData(MemoryDeleted, row)
            yield* a.index.remove(id).pipe(Effect.mapError(unavailable("the semantic index could not be updated")))
            a.memories.delete(id)
          }
          yield* flush
          a.lastSeq = rows.length < PAGE ? head : rows[rows.length - 1]!.seq
          if (rows.length > 0) {
            a.dirty = true
            a.unsaved += rows.length
            a.lastChangeAt = yield* Clock.currentTimeMillis
          }
          // a long rebuild leaves room for requests between pages
          yield* Effect.yieldNow()
        }
        return a
      })

    /** The index, brought up to the log's head under `memory`'s settings. */
    const sync = (memory: MemoryConfig): Effect.Effect<Active, Unavailable | EventStoreError> =>
      Effect.flatMap(activate(memory), catchUp)

    /** The `k` memories nearest `text` (of `type` when given), nearest first. */
    const search = (memory: MemoryConfig, text: string, k: number, type: string | undefined) =>
      Effect.gen(function*() {
        const a = yield* sync(memory)
        const [vector] = yield* a.embedder.embed([text])
        // a query with nothing to compare (no words, for the lexical embedder) is near nothing
        if (vector === undefined || vector.every((x) => x === 0)) return []
        return yield* a.index.search(vector, k, {
          ef: memory.hnsw.ef_search,
          filter: type === undefined ? undefined : (key) => a.memories.get(key)?.type === type
        }).pipe(
          Effect.mapError(unavailable("the semantic index could not be searched")),
          // the row's seq lets the caller read it by primary key
          Effect.map((hits) => hits.map((hit) => ({ ...hit, seq: a.memories.get(hit.key)?.seq ?? -1 })))
        )
      })

    /**
     * The `k` of `memories` nearest `text` by an exhaustive comparison (the memories as they were
     * at a past seq: not the graph's set), each embedded by the embedder configured now, measured
     * as the graph measures; nearest first.
     */
    const searchAmong = (memory: MemoryConfig, text: string, k: number, memories: ReadonlyArray<{ readonly id: string; readonly content: string }>) =>
      Effect.gen(function*() {
        const { embedder } = yield* activate(memory)
        const [vector] = yield* embedder.embed([text])
        if (vector === undefined || vector.every((x) => x === 0) || memories.length === 0) return []
        const embedded: Array<Float32Array> = []
        for (let i = 0; i < memories.length; i += PAGE) {
          embedded.push(...(yield* embedder.embed(memories.slice(i, i + PAGE).map((m) => m.content))))
        }
        return yield* vectors.exactSearch("cosine", memories.map((m, i) => ({ key: m.id, vector: embedded[i]! })), vector, k).pipe(
          Effect.mapError(unavailable("the memories could not be compared"))
        )
      })

    /**
     * Our own append of a non-memory event at `seq` (a recall): when it directly follows what the
     * index has seen, the index has seen it too, and the next search need not read the log.
     */
    const passed = (seq: number) => {
      if (active !== undefined && active.lastSeq === seq - 1) active.lastSeq = seq
    }

    /** Whether the background may try `memory`'s settings again (a failed provider waits 30 s). */
    const mayRetry = (memory: MemoryConfig) =>
      Effect.map(Clock.currentTimeMillis, (now) => failure === undefined || failure.key !== settingsKey(memory) || now - failure.at > 30_000)

    return {
      sync,
      search,
      searchAmong,
      passed,
      mayRetry,
      saveIfSettled,
      /** Saves what is unsaved and releases the embedder. */
      close: deactivate,
      status: (memory: MemoryConfig): SemanticStatus => {
        const failed = failure !== undefined && failure.key === settingsKey(memory)
        return {
          enabled: !failed,
          size: active?.index.size() ?? 0,
          lastSeq: active?.lastSeq ?? 0,
          failure: failed ? failure?.message : undefined
        }
      }
    }
  })
