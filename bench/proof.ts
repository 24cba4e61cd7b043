/**
 * bench:proof — milliseconds per RFC 9162 proof on a log of 1,000,000 events: inclusion proofs
 * of random seqs in random tree sizes and consistency proofs between random sizes, as the
 * store answers them (`store.tree.inclusion` / `.consistency`: O(log n) reads of the stored
 * complete subtrees), beside the baseline of the same proofs computed by rehashing every leaf
 * (the tree rebuilt from the chain hashes for each proof, as a log without a stored tree must).
 * Every proof of ours is checked against the root of its tree size.
 *
 *   npm run bench:proof            BENCH_EVENTS=100000 for a smaller log
 */
import Database from "better-sqlite3"
import { EventStore, EventStoreSqlite, IdGenerator, MerkleTree, Projector } from "@annal/store"
import { Effect, Layer } from "effect"
import { fmt, machine, tempDir } from "./lib.js"

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const PROOFS = Number(process.env.BENCH_PROOFS ?? 2000)
const BASELINE_PROOFS = Number(process.env.BENCH_BASELINE_PROOFS ?? 3)
const PER_APPEND = 5000

/** A deterministic pseudo-random sequence, so runs prove the same seqs. */
const lcg = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

/**
 * The log, written through the store's own append path (chain and tree, in the same
 * transactions as ever) in large appends; no projections, which proofs never read.
 */
const writeLog = (filename: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    let last: Effect.Effect<unknown, unknown> = Effect.void
    for (let written = 0; written < EVENTS; written += PER_APPEND) {
      const subject = `agent-${(written / PER_APPEND) % 64}`
      last = yield* store.enqueue({
        stream: `access-${subject}`,
        expectedVersion: "any",
        actor: `agent:${subject}`,
        events: Array.from({ length: Math.min(PER_APPEND, EVENTS - written) }, (_, i) => ({
          type: "access_decided",
          data: { subject, action: "use_tool:exec", resource: `/workspace/${subject}/notes-${written + i}.md`, allowed: i % 5 !== 0, reason: null }
        }))
      })
      // a bounded queue: wait for every 20th append's commit
      if ((written / PER_APPEND) % 20 === 19) yield* last
    }
    yield* last
  }).pipe(Effect.scoped, Effect.provide(storeAlone({ filename, synchronous: "OFF" })), Effect.runPromise)

/** The store alone: no projections. */
const storeAlone = (config: EventStoreSqlite.EventStoreSqliteConfig) =>
  EventStoreSqlite.layer(config).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const hex = (h: string) => Buffer.from(h, "hex")

