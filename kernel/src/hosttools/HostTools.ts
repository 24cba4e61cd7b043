import { Cache, Context, Duration, Effect, Layer } from "effect"
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import * as path from "node:path"

import { HostToolsStatus } from "@annal/spec"

export { HostToolsStatus }

/** Binaries Annal cannot run without: none, since git is isomorphic-git inside the process. */
export const DEFAULT_REQUIRED: ReadonlyArray<string> = []

/** Binaries that agents and programs use when the host has them. */
export const DEFAULT_OPTIONAL: ReadonlyArray<string> = ["git", "node", "npm", "python3", "docker", "cargo", "rg", "sqlite3", "curl"]

/** The status for the given lists, from a verdict per binary name. */
export const statusOf = (
  required: ReadonlyArray<string>,
  optional: ReadonlyArray<string>,
  isPresent: (name: string) => boolean
): HostToolsStatus => {
  const missing_required = [...new Set(required)].filter((name) => !isPresent(name))
  const optional_available: Record<string, boolean> = {}
  for (const name of optional) optional_available[name] = isPresent(name)
  return { all_required_present: missing_required.length === 0, missing_required, optional_available }
}

/** The places a bare command name resolves to on `pathValue`, in search order; none for a name with a separator. */
export const candidatePaths = (
  name: string,
  pathValue: string,
  platform: NodeJS.Platform = process.platform,
  pathExt: string = process.env["PATHEXT"] ?? ".COM;.EXE;.BAT;.CMD"
): ReadonlyArray<string> => {
  // only bare names are looked up: "../x" or "/bin/sh" would probe outside PATH
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\\") || name.includes("\0")) {
    return []
  }
  const delimiter = platform === "win32" ? ";" : ":"
  // an empty PATH entry means the working directory, which is not a place we trust for host tools
  const dirs = pathValue.split(delimiter).filter((dir) => dir !== "" && path.isAbsolute(dir))
  const names = platform === "win32"
    ? [name, ...pathExt.split(";").filter((ext) => ext !== "").map((ext) => name + ext.toLowerCase())]
    : [name]
  return dirs.flatMap((dir) => names.map((n) => path.join(dir, n)))
}

const isExecutableFile = (file: string): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    try {
      await access(file, constants.X_OK)
      return (await stat(file)).isFile()
    } catch {
      return false
    }
  })

export interface HostToolsOptions {
  /** The search path; `process.env.PATH` at the time of each probe when absent. */
  readonly path?: string | undefined
  /** How long a probe's answer is reused; 30 seconds by default. */
  readonly cacheTtl?: Duration.DurationInput | undefined
  /** The lists `status` checks; the defaults above when absent. */
  readonly required?: ReadonlyArray<string> | undefined
  readonly optional?: ReadonlyArray<string> | undefined
}

/** Finds which binaries the host has on its PATH, without a shell. */
export class HostTools extends Context.Tag("@annal/kernel/HostTools")<
  HostTools,
  {
    /** Whether an executable file named `name` is on the search path. */
    readonly isAvailable: (name: string) => Effect.Effect<boolean>
    /** Which required binaries are missing and which optional ones are present. */
    readonly check: (required: ReadonlyArray<string>, optional: ReadonlyArray<string>) => Effect.Effect<HostToolsStatus>
    /** `check` with the configured (or default) lists. */
    readonly status: Effect.Effect<HostToolsStatus>
  }
>() {
  /** Probes the real file system, caching each answer for a short time. */
  static readonly layer = (options: HostToolsOptions = {}): Layer.Layer<HostTools> => Layer.effect(HostTools, make(options))
}

/** Builds a HostTools that probes `options.path` (or the process's PATH). */
export const make = (options: HostToolsOptions = {}) =>
  Effect.gen(function*() {
    const probe = (name: string) =>
      Effect.suspend(() => {
        const candidates = candidatePaths(name, options.path ?? process.env["PATH"] ?? "")
        // first hit wins, like the shell's own lookup
        return Effect.reduce(candidates, false, (found, file) => found ? Effect.succeed(true) : isExecutableFile(file))
      })
    const cache = yield* Cache.make({
      capacity: 1024,
      timeToLive: options.cacheTtl ?? Duration.seconds(30),
      lookup: probe
    })

    const check = (required: ReadonlyArray<string>, optional: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const names = [...new Set([...required, ...optional])]
        const results = yield* Effect.forEach(names, (name) => cache.get(name), { concurrency: 8 })
        const present = new Map(names.map((name, i) => [name, results[i] === true]))
        return statusOf(required, optional, (name) => present.get(name) === true)
      })

    return HostTools.of({
      isAvailable: (name) => cache.get(name),
      check,
      status: check(options.required ?? DEFAULT_REQUIRED, options.optional ?? DEFAULT_OPTIONAL)
    })
  })
