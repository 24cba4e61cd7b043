/**
 * Helpers for tests of state the API only reads (seeds, sessions, agent groups are written by
 * the agent runtime): run the real kernel on a data directory while no server uses it, and
 * read a server's SSE frames.
 */
import { OpenAiCompatible } from "@annal/kernel"
import { Effect, type Layer } from "effect"
import { kernelLayer } from "../src/Server.js"
import type { RunningServer } from "./harness.js"

type KernelServices = Layer.Layer.Success<ReturnType<typeof kernelLayer>>

/**
 * Runs `effect` against the kernel on `dataDir` (no server may be running on it), then closes it;
 * its agents use the OpenAI-compatible endpoint at `modelUrl` when given one, else no model.
 */
export const withKernel = <A, E>(dataDir: string, effect: Effect.Effect<A, E, KernelServices>, modelUrl?: string): Promise<A> =>
  Effect.runPromise(
    Effect.provide(effect, kernelLayer(dataDir, "NORMAL", modelUrl === undefined ? undefined : OpenAiCompatible.layer({ baseUrl: modelUrl, model: "fake" }))) as Effect.Effect<A, unknown>
  )

/** The JSON of every SSE frame from `Last-Event-ID: 0`, read until `done` holds for them (or 10 s pass). */
export const sseFrames = async (
  server: RunningServer,
  types: ReadonlyArray<string>,
  done: (frames: ReadonlyArray<Record<string, unknown>>) => boolean
): Promise<ReadonlyArray<Record<string, unknown>>> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 10_000)
  const frames: Array<Record<string, unknown>> = []
  try {
    const response = await server.fetch(`/api/events?types=${types.join(",")}`, { headers: { "last-event-id": "0" }, signal: controller.signal })
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    while (!done(frames)) {
      const { value, done: ended } = await reader.read()
      if (ended) break
      buffer += value
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = frame.split("\n").find((l) => l.startsWith("data: "))
        if (data !== undefined) frames.push(JSON.parse(data.slice("data: ".length)))
      }
    }
  } catch (e) {
    if (!controller.signal.aborted) throw e
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return frames
}
