/**
 * The VectorIndex on hnswlib-node: an HNSW graph in memory, saved as hnswlib's own file plus a
 * JSON sidecar holding the parameters, the label → key table, a digest of the index file (a
 * torn save is detected, never half-loaded) and the caller's `meta`.
 */
import hnsw from "hnswlib-node"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs"
import type { JsonObject } from "./StoredEvent.js"
import {
  type OpenedVectorIndex,
  VectorIndex,
  VectorIndexError,
  type VectorIndexHandle,
  type VectorIndexOpenOptions,
  type VectorIndexParams,
  type VectorSpace
} from "./VectorIndex.js"

const { BruteforceSearch, HierarchicalNSW } = hnsw
type Graph = InstanceType<typeof HierarchicalNSW>

const FORMAT = "annal-vector-index/1"
const DEFAULT_CAPACITY = 1024
const DEFAULT_SEED = 100

interface Sidecar {
  readonly format: string
  readonly dimension: number
  readonly space: string
  readonly m: number
  readonly ef_construction: number
  readonly seed: number
  readonly index_bytes: number
  readonly index_sha256: string
  /** Key of each label; null where the vector was deleted. */
  readonly labels: ReadonlyArray<string | null>
  readonly meta: JsonObject
}

type ResolvedParams = { readonly [K in keyof VectorIndexParams]-?: Exclude<VectorIndexParams[K], undefined> }

const fail = (reason: string) => (cause: unknown) =>
  new VectorIndexError({ reason: cause instanceof Error ? `${reason}: ${cause.message}` : reason, cause })

/** sha256 of a file, read in chunks (an index can be hundreds of MB). */
const fileSha256 = (path: string): string => {
  const hash = createHash("sha256")
  const fd = openSync(path, "r")
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024)
    let n: number
    while ((n = readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n))
  } finally {
    closeSync(fd)
  }
  return hash.digest("hex")
}

