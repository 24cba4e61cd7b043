/**
 * Embeddings from a local GGUF model through node-llama-cpp: the CPU build, one thread (on a
 * small machine more threads are slower), the model loaded once per configuration and reused.
 */
import { Effect } from "effect"
import type { Llama } from "node-llama-cpp"
import { statSync } from "node:fs"
import { resolve } from "node:path"
import { Unavailable } from "../shared/errors.js"
import type { Embedder } from "./Embedder.js"

/** Tokens a text is cut to at most, within the model's trained context. */
const MAX_CONTEXT = 2048

let runtime: Promise<Llama> | undefined

/**
 * The process's llama.cpp runtime (CPU binary, never built on the spot), started once. The
 * module is imported on first use: it takes a second to load, and most servers never need it.
 */
const llamaRuntime = (): Promise<Llama> => {
  runtime ??= import("node-llama-cpp").then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false })
  ).catch((e: unknown) => {
    runtime = undefined
    throw e
  })
  return runtime
}

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** Loads the GGUF model at `modelPath` for embeddings; fails with Unavailable when it cannot. */
export const makeLlamaEmbedder = (modelPath: string): Effect.Effect<Embedder, Unavailable> =>
  Effect.gen(function*() {
    const path = resolve(modelPath)
    const file = yield* Effect.try({
      try: () => statSync(path),
      catch: () => new Unavailable({ message: `the embedding model ${path} does not exist (set memory.embedding.model_path to a GGUF file)` })
    })
    const loaded = yield* Effect.tryPromise({
      try: async () => {
        const llama = await llamaRuntime()
        const model = await llama.loadModel({ modelPath: path })
        const contextSize = Math.min(model.trainContextSize, MAX_CONTEXT)
        try {
          const context = await model.createEmbeddingContext({ threads: 1, contextSize })
          return { model, context, contextSize }
        } catch (e) {
          await model.dispose()
          throw e
        }
      },
      catch: (e) => new Unavailable({ message: `the embedding model ${path} could not be loaded: ${reason(e)}` })
    })
    const { model, context, contextSize } = loaded
    const dimension = model.embeddingVectorSize
    const embedOne = async (text: string): Promise<Float32Array> => {
      // leave room for the BOS and EOS tokens the context adds; longer texts are cut
      const tokens = model.tokenize(text).slice(0, contextSize - 3)
      const { vector } = await context.getEmbeddingFor(tokens)
      return vector.length === dimension ? Float32Array.from(vector) : new Float32Array(dimension)
    }
    return {
      provider: "llama",
      fingerprint: `llama/${path}/${file.size}/${Math.floor(file.mtimeMs)}/d${dimension}`,
      dimension,
      embed: (texts) =>
        Effect.tryPromise({
          try: async () => {
            const out: Array<Float32Array> = []
            for (const text of texts) out.push(await embedOne(text))
            return out
          },
          catch: (e) => new Unavailable({ message: `the embedding model ${path} failed: ${reason(e)}` })
        }),
      close: Effect.promise(async () => {
        await context.dispose()
        await model.dispose()
      }).pipe(Effect.ignore)
    } satisfies Embedder
  })
