/** What several kernel tests share: polling on the real clock, and a kernel over a fake model. */
import { Kernel, OpenAiCompatible } from "@annal/kernel"
import { Effect } from "effect"
import { join } from "node:path"
import type { FakeOpenAi } from "./fixtures/fakeOpenAi.js"

/** Waits `ms` on the real clock (whatever clock the test runs on). */
export const realPause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

/** Polls (on the real clock) until `ok` holds; dies with the last value after `ms`. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, ok: (a: A) => boolean, ms = 6000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (true) {
      const a = yield* check
      if (ok(a)) return a
      if (Date.now() > deadline) return yield* Effect.dieMessage(`condition not met in ${ms} ms: ${JSON.stringify(a)}`)
      yield* realPause(20)
    }
  })

/** The whole kernel on `dataDir`, answering with the fake OpenAI-compatible model when given one. */
export const kernelWithModel = (dataDir: string, fake?: FakeOpenAi) =>
  Kernel.layer({
    store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" },
    dataDir,
    resourceSampleIntervalSecs: 60,
    ...(fake === undefined ? {} : { languageModel: OpenAiCompatible.layer({ baseUrl: fake.url, model: "fake" }) })
  })