const fsyncFile = (path: string) => {
  const fd = openSync(path, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

const toArray = (vector: ArrayLike<number>): Array<number> => Array.from(vector)

const sidecarPath = (path: string) => `${path}.json`

/** Reads a saved index that matches `params`; a string says why it cannot be used. */
const load = (options: VectorIndexOpenOptions, params: ResolvedParams): { graph: Graph; sidecar: Sidecar } | string => {
  const side = sidecarPath(options.path)
  if (!existsSync(options.path) || !existsSync(side)) return "no saved index"
  let sidecar: Sidecar
  try {
    sidecar = JSON.parse(readFileSync(side, "utf8")) as Sidecar
  } catch {
    return "the sidecar is unreadable"
  }
  if (sidecar.format !== FORMAT || !Array.isArray(sidecar.labels) || typeof sidecar.meta !== "object") return "the sidecar has an unknown format"
  if (
    sidecar.dimension !== params.dimension || sidecar.space !== params.space || sidecar.m !== params.m ||
    sidecar.ef_construction !== params.efConstruction || sidecar.seed !== params.seed
  ) return "the index parameters changed"
  try {
    if (statSync(options.path).size !== sidecar.index_bytes || fileSha256(options.path) !== sidecar.index_sha256) {
      return "the index file does not match its sidecar"
    }
    const graph = new HierarchicalNSW(params.space, params.dimension)
    graph.readIndexSync(options.path, false)
    if (graph.getCurrentCount() !== sidecar.labels.length || graph.getNumDimensions() !== params.dimension) {
      return "the index file does not match its sidecar"
    }
    return { graph, sidecar }
  } catch {
    return "the index file is unreadable"
  }
}

const open = (options: VectorIndexOpenOptions): Effect.Effect<OpenedVectorIndex, VectorIndexError> =>
  Effect.try({
    try: () => {
      const params: ResolvedParams = {
        dimension: options.dimension,
        space: options.space,
        m: options.m,
        efConstruction: options.efConstruction,
        seed: options.seed ?? DEFAULT_SEED
      }
      const initialCapacity = Math.max(16, options.initialCapacity ?? DEFAULT_CAPACITY)
      const fresh = (): Graph => {
        const graph = new HierarchicalNSW(params.space, params.dimension)
        graph.initIndex(initialCapacity, params.m, params.efConstruction, params.seed, false)
        return graph
      }

      const loaded = load(options, params)
      let graph: Graph
      let labels: Array<string | null>
      if (typeof loaded === "string") {
        graph = fresh()
        labels = []
      } else {
        graph = loaded.graph
        labels = [...loaded.sidecar.labels]
      }
      let byKey = new Map<string, number>()
      let deleted = 0
      const indexKeys = () => {
        byKey = new Map()
        deleted = 0
        labels.forEach((key, label) => {
          if (key === null) deleted++
          else byKey.set(key, label)
        })
      }
      indexKeys()

      const ensureCapacity = (needed: number) => {
        const max = graph.getMaxElements()
        if (needed <= max) return
        let next = Math.max(max, 16)
        while (next < needed) next *= 2
        graph.resizeIndex(next)
      }

      const index: VectorIndexHandle = {
        params,
        size: () => labels.length - deleted,
        has: (key) => byKey.has(key),
        addAll: (entries) =>
          Effect.try({
            try: () => {
              const newKeys = entries.filter((e) => !byKey.has(e.key)).length
              ensureCapacity(labels.length + newKeys)
              for (const { key, vector } of entries) {
                if (vector.length !== params.dimension) {
                  throw new Error(`a vector of length ${vector.length} does not fit an index of dimension ${params.dimension}`)
                }
                const existing = byKey.get(key)
                if (existing !== undefined) {
                  graph.addPoint(toArray(vector), existing)
                  continue
                }
                const label = labels.length
                graph.addPoint(toArray(vector), label)
                labels.push(key)
                byKey.set(key, label)
              }
            },
            catch: fail("could not add to the vector index")
          }),
        remove: (key) =>
          Effect.try({
            try: () => {
              const label = byKey.get(key)
              if (label === undefined) return false
              graph.markDelete(label)
              labels[label] = null
              byKey.delete(key)
              deleted++
              return true
            },
            catch: fail("could not delete from the vector index")
          }),
        search: (vector, k, searchOptions) =>
          Effect.try({
            try: () => {
              if (vector.length !== params.dimension) {
                throw new Error(`a query of length ${vector.length} does not fit an index of dimension ${params.dimension}`)
              }
              const want = Math.min(k, labels.length - deleted)
              if (want <= 0) return []
              graph.setEf(Math.max(want, searchOptions?.ef ?? 10))
              const filter = searchOptions?.filter
              const result = filter === undefined
                ? graph.searchKnn(toArray(vector), want)
                : graph.searchKnn(toArray(vector), want, (label: number) => {
                  const key = labels[label]
                  return key !== undefined && key !== null && filter(key)
                })
              const hits: Array<{ key: string; distance: number }> = []
              result.neighbors.forEach((label, i) => {
                const key = labels[label]
                if (key !== undefined && key !== null) hits.push({ key, distance: result.distances[i]! })
              })
              return hits
            },
            catch: fail("could not search the vector index")
          }),
        clear: Effect.sync(() => {
          graph = fresh()
          labels = []
          indexKeys()
        }),
        save: (meta) =>
          Effect.try({
            try: () => {
              const tmpIndex = `${options.path}.tmp`
              const tmpSide = `${sidecarPath(options.path)}.tmp`
              graph.writeIndexSync(tmpIndex)
              fsyncFile(tmpIndex)
              const sidecar: Sidecar = {
                format: FORMAT,
                dimension: params.dimension,
                space: params.space,
                m: params.m,
                ef_construction: params.efConstruction,
                seed: params.seed,
                index_bytes: statSync(tmpIndex).size,
                index_sha256: fileSha256(tmpIndex),
                labels,
                meta
              }
              writeFileSync(tmpSide, JSON.stringify(sidecar), { mode: 0o600 })
              fsyncFile(tmpSide)
              // the digest ties the two files: a crash between the renames leaves a pair that does not load
              renameSync(tmpIndex, options.path)
              renameSync(tmpSide, sidecarPath(options.path))
            },
            catch: fail(`could not save the vector index to ${options.path}`)
          })
      }
      return {
        index,
        loaded: typeof loaded !== "string",
        meta: typeof loaded === "string" ? undefined : loaded.sidecar.meta,
        reason: typeof loaded === "string" ? loaded : "loaded"
      }
    },
    catch: fail(`could not open the vector index at ${options.path}`)
  })

const exactSearch = (
  space: VectorSpace,
  entries: ReadonlyArray<{ readonly key: string; readonly vector: ArrayLike<number> }>,
  vector: ArrayLike<number>,
  k: number
) =>
  Effect.try({
    try: () => {
      const want = Math.min(k, entries.length)
      if (want <= 0) return []
      const all = new BruteforceSearch(space, vector.length)
      all.initIndex(entries.length)
      entries.forEach((e, label) => {
        if (e.vector.length !== vector.length) throw new Error(`a vector of length ${e.vector.length} does not fit a query of length ${vector.length}`)
        all.addPoint(toArray(e.vector), label)
      })
      const result = all.searchKnn(toArray(vector), want)
      return result.neighbors.map((label, i) => ({ key: entries[label]!.key, distance: result.distances[i]! }))
    },
    catch: fail("could not search the vectors")
  })

/** The VectorIndex backed by hnswlib-node. */
export const layer: Layer.Layer<VectorIndex> = Layer.succeed(VectorIndex, VectorIndex.of({ open, exactSearch }))
