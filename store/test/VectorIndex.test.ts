import { describe, expect, it } from "@effect/vitest"
import { VectorIndex, VectorIndexHnsw } from "@annal/store"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const tempIndex = () => join(mkdtempSync(join(tmpdir(), "annal-vectors-")), "memory.hnsw")

/** A seeded PRNG, so every run uses the same vectors. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
}

const DIM = 16
const vectorsOf = (n: number, seed = 1) => {
  const random = prng(seed)
  return Array.from({ length: n }, (_, i) => ({ key: `k${i}`, vector: Array.from({ length: DIM }, random) }))
}

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return dot / Math.sqrt(na * nb)
}

/** The exact k nearest by cosine, nearest first. */
const exact = (entries: ReadonlyArray<{ key: string; vector: ReadonlyArray<number> }>, q: ReadonlyArray<number>, k: number) =>
  [...entries].map((e) => ({ key: e.key, distance: 1 - cosine(e.vector, q) })).sort((a, b) => a.distance - b.distance).slice(0, k)

const params = { dimension: DIM, space: "cosine" as const, m: 16, efConstruction: 200 }

const open = (path: string, overrides: Partial<typeof params> = {}) =>
  Effect.flatMap(VectorIndex, (v) => v.open({ path, ...params, ...overrides, initialCapacity: 16 })).pipe(Effect.provide(VectorIndexHnsw.layer))

