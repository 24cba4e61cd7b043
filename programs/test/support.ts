/** The kernel over a data directory with the program host on top, for tests of the program runtime. */
import { Effect, Layer } from "effect"
import { readFileSync, readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { kernelWithModel } from "../../kernel/test/support.js"
import { ProgramHost } from "../src/index.js"

export const hostLayer = (dataDir: string) => ProgramHost.layer.pipe(Layer.provideMerge(kernelWithModel(dataDir)))

type HostServices = Layer.Layer.Success<ReturnType<typeof hostLayer>>

/** Runs `effect` with the kernel and a program host on `dataDir`, then closes them (a restart is another call). */
export const withHost = <A, E>(dataDir: string, effect: Effect.Effect<A, E, HostServices>): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.provide(effect, hostLayer(dataDir))) as Effect.Effect<A, unknown>)

/** The folder of a program that ships with Annal. */
export const shipped = (name: string) => resolve(import.meta.dirname, "..", name)

/** A shipped program's files, path → content. */
export const filesOf = (dir: string, prefix = ""): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`
    if (entry.isDirectory()) Object.assign(out, filesOf(dir, path))
    else out[path] = readFileSync(join(dir, path), "utf8")
  }
  return out
}

/** The files of the worked example in docs/programs.md: every fenced block whose info string names `file=<path>`. */
export const docsExample = (): Record<string, string> => {
  const text = readFileSync(resolve(import.meta.dirname, "..", "..", "docs", "programs.md"), "utf8")
  const files: Record<string, string> = {}
  for (const match of text.matchAll(/^```\w* file=(\S+)\n([\s\S]*?)^```$/gm)) files[match[1]!] = match[2]!
  return files
}
