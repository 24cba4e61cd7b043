import { describe, expect, it } from "@effect/vitest"
import { Access, Kernel, Permissions, PermissionsDecide, Rebuild } from "@annal/kernel"
import { Effect, Either } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { permissionsProjection } from "../src/permissions/projection.js"
import { scratchViews } from "./scratchViews.js"

const { decideAccess, decideUpdate, defaultPermissions, workspacePath } = PermissionsDecide

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-permissions-"))

describe("decideAccess", () => {
  const defaults = defaultPermissions("builder")

  it("allows the built-in tools inside the workspace by default", () => {
    for (const tool of ["read", "write", "edit", "ls", "grep", "find", "memory_store", "memory_search"]) {
      expect(decideAccess(defaults, { tool, path: "src/app/main.ts" })).toMatchObject({ allowed: true, action: `use_tool:${tool}`, resource: "src/app/main.ts" })
    }
    expect(decideAccess(defaults, { tool: "ls", path: "." }).allowed).toBe(true)
    expect(decideAccess(defaults, { tool: "memory_search" })).toEqual({
      allowed: true,
      reason: `tool "memory_search" is allowed`,
      action: "use_tool:memory_search",
      resource: "memory_search"
    })
  })

  it("refuses exec, network and fork by default, naming the aspect", () => {
    expect(decideAccess(defaults, { tool: "exec", path: "build.sh" })).toEqual({
      allowed: false,
      reason: `tool "exec" is not in allowed_tools`,
      action: "use_tool:exec",
      resource: "build.sh"
    })
    expect(decideAccess(defaults, { tool: "read", network: true })).toMatchObject({ allowed: false, action: "network" })
    expect(decideAccess(defaults, { tool: "read", fork: true })).toMatchObject({ allowed: false, action: "fork" })
    const open = { ...defaults, network_access: true, can_fork: true }
    expect(decideAccess(open, { tool: "read", network: true, fork: true }).allowed).toBe(true)
  })

  it("denies the repository internals and secrets by default, whatever their case", () => {
    for (const path of [".git/config", ".git", "vendor/lib/.git/HEAD", ".env", "app/.env", "app/.env.local", "certs/server.key", "certs/server.KEY", "tls/ca.pem"]) {
      const verdict = decideAccess(defaults, { tool: "read", path })
      expect(verdict.allowed, path).toBe(false)
      expect(verdict.action).toBe(`access_path:${path}`)
      expect(verdict.reason).toMatch(/matches denied pattern/)
    }
    expect(decideAccess(defaults, { tool: "read", path: "docs/.gitignore" }).allowed).toBe(true)
    expect(decideAccess(defaults, { tool: "read", path: "docs/env.md" }).allowed).toBe(true)
  })

  it("refuses a path that leaves the workspace", () => {
    for (const path of ["../etc/passwd", "src/../../x", "/etc/passwd", "a\0b"]) {
      const verdict = decideAccess(defaults, { tool: "read", path })
      expect(verdict, path).toMatchObject({ allowed: false, action: `access_path:${path}` })
      expect(verdict.reason).toContain("outside the workspace")
    }
    expect(decideAccess(defaults, { tool: "read", path: "src/../README.md" }).allowed).toBe(true)
  })

  it("lets a deny win over an allow, and a pattern cover what lies beneath it", () => {
    const p = { ...defaults, allowed_paths: ["/src", "docs/*.md"], denied_paths: ["src/secret/**"] }
    expect(decideAccess(p, { tool: "read", path: "src/a/b/c.ts" }).allowed).toBe(true)
    expect(decideAccess(p, { tool: "read", path: "docs/guide.md" }).allowed).toBe(true)
    expect(decideAccess(p, { tool: "read", path: "src/secret/token.txt" })).toMatchObject({
      allowed: false,
      reason: `path "src/secret/token.txt" matches denied pattern "src/secret/**"`
    })
    expect(decideAccess(p, { tool: "read", path: "docs/deep/guide.md" })).toMatchObject({
      allowed: false,
      reason: `path "docs/deep/guide.md" matches no allowed_paths pattern`
    })
    expect(decideAccess(p, { tool: "ls", path: "." }).allowed).toBe(false)
    expect(decideAccess({ ...p, allowed_paths: ["**"], denied_paths: ["**"] }, { tool: "read", path: "a" }).allowed).toBe(false)
  })

  it("checks the tool before the path, and `*` allows every tool", () => {
    const p = { ...defaults, allowed_tools: ["read"], denied_paths: ["**"] }
    expect(decideAccess(p, { tool: "write", path: "a" }).action).toBe("use_tool:write")
    expect(decideAccess(p, { tool: "read", path: "a" }).action).toBe("access_path:a")
    expect(decideAccess({ ...defaults, allowed_tools: ["*"] }, { tool: "exec", path: "run.sh" }).allowed).toBe(true)
  })

  it("normalizes workspace paths", () => {
    expect(workspacePath("./src//a.ts")).toBe("src/a.ts")
    expect(workspacePath("src/")).toBe("src")
    expect(workspacePath("")).toBe(".")
    expect(workspacePath("..")).toBeUndefined()
  })
})

