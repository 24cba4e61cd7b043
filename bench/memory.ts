/**
 * bench:memory — semantic search over 100,000 memories: the kernel's Memory service (lexical
 * embedding, HNSW index, the rows read from SQLite, a `memory_recalled` event appended) beside
 * exact brute-force cosine over the same vectors, in the same run. Prints recall@10 of the
 * index against the exact answer, and the speed ratio.
 *
 *   npm run bench:memory            (BENCH_MEMORIES, BENCH_QUERIES to change the sizes)
 */
import { Configuration, DataDir, Kernel, LexicalEmbedder, Memory } from "@annal/kernel"
import { VectorIndexHnsw } from "@annal/store"
import { defaultConfig } from "@annal/spec"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { statSync } from "node:fs"
import { fmt, machine, tempDir } from "./lib.js"
import { memoryText, queryText } from "./memoryText.js"

const MEMORIES = Number(process.env.BENCH_MEMORIES ?? 100_000)
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200)
const WARMUP = 20
const K = 10
const SEED = 42
const { dimension } = defaultConfig.memory.embedding
const { m, ef_construction, ef_search } = defaultConfig.memory.hnsw
const actor = { actor: "user:bench" }

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** Exact top-k by cosine over unit vectors: a dot product with every row, then a small insertion list. */
const bruteForce = (matrix: Float32Array, rows: number, q: Float32Array, k: number) => {
  const best: Array<{ row: number; score: number }> = []
  for (let r = 0; r < rows; r++) {
    const offset = r * dimension
    let score = 0
    for (let j = 0; j < dimension; j++) score += matrix[offset + j]! * q[j]!
    if (best.length === k && score <= best[k - 1]!.score) continue
    let i = best.length === k ? k - 1 : best.length
    if (best.length < k) best.push({ row: r, score })
    while (i > 0 && best[i - 1]!.score < score) {
      best[i] = best[i - 1]!
      i--
    }
    best[i] = { row: r, score }
  }
  return best
}

const program = Effect.gen(function*() {
  const memory = yield* Memory
  console.log(`bench:memory — ${fmt(MEMORIES)} memories, ${QUERIES} queries, k=${K}; lexical d=${dimension}, HNSW M=${m} efConstruction=${ef_construction} ef=${ef_search}`)
  console.log(`machine: ${machine()}`)

  // 1. store every memory through the service (group commit batches the concurrent appends)
  const texts = Array.from({ length: MEMORIES }, (_, i) => memoryText(SEED, i))
  const ids = new Array<string>(MEMORIES)
  let start = performance.now()
  yield* Effect.forEach(texts, (text, i) => Effect.map(memory.store(text, actor), ({ id }) => (ids[i] = id)), { concurrency: 256, discard: true })
  const storeMs = performance.now() - start
  console.log(`stored ${fmt(MEMORIES)} memories (events, views, FTS5) in ${seconds(storeMs)}: ${fmt(MEMORIES / (storeMs / 1000))}/s`)

  // 2. the index follows the log in the background; wait until it has everything
  start = performance.now()
  const synced = yield* memory.syncIndex
  const syncMs = performance.now() - start
  console.log(`index caught up ${seconds(syncMs)} after the last store (${seconds(storeMs + syncMs)} from the first): ${fmt(synced.size)} vectors`)

  // 3. the same vectors, for the exact answer
  start = performance.now()
  const matrix = new Float32Array(MEMORIES * dimension)
  texts.forEach((t, i) => matrix.set(LexicalEmbedder.lexicalEmbedding(t.content, dimension), i * dimension))
  console.log(`embedded ${fmt(MEMORIES)} texts again for brute force in ${seconds(performance.now() - start)}`)

  const queries = Array.from({ length: QUERIES + WARMUP }, (_, i) => queryText(SEED, i))
  let oursMs = 0
  let baselineMs = 0
  let recallSum = 0
  for (const [qi, query] of queries.entries()) {
    let t = performance.now()
    const result = yield* memory.semantic({ query, limit: K }, actor)
    const ours = performance.now() - t

    t = performance.now()
    const q = LexicalEmbedder.lexicalEmbedding(query, dimension)
    const exact = bruteForce(matrix, MEMORIES, q, K)
    const baseline = performance.now() - t
    if (qi < WARMUP) continue
    oursMs += ours
    baselineMs += baseline
    // tie-aware: a result as near as the k-th exact neighbour is a right answer
    const kth = exact[exact.length - 1]!.score
    const exactIds = new Set(exact.map((e) => ids[e.row]))
    const hits = result.entries.filter((e) => exactIds.has(e.id) || e.similarity >= kth - 1e-5).length
    recallSum += hits / Math.min(K, exact.length)
  }
  const ours = oursMs / QUERIES
  const baseline = baselineMs / QUERIES
  const recall = recallSum / QUERIES
  console.log(`semantic search through the Memory service: ${ours.toFixed(3)} ms/query (${fmt(1000 / ours)} queries/s), rows and a memory_recalled event included`)
  console.log(`exact brute-force cosine over the same ${fmt(MEMORIES)} vectors: ${baseline.toFixed(3)} ms/query (${fmt(1000 / baseline)} queries/s)`)
  console.log(`recall@${K} against the exact answer: ${recall.toFixed(4)}; ${(baseline / ours).toFixed(1)}x faster`)
  return { ours, baseline, recall }
})

const { dir, file, cleanup } = tempDir("memory")
const store = Layer.merge(Kernel.storeLayer({ filename: file("annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir))
const kernel = Memory.layer.pipe(Layer.provide(VectorIndexHnsw.layer), Layer.provideMerge(Configuration.layer), Layer.provideMerge(store))

const started = performance.now()
const result = await Effect.runPromise(
  program.pipe(
    Effect.tap(() => Effect.sync(() => console.log("closing: the index is saved to memory.hnsw"))),
    Effect.provide(kernel),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
)
console.log(`memory.hnsw: ${fmt(statSync(file("memory.hnsw")).size / 1024 / 1024)} MB; whole run ${seconds(performance.now() - started)} (synchronous=NORMAL)`)
cleanup()
console.log(
  JSON.stringify({
    bench: "memory",
    ours: Number(result.ours.toFixed(3)),
    baseline: Number(result.baseline.toFixed(3)),
    unit: "ms/query",
    ratio: Number((result.baseline / result.ours).toFixed(1)),
    recall: Number(result.recall.toFixed(4))
  })
)
