import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import {
  candidatePaths,
  DEFAULT_OPTIONAL,
  DEFAULT_REQUIRED,
  HostTools,
  type HostToolsOptions,
  HostToolsStatus,
  statusOf
} from "../src/hosttools/HostTools.js"

const withHostTools = <A, E>(options: HostToolsOptions, f: (tools: HostTools["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(HostTools, f).pipe(Effect.provide(HostTools.layer(options)))

/** A temp dir holding an executable script `name`, a non-executable file and a directory named like tools. */
const toolDir = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), "annal-hosttools-"))
  writeFileSync(join(dir, name), "#!/bin/sh\necho hi\n")
  chmodSync(join(dir, name), 0o755)
  writeFileSync(join(dir, "not-executable"), "data")
  chmodSync(join(dir, "not-executable"), 0o644)
  mkdirSync(join(dir, "a-directory"))
  return dir
}

const made_up = "annal-no-such-binary-7f3c9e"

describe("host tools status", () => {
  it("reports missing required binaries and every optional one", () => {
    const present = new Set(["git", "node"])
    expect(statusOf(["git", "make", "make"], ["node", "docker"], (n) => present.has(n))).toEqual({
      all_required_present: false,
      missing_required: ["make"],
      optional_available: { node: true, docker: false }
    })
    expect(statusOf([], ["git"], (n) => present.has(n))).toEqual({
      all_required_present: true,
      missing_required: [],
      optional_available: { git: true }
    })
  })

  it("only looks up bare names in absolute PATH entries", () => {
    expect(candidatePaths("rg", "/usr/bin::relative:/bin", "linux")).toEqual(["/usr/bin/rg", "/bin/rg"])
    expect(candidatePaths("../rg", "/usr/bin", "linux")).toEqual([])
    expect(candidatePaths("/bin/sh", "/usr/bin", "linux")).toEqual([])
    expect(candidatePaths("", "/usr/bin", "linux")).toEqual([])
  })

  it("defaults to no required binary, since git runs in-process", () => {
    expect(DEFAULT_REQUIRED).toEqual([])
    expect(DEFAULT_OPTIONAL).toContain("git")
    expect(DEFAULT_OPTIONAL).toContain("node")
  })
})

describe("HostTools", () => {
  it.effect("finds node on PATH and reports a made-up binary as missing", () =>
    withHostTools({}, (tools) =>
      Effect.gen(function*() {
        const status = yield* tools.check(["node", made_up], ["node", made_up])
        expect(status).toEqual({
          all_required_present: false,
          missing_required: [made_up],
          optional_available: { node: true, [made_up]: false }
        })
        expect(Schema.is(HostToolsStatus)(status)).toBe(true)
      })
    ))

  it.effect("searches only the PATH it was given", () =>
    Effect.gen(function*() {
      expect(yield* withHostTools({ path: dirname(process.execPath) }, (tools) => tools.isAvailable("node"))).toBe(true)
      expect(yield* withHostTools({ path: "" }, (tools) => tools.isAvailable("node"))).toBe(false)
    }))

  it.effect("finds an executable script on a custom PATH, and nothing that is not an executable file", () =>
    Effect.gen(function*() {
      const dir = toolDir("my-tool")
      const status = yield* withHostTools({ path: `/nonexistent-annal-dir:${dir}` }, (tools) =>
        tools.check(["my-tool"], ["not-executable", "a-directory", "node"]))
      expect(status).toEqual({
        all_required_present: true,
        missing_required: [],
        optional_available: { "not-executable": false, "a-directory": false, node: false }
      })
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("reports the configured lists through status", () =>
    Effect.gen(function*() {
      const dir = toolDir("git")
      const status = yield* withHostTools({ path: dir }, (tools) => tools.status)
      expect(status.all_required_present).toBe(true)
      expect(Object.keys(status.optional_available)).toEqual([...DEFAULT_OPTIONAL])
      expect(status.optional_available["git"]).toBe(true)
      expect(status.optional_available["docker"]).toBe(false)
      const custom = yield* withHostTools({ path: dir, required: ["make"], optional: [] }, (tools) => tools.status)
      expect(custom).toEqual({ all_required_present: false, missing_required: ["make"], optional_available: {} })
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("reuses a probe's answer until the cache time runs out", () =>
    Effect.gen(function*() {
      const dir = toolDir("short-lived")
      yield* withHostTools({ path: dir, cacheTtl: "30 seconds" }, (tools) =>
        Effect.gen(function*() {
          expect(yield* tools.isAvailable("short-lived")).toBe(true)
          rmSync(join(dir, "short-lived"))
          expect(yield* tools.isAvailable("short-lived")).toBe(true)
          yield* TestClock.adjust("31 seconds")
          expect(yield* tools.isAvailable("short-lived")).toBe(false)
        }))
      rmSync(dir, { recursive: true, force: true })
    }))
})
