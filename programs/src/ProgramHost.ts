/**
 * The program host: keeps the kernel's ToolRegistry in step with the installed programs. At
 * start it removes what a crash left half-done (see Installer), loads every enabled program —
 * its files checked against the sha256 recorded at install, its MCP servers started and their
 * tools listed — and registers the tools of every program that is offered. Every lifecycle
 * command (install, enable, disable, uninstall) goes through it, and its tools appear or
 * disappear before the command answers.
 */
import {
  type AlreadyExists,
  type CommandContext,
  type ConcurrentChange,
  Configuration,
  DataDir,
  type EntityNotFound,
  HostTools,
  type InvalidCommand,
  type ProgramRecord,
  Programs,
  ProgramsEvents,
  Tool,
  ToolRegistry,
  Workspace
} from "@annal/kernel"
import type { PageRequest, ProgramDetail, ProgramHostRequirements, ProgramSummary, ProgramTool } from "@annal/spec"
import type { EventStoreError } from "@annal/store"
import { Context, Effect, Either, Layer } from "effect"
import { existsSync, readFileSync, realpathSync } from "node:fs"
import { join } from "node:path"
import * as Installer from "./Installer.js"
import { type CheckedManifest, type ManifestInvalid, NOTHING_TO_RUN, parseManifest } from "./Manifest.js"
import { McpServer, mcpTool } from "./Mcp.js"
import { decideOffers, type OfferDecision } from "./Offer.js"
import { commandTool, hostVariables, moduleTool, type ProgramRuntime } from "./Tools.js"
import { inspectTree, type InstallRefused } from "./Tree.js"

/** What can go wrong with a lifecycle command. */
export type ProgramError = InstallRefused | ManifestInvalid | AlreadyExists | EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError

interface Loaded {
  readonly sha256: string
  readonly tools: ReadonlyArray<Tool.Tool>
  readonly mcpTools: ReadonlyArray<ProgramTool>
  readonly servers: ReadonlyArray<McpServer>
  /** Why the program cannot be loaded at all (files missing or changed); its tools are then none. */
  readonly failure: string | null
  readonly problems: ReadonlyArray<string>
}

export class ProgramHost extends Context.Tag("@annal/programs/ProgramHost")<
  ProgramHost,
  {
    readonly list: (page: PageRequest) => Effect.Effect<{ readonly items: ReadonlyArray<ProgramSummary>; readonly total: number; readonly page: number; readonly limit: number }, EventStoreError>
    readonly get: (name: string) => Effect.Effect<ProgramDetail, EntityNotFound | EventStoreError>
    /** Installs from `POST /api/programs`'s path, or from a folder the CLI packed. */
    readonly install: (source: Installer.InstallSource, context: CommandContext) => Effect.Effect<{ readonly name: string; readonly version: string }, ProgramError>
    readonly setEnabled: (name: string, enabled: boolean, context: CommandContext) => Effect.Effect<void, ProgramError>
    readonly uninstall: (name: string, context: CommandContext) => Effect.Effect<void, ProgramError>
    readonly hostRequirements: (name: string) => Effect.Effect<ProgramHostRequirements, EntityNotFound | EventStoreError>
    /** The MCP servers of a loaded program (for tests and diagnostics). */
    readonly servers: (name: string) => ReadonlyArray<McpServer>
  }