describe("VectorIndex (hnswlib)", () => {
  it.effect("finds the nearest vectors by cosine distance, nearest first, and grows past its first capacity", () =>
    Effect.gen(function*() {
      const { index, loaded, reason } = yield* open(tempIndex())
      expect(loaded).toBe(false)
      expect(reason).toBe("no saved index")
      const entries = vectorsOf(300)
      yield* index.addAll(entries)
      expect(index.size()).toBe(300)
      const q = vectorsOf(1, 99)[0]!.vector
      const hits = yield* index.search(q, 5, { ef: 200 })
      const truth = exact(entries, q, 5)
      expect(hits.map((h) => h.key)).toEqual(truth.map((t) => t.key))
      hits.forEach((h, i) => expect(h.distance).toBeCloseTo(truth[i]!.distance, 5))
      // asking for more than there is gives what there is
      expect((yield* index.search(q, 1000)).length).toBe(300)
    }))

  it.effect("compares a set of vectors exhaustively with the graph's own distance: the exact k nearest, and the graph's distances to the digit", () =>
    Effect.gen(function*() {
      const vectors = yield* Effect.provide(VectorIndex, VectorIndexHnsw.layer)
      const entries = vectorsOf(300, 3)
      const q = vectorsOf(1, 98)[0]!.vector
      const hits = yield* vectors.exactSearch("cosine", entries, q, 7)
      const truth = exact(entries, q, 7)
      expect(hits.map((h) => h.key)).toEqual(truth.map((t) => t.key))
      hits.forEach((h, i) => expect(h.distance).toBeCloseTo(truth[i]!.distance, 5))
      // the same vectors in the graph measure the same distances, bit for bit
      const { index } = yield* open(tempIndex())
      yield* index.addAll(entries)
      expect(yield* index.search(q, 7, { ef: 300 })).toEqual(hits)
      expect(yield* vectors.exactSearch("cosine", [], q, 7)).toEqual([])
      expect((yield* vectors.exactSearch("cosine", entries.slice(0, 3), q, 7)).length).toBe(3)
    }))

  it.effect("applies the filter inside the search and honours deletions", () =>
    Effect.gen(function*() {
      const { index } = yield* open(tempIndex())
      const entries = vectorsOf(200)
      yield* index.addAll(entries)
      const q = entries[7]!.vector
      const even = (key: string) => Number(key.slice(1)) % 2 === 0
      const filtered = yield* index.search(q, 10, { ef: 200, filter: even })
      expect(filtered).toHaveLength(10)
      expect(filtered.every((h) => even(h.key))).toBe(true)
      expect(filtered.map((h) => h.key)).toEqual(exact(entries.filter((e) => even(e.key)), q, 10).map((t) => t.key))

      expect((yield* index.search(q, 1))[0]).toMatchObject({ key: "k7" })
      expect(yield* index.remove("k7")).toBe(true)
      expect(yield* index.remove("k7")).toBe(false)
      expect(index.has("k7")).toBe(false)
      expect(index.size()).toBe(199)
      const after = yield* index.search(q, 10, { ef: 200 })
      expect(after.map((h) => h.key)).not.toContain("k7")
      expect(after.map((h) => h.key)).toEqual(exact(entries.filter((e) => e.key !== "k7"), q, 10).map((t) => t.key))
    }))

  it.effect("replaces the vector of a key added again", () =>
    Effect.gen(function*() {
      const { index } = yield* open(tempIndex())
      const [a, b] = vectorsOf(2)
      yield* index.addAll([a!, b!])
      yield* index.addAll([{ key: "k0", vector: b!.vector.map((x) => -x) }])
      expect(index.size()).toBe(2)
      const hits = yield* index.search(b!.vector, 2)
      expect(hits[0]).toMatchObject({ key: "k1" })
      expect(hits[1]!.key).toBe("k0")
      expect(hits[1]!.distance).toBeCloseTo(2, 5)
    }))

  it.effect("saves and loads the same index, its deletions and its meta", () =>
    Effect.gen(function*() {
      const path = tempIndex()
      const entries = vectorsOf(500)
      const q = vectorsOf(1, 7)[0]!.vector
      const first = yield* open(path)
      yield* first.index.addAll(entries)
      yield* first.index.remove("k3")
      const before = yield* first.index.search(q, 10, { ef: 100 })
      yield* first.index.save({ fingerprint: "test/v1", last_seq: 42 })

      const again = yield* open(path)
      expect(again.loaded).toBe(true)
      expect(again.reason).toBe("loaded")
      expect(again.meta).toEqual({ fingerprint: "test/v1", last_seq: 42 })
      expect(again.index.size()).toBe(499)
      expect(again.index.has("k3")).toBe(false)
      expect(yield* again.index.search(q, 10, { ef: 100 })).toEqual(before)
      // the loaded index keeps growing
      yield* again.index.addAll(vectorsOf(20, 3).map((e) => ({ key: `n${e.key}`, vector: e.vector })))
      expect(again.index.size()).toBe(519)
    }))

  it.effect("starts empty when the saved index cannot be trusted, and says why", () =>
    Effect.gen(function*() {
      const path = tempIndex()
      const first = yield* open(path)
      yield* first.index.addAll(vectorsOf(50))
      yield* first.index.save({ last_seq: 1 })
      const good = readFileSync(path)

      const otherParams = yield* open(path, { m: 8 })
      expect(otherParams).toMatchObject({ loaded: false, reason: "the index parameters changed" })
      expect(otherParams.index.size()).toBe(0)
      expect((yield* open(path, { dimension: 8 })).reason).toBe("the index parameters changed")

      // a flipped byte: the digest no longer matches
      const torn = Buffer.from(good)
      torn[torn.length - 5] = torn[torn.length - 5]! ^ 0xff
      writeFileSync(path, torn)
      expect(yield* open(path)).toMatchObject({ loaded: false, reason: "the index file does not match its sidecar" })

      writeFileSync(path, good)
      expect((yield* open(path)).loaded).toBe(true)
      writeFileSync(`${path}.json`, "{not json")
      expect(yield* open(path)).toMatchObject({ loaded: false, reason: "the sidecar is unreadable" })
    }))

  it.effect("refuses a vector of the wrong length with an error value", () =>
    Effect.gen(function*() {
      const { index } = yield* open(tempIndex())
      const error = yield* Effect.flip(index.addAll([{ key: "x", vector: [1, 2, 3] }]))
      expect(error._tag).toBe("VectorIndexError")
      expect(error.message).toContain("dimension 16")
      expect(index.size()).toBe(0)
      expect((yield* Effect.flip(index.search([1, 2], 1)))._tag).toBe("VectorIndexError")
    }))
})
