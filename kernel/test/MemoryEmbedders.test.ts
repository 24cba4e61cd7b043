import { describe, expect, it } from "@effect/vitest"
import { Configuration, Embedder, Memory } from "@annal/kernel"
import { defaultConfig } from "@annal/spec"
import { Effect } from "effect"
import { createServer } from "node:net"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { bagOfWords, startFakeEmbeddings } from "./fixtures/fakeEmbeddings.js"
import { memoryKernel, tempDataDir, user } from "./fixtures/memoryKernel.js"
import { writeTinyLlamaGguf } from "./fixtures/tinyGguf.js"

const settings = (patch: Partial<typeof defaultConfig.memory.embedding>) => ({ ...defaultConfig.memory.embedding, ...patch })

/** A port nothing listens on: bound, then released. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
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

describe("the OpenAI-compatible embedder", () => {
  it.live("speaks /v1/embeddings: model and input batches, the key from the named variable, answers sorted by index", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startFakeEmbeddings(32))
      yield* Effect.addFinalizer(() => Effect.promise(fake.close))
      const embedder = yield* Embedder.makeEmbedder(
        settings({ provider: "openai", base_url: `${fake.url}/v1/`, model: "nomic-embed", api_key_env: "MY_EMBED_KEY", batch_size: 2 }),
        { MY_EMBED_KEY: "sk-test-123" }
      )
      expect(embedder.dimension).toBe(32)
      expect(embedder.fingerprint).toBe(`openai/${fake.url}/v1/embeddings/nomic-embed/d32`)
      const texts = ["alpha beta", "gamma", "delta epsilon", "zeta", "eta theta"]
      const vectors = yield* embedder.embed(texts)
      vectors.forEach((v, i) => expect(Array.from(v)).toEqual(bagOfWords(texts[i]!, 32)))
      // one probe, then ceil(5 / 2) batches
      expect(fake.requests.map((r) => r.body.input)).toEqual([["dimension probe"], ["alpha beta", "gamma"], ["delta epsilon", "zeta"], ["eta theta"]])
      expect(fake.requests.every((r) => r.path === "/v1/embeddings" && r.body.model === "nomic-embed")).toBe(true)
      expect(fake.requests.every((r) => r.authorization === "Bearer sk-test-123")).toBe(true)

      const anonymous = yield* Embedder.makeEmbedder(settings({ provider: "openai", base_url: fake.url, model: "m", api_key_env: "UNSET_VAR" }), {})
      expect(anonymous.dimension).toBe(32)
      expect(fake.requests.at(-1)!.authorization).toBeUndefined()
    }).pipe(Effect.scoped)
  )

  it.live("fails with Unavailable, saying why, when the endpoint errs, answers badly or is unreachable", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startFakeEmbeddings(8))
      yield* Effect.addFinalizer(() => Effect.promise(fake.close))
      const embedder = yield* Embedder.makeEmbedder(settings({ provider: "openai", base_url: fake.url, model: "m" }))
      const failure = (mode: typeof fake.fail) => {
        fake.fail = mode
        return Effect.map(Effect.flip(embedder.embed(["a", "b"])), (e) => e)
      }
      const status = yield* failure("status-500")
      expect(status._tag).toBe("Unavailable")
      expect(status.message).toContain("answered 500")
      expect(status.message).toContain("model overloaded")
      expect((yield* failure("wrong-count")).message).toContain("answered 1 embeddings for 2 inputs")
      expect((yield* failure("not-json")).message).toContain("answered something other than an embeddings list")

      const port = yield* Effect.promise(closedPort)
      const unreachable = yield* Effect.flip(Embedder.makeEmbedder(settings({ provider: "openai", base_url: `http://127.0.0.1:${port}`, model: "m" })))
      expect(unreachable._tag).toBe("Unavailable")
      expect(unreachable.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}/v1/embeddings is unreachable`))
    }).pipe(Effect.scoped)
  )

  it.live("backs semantic search when configured, and semantic search is Unavailable when it goes away", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startFakeEmbeddings(64))
      yield* Effect.addFinalizer(() => Effect.promise(fake.close))
      const dir = tempDataDir()
      yield* Effect.gen(function*() {
        const memory = yield* Memory
        const config = yield* Configuration
        yield* config.update({ memory: { embedding: { provider: "openai", base_url: fake.url, model: "fake-embed" } } }, user)
        const { id: alpha } = yield* memory.store({ content: "alpha beta gamma" }, user)
        yield* memory.store({ content: "delta epsilon zeta" }, user)
        yield* memory.store({ content: "eta theta iota" }, user)
        const result = yield* memory.semantic({ query: "alpha beta", limit: 3 }, user)
        expect(result.entries[0]!.id).toBe(alpha)
        expect(result.entries[0]!.similarity).toBeCloseTo(cosine(bagOfWords("alpha beta", 64), bagOfWords("alpha beta gamma", 64)), 5)
        expect(fake.requests.some((r) => JSON.stringify(r.body.input) === JSON.stringify(["alpha beta"]))).toBe(true)

        fake.fail = "status-500"
        const down = yield* Effect.flip(memory.semantic({ query: "alpha", limit: 3 }, user))
        expect(down._tag).toBe("Unavailable")
        // keyword search does not need the embedder
        expect((yield* memory.search({ query: "alpha", limit: 3 }, user)).entries.map((e) => e.id)).toEqual([alpha])
      }).pipe(Effect.provide(memoryKernel(dir)))
      expect(JSON.parse(readFileSync(join(dir, "memory.hnsw.json"), "utf8")).meta.fingerprint).toBe(`openai/${fake.url}/v1/embeddings/fake-embed/d64`)
    }).pipe(Effect.scoped)
  )
})

describe("the llama embedder (a real GGUF through node-llama-cpp)", () => {
  it.live("loads a tiny generated model and embeds deterministically at its hidden size", () =>
    Effect.gen(function*() {
      const model = writeTinyLlamaGguf(join(tempDataDir(), "tiny.gguf"), { seed: 3, embeddingLength: 48, headCount: 4 })
      const embedder = yield* Embedder.makeEmbedder(settings({ provider: "llama", model_path: model.path }))
      yield* Effect.addFinalizer(() => embedder.close)
      expect(embedder.dimension).toBe(48)
      expect(embedder.fingerprint).toMatch(new RegExp(`^llama/.*tiny\\.gguf/${model.bytes}/\\d+/d48$`))
      const [a, b, c, long] = yield* embedder.embed(["the event log", "the event log", "a different sentence entirely", "x".repeat(20_000)])
      expect(a).toHaveLength(48)
      expect(Array.from(b!)).toEqual(Array.from(a!))
      expect(Array.from(c!)).not.toEqual(Array.from(a!))
      expect(long!.some((x) => x !== 0)).toBe(true)
    }).pipe(Effect.scoped)
  , 60_000)

  it.live("backs semantic search when configured; a missing model file makes semantic search Unavailable", () =>
    Effect.gen(function*() {
      const dir = tempDataDir()
      const model = writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 11 })
      yield* Effect.gen(function*() {
        const memory = yield* Memory
        const config = yield* Configuration
        const ids: Array<string> = []
        for (const text of ["remember the milk", "the deploy key rotates monthly", "Lisbon flight at seven", "garden hose leaks"]) {
          ids.push((yield* memory.store({ content: text }, user)).id)
        }
        yield* config.update({ memory: { embedding: { provider: "llama", model_path: model.path } } }, user)
        const result = yield* memory.semantic({ query: "Lisbon flight at seven", limit: 4 }, user)
        expect(result.count).toBe(4)
        expect(result.entries[0]!.id).toBe(ids[2])
        expect(result.entries[0]!.similarity).toBeGreaterThan(0.999)

        yield* config.update({ memory: { embedding: { model_path: join(dir, "missing.gguf") } } }, user)
        const missing = yield* Effect.flip(memory.semantic({ query: "milk", limit: 4 }, user))
        expect(missing._tag).toBe("Unavailable")
        expect(missing.message).toContain("missing.gguf does not exist")
        expect((yield* memory.status).enabled).toBe(false)
      }).pipe(Effect.provide(memoryKernel(dir)))
      // the llama index was saved when the configuration moved away from it
      const sidecar = JSON.parse(readFileSync(join(dir, "memory.hnsw.json"), "utf8"))
      expect(sidecar.dimension).toBe(64)
      expect(sidecar.meta.fingerprint).toMatch(/^llama\/.*tiny\.gguf\//)
    })
  , 60_000)
})
