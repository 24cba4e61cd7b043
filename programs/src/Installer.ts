/**
 * Installing a program, so that a crash never leaves a half-installed one visible:
 *   1. fetch or unpack into `<data-dir>/programs/.staging/<id>/` (removed whatever happens);
 *   2. check the tree (links, sizes, file count), read and check `program.toml` and `SKILL.md`,
 *      and digest the tree;
 *   3. rename the tree to `<data-dir>/programs/<name>/` (atomic: same file system);
 *   4. record `program_installed` with the digest.
 * The view is the truth: a folder under `programs/` without an installed program in the view
 * (a crash between 3 and 4, or after an uninstall was recorded) is an orphan, removed at start
 * and before a new install of that name.
 */
import { type CommandContext, DataDir, type ProgramRecord, Programs, type ProgramsEvents } from "@annal/kernel"
import type { ProgramToolArgument, ToolArgument } from "@annal/spec"
import { isRequired } from "./Arguments.js"
import { Effect, Either } from "effect"
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync } from "node:fs"
import { join, relative, sep } from "node:path"
import { randomUUID } from "node:crypto"
import { extractTarball } from "./Archive.js"
import { type CheckedManifest, ManifestInvalid, parseManifest, parseSkill, type Skill, toolNameOf } from "./Manifest.js"
import { classifySource, clone, download, type FetchLimits } from "./Source.js"
import { inspectTree, InstallRefused, type Limits, type TreeInfo } from "./Tree.js"

export interface InstallLimits extends Limits, FetchLimits {}

export const DEFAULT_INSTALL_LIMITS: InstallLimits = {
  maxEntries: 5000,
  maxBytes: 50 * 1024 * 1024,
  maxDownloadBytes: 20 * 1024 * 1024,
  timeoutMs: 60_000
}

/** What to install: a URL from the API, or a packed folder from the CLI. */
export type InstallSource =
  | { readonly _tag: "Remote"; readonly path: string }
  | { readonly _tag: "Archive"; readonly archive: Buffer; readonly location: string }

/** A checked program tree, ready to be put in place. */
export interface PreparedProgram {
  readonly root: string
  readonly checked: CheckedManifest
  readonly skill: Skill | null
  readonly tree: TreeInfo
}

const STAGING = ".staging"

/** The program's root in an unpacked tree: the tree itself, or its single folder. */
export const programRoot = (dir: string): string => {
  if (existsSync(join(dir, "program.toml"))) return dir
  const entries = readdirSync(dir)
  if (entries.length === 1 && lstatSync(join(dir, entries[0]!)).isDirectory()) return join(dir, entries[0]!)
  return dir
}

/** Reads and checks a program tree in place. */
export const prepare = (root: string, limits: Limits): Either.Either<PreparedProgram, InstallRefused | ManifestInvalid> => {
  const tree = inspectTree(root, limits)
  if (Either.isLeft(tree)) return Either.left(tree.left)
  const manifestPath = join(root, "program.toml")
  if (!existsSync(manifestPath) || !lstatSync(manifestPath).isFile()) {
    return Either.left(new ManifestInvalid({ message: "no program.toml at the root of the program (or of its single top-level folder)" }))
  }
  const checked = parseManifest(readFileSync(manifestPath, "utf8"))
  if (Either.isLeft(checked)) return Either.left(checked.left)
  const realRoot = realpathSync(root)
  for (const tool of checked.right.tools) {
    if (tool.kind !== "module") continue
    const file = join(root, tool.module)
    const real = existsSync(file) ? realpathSync(file) : undefined
    if (real === undefined || !lstatSync(real).isFile() || relative(realRoot, real).startsWith(`..${sep}`)) {
      return Either.left(new ManifestInvalid({ message: `invalid field "tools.${tool.name}.module" in program.toml: ${tool.module} is not a file of the program` }))
    }
  }
  const skillPath = join(root, "SKILL.md")
  let skill: Skill | null = null
  if (existsSync(skillPath)) {
    const parsed = parseSkill(readFileSync(skillPath, "utf8"))
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    skill = parsed.right
  }
  return Either.right({ root, checked: checked.right, skill, tree: tree.right })
}

/** A declared argument as it is recorded and listed. */
const listedArgument = (a: ToolArgument): ProgramToolArgument => ({
  name: a.name,
  description: a.description,
  type: a.type,
  required: isRequired(a),
  ...(a.default === undefined ? {} : { default: a.default }),
  ...(a.enum === undefined ? {} : { enum: a.enum })
})