describe("decideUpdate", () => {
  it("creates from the defaults with every field changed, then records only real changes", () => {
    const created = decideUpdate("a", undefined, { max_memory_mb: 256 })!
    expect(created).toEqual({ ...defaultPermissions("a"), max_memory_mb: 256, changed: [
      "allowed_tools", "allowed_paths", "denied_paths", "network_access", "max_execution_time_secs", "max_memory_mb", "can_fork"
    ] })
    const { changed: _c, ...current } = created
    expect(decideUpdate("a", current, { max_memory_mb: 256, can_fork: false })).toBeUndefined()
    expect(decideUpdate("a", current, { can_fork: true, allowed_tools: ["read"] })).toEqual({
      ...current,
      can_fork: true,
      allowed_tools: ["read"],
      changed: ["allowed_tools", "can_fork"]
    })
  })
})

describe("permissions projection", () => {
  it("keeps one row per agent with its latest permissions", () => {
    const views = scratchViews(permissionsProjection)
    views.apply("permissions_changed", { ...decideUpdate("a", undefined, {})! })
    views.apply("permissions_changed", { ...decideUpdate("b", undefined, { network_access: true })! })
    views.apply("permissions_changed", { ...decideUpdate("a", defaultPermissions("a"), { allowed_paths: ["src"] })! })
    const rows = views.db.all<{ agent_name: string; allowed_paths: string; network_access: number; updated_at: string }>(
      "SELECT agent_name, allowed_paths, network_access, updated_at FROM agent_permissions ORDER BY agent_name"
    )
    expect(rows).toEqual([
      { agent_name: "a", allowed_paths: `["src"]`, network_access: 0, updated_at: "2026-01-01T00:00:03.000Z" },
      { agent_name: "b", allowed_paths: `["**"]`, network_access: 1, updated_at: "2026-01-01T00:00:02.000Z" }
    ])
    views.close()
  })
})

describe("Permissions service", () => {
  it.live("creates, changes and checks permissions, recording every decision; the view survives a restart and rebuilds equal", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.gen(function*() {
        const permissions = yield* Permissions
        const access = yield* Access
        const missing = yield* Effect.either(permissions.get("builder"))
        expect(Either.isLeft(missing) && missing.left._tag).toBe("EntityNotFound")

        // an agent the runtime never created is denied, and that is on the record too
        const unknown = yield* permissions.check("ghost", { tool: "read", path: "a.txt" }, { actor: "agent:ghost" })
        expect(unknown).toMatchObject({ allowed: false, reason: `agent "ghost" has no permissions` })

        expect(yield* permissions.ensureDefaults("builder", { actor: "system" })).toEqual(defaultPermissions("builder"))
        // a second call keeps what is there
        yield* permissions.update("builder", { can_fork: true }, { actor: "user:api" })
        expect((yield* permissions.ensureDefaults("builder", { actor: "system" })).can_fork).toBe(true)

        const allowed = yield* permissions.check("builder", { tool: "write", path: "src/x.ts" }, { actor: "agent:builder" })
        const deniedTool = yield* permissions.check("builder", { tool: "exec", path: "run.sh" }, { actor: "agent:builder" })
        const deniedPath = yield* permissions.check("builder", { tool: "read", path: ".env" }, { actor: "agent:builder" })
        const deniedNet = yield* permissions.check("builder", { tool: "read", network: true }, { actor: "agent:builder" })
        expect([allowed.allowed, deniedTool.allowed, deniedPath.allowed, deniedNet.allowed]).toEqual([true, false, false, false])

        const { items } = yield* access.list({ page: 1, limit: 10, offset: 0 })
        expect(items.map((d) => [d.agent_name, d.action, d.resource, d.allowed])).toEqual([
          ["builder", "network", "read", false],
          ["builder", "access_path:.env", ".env", false],
          ["builder", "use_tool:exec", "run.sh", false],
          ["builder", "use_tool:write", "src/x.ts", true],
          ["ghost", "use_tool:read", "a.txt", false]
        ])
        expect(items[1]!.reason).toBe(`path ".env" matches denied pattern "**/.env"`)
      }).pipe(Effect.provide(kernel(dir)))

      yield* Effect.gen(function*() {
        const permissions = yield* Permissions
        expect(yield* permissions.get("builder")).toEqual({ ...defaultPermissions("builder"), can_fork: true })
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.tables.find((t) => t.table === "agent_permissions")!.live.rows).toBe(1)
        expect(report.equal).toBe(true)
      }).pipe(Effect.provide(kernel(dir)))
    }))
})