const tmp = tempDir("proof")
try {
  console.log(`machine: ${machine()}`)
  const filename = tmp.file("annal.db")
  let t = performance.now()
  await writeLog(filename)
  console.log(`(wrote ${fmt(EVENTS)} events through the store in ${((performance.now() - t) / 1000).toFixed(1)} s)`)

  const random = lcg(9162)
  const inclusionCases = Array.from({ length: PROOFS }, () => {
    const size = 1 + Math.floor(random() * EVENTS)
    return { seq: 1 + Math.floor(random() * size), size }
  })
  const consistencyCases = Array.from({ length: PROOFS }, () => {
    const second = 1 + Math.floor(random() * EVENTS)
    return { first: 1 + Math.floor(random() * second), second }
  })

  // ours: the store over the file, as `annal serve` opens it (the tree is on disk, not built here)
  const ours = await Effect.gen(function*() {
    const store = yield* EventStore
    const tree = store.tree
    if (tree.recordedSize !== EVENTS) throw new Error(`the stored tree holds ${tree.recordedSize} leaves, not ${EVENTS}`)
    // warm-up: the first reads page the database in
    for (const c of inclusionCases.slice(0, 50)) yield* tree.inclusion(c.seq, c.size)
    const started = performance.now()
    const inclusion = []
    for (const c of inclusionCases) inclusion.push(yield* tree.inclusion(c.seq, c.size))
    const inclusionMs = (performance.now() - started) / PROOFS
    const startedC = performance.now()
    const consistency = []
    for (const c of consistencyCases) consistency.push(yield* tree.consistency(c.first, c.second))
    const consistencyMs = (performance.now() - startedC) / PROOFS
    // every proof leads to the root of its tree size (roots read separately, outside the timing)
    for (const p of inclusion) {
      const [event] = yield* store.read(p.seq, p.seq)
      const root = hex(yield* tree.root(p.tree_size))
      if (!MerkleTree.verifyInclusion(p.leaf_index, p.tree_size, MerkleTree.eventLeafHash(event!.hash), p.hashes.map(hex), root)) {
        throw new Error(`inclusion proof of seq ${p.seq} in ${p.tree_size} does not verify`)
      }
    }
    for (const p of consistency) {
      if (!MerkleTree.verifyConsistency(p.first, p.second, p.hashes.map(hex), hex(p.first_root), hex(p.second_root))) {
        throw new Error(`consistency proof ${p.first} → ${p.second} does not verify`)
      }
    }
    return { inclusionMs, consistencyMs, inclusion, consistency }
  }).pipe(
    Effect.scoped,
    Effect.provide(storeAlone({ filename })),
    Effect.runPromise
  )
  console.log(`ours:     inclusion ${ours.inclusionMs.toFixed(3)} ms/proof, consistency ${ours.consistencyMs.toFixed(3)} ms/proof (${fmt(PROOFS)} each, random seqs and tree sizes; all verified)`)

  // the baseline: the chain hashes read once (not counted), then every proof rehashes its whole tree
  t = performance.now()
  const db = new Database(filename, { readonly: true })
  const chain = (db.prepare("SELECT hash FROM events ORDER BY seq").pluck().all() as Array<string>).map(hex)
  db.close()
  console.log(`(baseline read the ${fmt(chain.length)} chain hashes in ${fmt(performance.now() - t)} ms, not counted below)`)
  const rehash: MerkleTree.SubtreeHash = (start, size) => {
    if (size === 0) return MerkleTree.EMPTY_ROOT
    if (size === 1) return MerkleTree.leafHash(chain[start]!)
    const k = MerkleTree.splitPoint(size)
    return MerkleTree.nodeHash(rehash(start, k), rehash(start + k, size - k))
  }
  const baselineInclusion: Array<number> = []
  const baselineConsistency: Array<number> = []
  for (let i = 0; i < BASELINE_PROOFS; i++) {
    const c = inclusionCases[i]!
    let s = performance.now()
    const path = MerkleTree.inclusionProof(c.seq - 1, c.size, rehash).map((h) => h.toString("hex"))
    baselineInclusion.push(performance.now() - s)
    if (path.join() !== ours.inclusion[i]!.hashes.join()) throw new Error("the baseline's inclusion proof differs from ours")
    const d = consistencyCases[i]!
    s = performance.now()
    const proof = MerkleTree.consistencyProof(d.first, d.second, rehash).map((h) => h.toString("hex"))
    baselineConsistency.push(performance.now() - s)
    if (proof.join() !== ours.consistency[i]!.hashes.join()) throw new Error("the baseline's consistency proof differs from ours")
  }
  const baseInc = median(baselineInclusion)
  const baseCon = median(baselineConsistency)
  console.log(`baseline: inclusion ${fmt(baseInc)} ms/proof, consistency ${fmt(baseCon)} ms/proof (median of ${BASELINE_PROOFS}; the same proofs, equal to ours)`)
  const ratio = baseInc / ours.inclusionMs
  console.log(`ratio (baseline / ours): inclusion ${fmt(ratio)}×, consistency ${fmt(baseCon / ours.consistencyMs)}×; target under 5 ms per proof: ${ours.inclusionMs < 5 && ours.consistencyMs < 5 ? "met" : "NOT met"}`)
  console.log(JSON.stringify({
    bench: "proof",
    ours: Number(ours.inclusionMs.toFixed(3)),
    baseline: Math.round(baseInc),
    unit: "ms per inclusion proof",
    ratio: Number(ratio.toFixed(1)),
    consistency: { ours: Number(ours.consistencyMs.toFixed(3)), baseline: Math.round(baseCon), ratio: Number((baseCon / ours.consistencyMs).toFixed(1)) },
    events: EVENTS
  }))
} finally {
  tmp.cleanup()
}