/** The `program_installed` payload of a prepared program. */
export const installedEvent = (prepared: PreparedProgram, source: ProgramsEvents.ProgramSource): ProgramsEvents.ProgramInstalled => {
  const { manifest } = prepared.checked
  return {
    name: manifest.program.name,
    version: manifest.program.version,
    description: manifest.program.description,
    author: manifest.program.author,
    source,
    sha256: prepared.tree.sha256,
    tools: prepared.checked.tools.map((t) => ({
      name: t.name,
      tool_name: toolNameOf(manifest.program.name, t.name),
      kind: t.kind,
      description: t.declaration.description,
      arguments: t.declaration.arguments.map(listedArgument)
    })),
    mcp_servers: manifest.mcp.map((m) => ({ name: m.name, enabled: m.enabled })),
    requires_tools: manifest.requires_tools.names,
    host_requirements: { required: manifest.host_requirements.required, optional: manifest.host_requirements.optional },
    skill: prepared.skill
  }
}

/** Removes what a crash left under `programs/`: the staging area, and folders of no installed program. */
export const removeOrphans = (directory: string, installed: ReadonlySet<string>): ReadonlyArray<string> => {
  if (!existsSync(directory)) return []
  const removed: Array<string> = []
  for (const name of readdirSync(directory)) {
    if (name === STAGING || !installed.has(name)) {
      rmSync(join(directory, name), { recursive: true, force: true })
      if (name !== STAGING) removed.push(name)
    }
  }
  return removed
}

const io = <A>(what: string, f: () => A) =>
  Effect.try({ try: f, catch: (e) => new InstallRefused({ message: `${what}: ${(e as Error).message}` }) })

/** Installs from a source; one install at a time per process (the caller holds `lock`). */
export const install = (source: InstallSource, context: CommandContext, limits: InstallLimits = DEFAULT_INSTALL_LIMITS) =>
  Effect.gen(function*() {
    const programs = yield* Programs
    const applied = yield* programs.appliedInstall(context.meta)
    if (applied !== undefined) return yield* programs.get(applied.name)
    const { programs: directory } = yield* DataDir
    const staging = join(directory, STAGING, randomUUID())
    return yield* Effect.acquireUseRelease(
      io("could not create the staging folder", () => mkdirSync(staging, { recursive: true, mode: 0o700 })),
      () =>
        Effect.gen(function*() {
          const tree = join(staging, "tree")
          let recorded: ProgramsEvents.ProgramSource
          if (source._tag === "Archive") {
            yield* extractTarball(source.archive, tree, limits)
            recorded = { kind: "local", location: source.location, commit: null }
          } else {
            const remote = classifySource(source.path)
            if (Either.isLeft(remote)) return yield* new InstallRefused({ message: remote.left })
            if (remote.right.kind === "git") {
              const commit = yield* clone(remote.right.url, tree, limits)
              recorded = { kind: "git", location: remote.right.url, commit }
            } else {
              yield* extractTarball(yield* download(remote.right.url, limits), tree, limits)
              recorded = { kind: "tarball", location: remote.right.url, commit: null }
            }
          }
          const prepared = yield* prepare(programRoot(tree), limits)
          const name = prepared.checked.manifest.program.name
          const exists = yield* Effect.option(programs.get(name))
          if (exists._tag === "Some") return yield* programs.install(installedEvent(prepared, recorded), context) // AlreadyExists, decided by the kernel
          const target = programs.pathOf(name)
          yield* io("could not put the program in place", () => {
            rmSync(target, { recursive: true, force: true })
            renameSync(prepared.root, target)
          })
          return yield* programs.install(installedEvent(prepared, recorded), context).pipe(
            Effect.tapError(() => Effect.sync(() => rmSync(target, { recursive: true, force: true })))
          )
        }),
      () =>
        Effect.sync(() => {
          rmSync(staging, { recursive: true, force: true })
          try {
            rmdirSync(join(directory, STAGING))
          } catch {
            // another install is staging
          }
        })
    )
  })

/** Removes an uninstalled program's folder (after `program_uninstalled` is recorded). */
export const removeFolder = (record: Pick<ProgramRecord, "path">) => Effect.sync(() => rmSync(record.path, { recursive: true, force: true }))