>() {
  static readonly layer = Layer.scoped(
    ProgramHost,
    Effect.gen(function*() {
      const programs = yield* Programs
      const registry = yield* ToolRegistry
      const config = yield* Configuration
      const workspace = yield* Workspace
      const hostTools = yield* HostTools
      const dataDir = yield* DataDir
      const directory = dataDir.programs
      const lock = yield* Effect.makeSemaphore(1)
      const loaded = new Map<string, Loaded>()
      const offers = new Map<string, OfferDecision>()
      /** Tool names this host registered, by program. */
      const registered = new Map<string, ReadonlyArray<string>>()
      const workspaceRoot = realpathSync(workspace.root)
      const defaultTimeoutSecs = Effect.map(config.current, (c) => c.tools.exec_timeout_secs)
      const outputCapBytes = Effect.map(config.current, (c) => c.tools.output_cap_bytes)

      const failedLoad = (sha256: string, failure: string): Loaded => ({ sha256, tools: [], mcpTools: [], servers: [], failure, problems: [] })

      const load = (record: ProgramRecord) =>
        Effect.gen(function*() {
          if (!existsSync(record.path)) return failedLoad(record.sha256, `its files are missing from ${record.path}`)
          const tree = inspectTree(record.path)
          if (Either.isLeft(tree)) return failedLoad(record.sha256, `its files are no longer acceptable: ${tree.left.message}`)
          if (tree.right.sha256 !== record.sha256) {
            return failedLoad(record.sha256, `its files changed since it was installed (sha256 ${tree.right.sha256}, installed ${record.sha256})`)
          }
          const checked: Either.Either<CheckedManifest, ManifestInvalid> = parseManifest(readFileSync(join(record.path, "program.toml"), "utf8"))
          if (Either.isLeft(checked)) return failedLoad(record.sha256, checked.left.message)
          const dir = realpathSync(record.path)
          const runtime: ProgramRuntime = {
            program: record.name,
            dir,
            workspace: workspaceRoot,
            workspaceGit: dataDir.workspaceGit,
            host: hostVariables(dir, workspaceRoot),
            defaultTimeoutSecs,
            outputCapBytes
          }
          const problems: Array<string> = []
          const tools: Array<Tool.Tool> = []
          for (const t of checked.right.tools) {
            // a tool with nothing to run is listed (from the record), never offered
            if (t.kind === "none") continue
            const made = t.kind === "command" ? commandTool(runtime, t.name, t.declaration, t.template) : moduleTool(runtime, t.name, t.declaration, t.module)
            if (Either.isLeft(made)) problems.push(made.left.message)
            else tools.push(made.right)
          }
          const servers: Array<McpServer> = []
          const mcpTools: Array<ProgramTool> = []
          for (const declaration of checked.right.manifest.mcp.filter((m) => m.enabled)) {
            const server = new McpServer(runtime, declaration)
            servers.push(server)
            const listed = yield* Effect.either(Effect.tryPromise(() => server.listTools()))
            if (Either.isLeft(listed)) {
              problems.push(`MCP server ${declaration.name}: ${listed.left.error instanceof Error ? listed.left.error.message : String(listed.left.error)}`)
              continue
            }
            for (const info of listed.right) {
              const tool = mcpTool(server, info, defaultTimeoutSecs)
              if (Either.isLeft(tool)) {
                problems.push(`MCP server ${declaration.name}: ${tool.left}`)
                continue
              }
              tools.push(tool.right)
              mcpTools.push({ name: info.name, description: tool.right.description, kind: "mcp", tool_name: tool.right.name, arguments: [], runnable: true, reason: null })
            }
          }
          for (const p of problems) yield* Effect.logWarning(`program ${record.name}: ${p}`)
          return { sha256: record.sha256, tools, mcpTools, servers, failure: null, problems } satisfies Loaded
        })

      const unload = (name: string) =>
        Effect.gen(function*() {
          for (const tool of registered.get(name) ?? []) yield* registry.unregister(tool)
          registered.delete(name)
          const l = loaded.get(name)
          loaded.delete(name)
          offers.delete(name)
          if (l !== undefined) yield* Effect.promise(() => Promise.all(l.servers.map((s) => s.close())))
        })

      /** Brings the registry in line with the view: unloads, loads, then offers what can be offered. */
      const sync = Effect.gen(function*() {
        const records = yield* programs.all
        const wanted = new Map(records.filter((r) => r.enabled).map((r) => [r.name, r] as const))
        for (const name of [...loaded.keys()]) {
          const r = wanted.get(name)
          if (r === undefined || r.sha256 !== loaded.get(name)!.sha256) yield* unload(name)
        }
        for (const r of wanted.values()) if (!loaded.has(r.name)) loaded.set(r.name, yield* load(r))
        const ours = new Set([...registered.values()].flat())
        const builtins = new Set((yield* registry.specs).map((s) => s.name).filter((n) => !ours.has(n)))
        const candidates = yield* Effect.forEach([...wanted.values()], (r) =>
          Effect.map(hostTools.check(r.host_requirements.required, []), (status) => {
            const l = loaded.get(r.name)!
            return {
              name: r.name,
              requires: l.failure === null ? r.requires_tools : [],
              provides: l.tools.map((t) => t.name),
              missingHost: l.failure === null ? status.missing_required : ["(not loaded)"]
            }
          }))
        const decided = decideOffers(candidates, builtins)
        for (const [name, decision] of decided) {
          const l = loaded.get(name)!
          offers.set(name, l.failure === null ? decision : { offered: false, missingTools: [], reason: l.failure })
          const offered = l.failure === null && decision.offered
          if (!offered) {
            for (const tool of registered.get(name) ?? []) yield* registry.unregister(tool)
            registered.delete(name)
            continue
          }
          if (registered.has(name)) continue
          const names: Array<string> = []
          for (const tool of l.tools) {
            const added = yield* Effect.either(registry.register(tool))
            if (Either.isLeft(added)) yield* Effect.logWarning(`program ${name}: the tool name ${tool.name} is taken`)
            else names.push(tool.name)
          }
          registered.set(name, names)
        }
      })
      const synced = <A, E>(effect: Effect.Effect<A, E>) => lock.withPermits(1)(Effect.tap(effect, () => sync))

      // recovery, then the first load
      const initial = yield* Effect.either(programs.all)
      if (Either.isRight(initial)) {
        const removed = Installer.removeOrphans(directory, new Set(initial.right.map((r) => r.name)))
        if (removed.length > 0) yield* Effect.logInfo(`removed program folders no installed program owns: ${removed.join(", ")}`)
        yield* lock.withPermits(1)(sync).pipe(Effect.catchAll((e) => Effect.logError("could not load the installed programs", e)))
      } else {
        yield* Effect.logError("could not read the installed programs", initial.left)
      }
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.all([...loaded.values()].flatMap((l) => l.servers.map((s) => s.close())))))

      const toolsOf = (record: ProgramRecord): ReadonlyArray<ProgramTool> => [
        ...record.tools.map((t): ProgramTool => ({
          name: t.name,
          description: t.description,
          kind: t.kind,
          tool_name: t.tool_name,
          arguments: t.arguments,
          runnable: t.kind !== "none",
          reason: t.kind === "none" ? NOTHING_TO_RUN : null
        })),
        ...(loaded.get(record.name)?.mcpTools ?? [])
      ]

      return ProgramHost.of({
        list: (page) =>
          Effect.map(programs.list(page), (p) => ({
            ...p,
            items: p.items.map(({ declared_tools, ...item }) => ({ ...item, tools_count: declared_tools + (loaded.get(item.name)?.mcpTools.length ?? 0) }))
          })),
        get: (name) =>
          Effect.map(programs.get(name), (r): ProgramDetail => {
            const offer = offers.get(name)
            return {
              name: r.name,
              version: r.version,
              description: r.description,
              author: r.author,
              enabled: r.enabled,
              tools: toolsOf(r),
              skill_content: r.skill?.content ?? null,
              path: r.path,
              source: r.source.commit === null ? r.source.location : `${r.source.location}#${r.source.commit}`,
              sha256: r.sha256,
              offered: r.enabled && offer?.offered === true,
              not_offered_reason: !r.enabled ? "the program is disabled" : offer === undefined ? "not loaded" : offer.reason,
              stream: ProgramsEvents.programStream(r.name)
            }
          }),
        install: (source, context) =>
          synced(
            Installer.install(source, context).pipe(
              Effect.map((r) => ({ name: r.name, version: r.version })),
              Effect.provideService(Programs, programs),
              Effect.provideService(DataDir, dataDir)
            )
          ),
        setEnabled: (name, enabled, context) => synced(Effect.asVoid(programs.setEnabled(name, enabled, context))),
        uninstall: (name, context) =>
          lock.withPermits(1)(Effect.gen(function*() {
            const record = yield* programs.get(name)
            yield* programs.uninstall(name, context)
            yield* sync
            yield* Installer.removeFolder(record)
          })),
        hostRequirements: (name) =>
          Effect.gen(function*() {
            const r = yield* programs.get(name)
            const status = yield* hostTools.check(r.host_requirements.required, r.host_requirements.optional)
            return { program_name: r.name, ...status, missing_tools: offers.get(name)?.missingTools ?? [] }
          }),
        servers: (name) => loaded.get(name)?.servers ?? []
      })
    })
  )
}
