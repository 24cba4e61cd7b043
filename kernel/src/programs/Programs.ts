/**
 * The programs service: the record of which programs are installed and enabled. Installing is
 * two steps owned by the program runtime (`@annal/programs`): it puts the validated tree in
 * place under `<data-dir>/programs/<name>/`, then records `program_installed` here; a folder
 * without a program in this view is an orphan the runtime removes at start. Uninstalling
 * records `program_uninstalled` first, then the runtime removes the folder.
 */
import { SqlClient } from "@effect/sql"
import { type PageRequest, type ProgramSummary } from "@annal/spec"
import { EventStore, type EventMeta, type EventStoreError } from "@annal/store"
import { Context, Effect, Either, Layer, Option, Schema } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { type CommandContext, query } from "../shared/Command.js"
import { commandHandler, eventOf, replayed } from "../shared/CommandHandler.js"
import { DataDir } from "../shared/DataDir.js"
import { type AlreadyExists, type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { ToolRegistry } from "../tools/ToolRegistry.js"
import { decideInstall, decideSetEnabled, decideUninstall, relevantSkills } from "./decide.js"
import {
  type DeclaredTool,
  PROGRAM_DISABLED,
  PROGRAM_ENABLED,
  PROGRAM_INSTALLED,
  PROGRAM_UNINSTALLED,
  type ProgramInstalled,
  type ProgramSkill,
  type ProgramSource,
  programStream
} from "./events.js"
import { ProgramRow, ProgramToolRow } from "./projection.js"

/** A program's row with its declared tools counted, as the list reads it. */
const ProgramListed = Schema.Struct({ ...ProgramRow.fields, declared_tools: Schema.Number })

/** An installed program as the view has it. */
export interface ProgramRecord {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly author: string
  readonly enabled: boolean
  readonly source: ProgramSource
  readonly sha256: string
  readonly tools: ReadonlyArray<DeclaredTool>
  readonly mcp_servers: ReadonlyArray<{ readonly name: string; readonly enabled: boolean }>
  readonly requires_tools: ReadonlyArray<string>
  readonly host_requirements: { readonly required: ReadonlyArray<string>; readonly optional: ReadonlyArray<string> }
  readonly skill: ProgramSkill | null
  /** `<data-dir>/programs/<name>`. */
  readonly path: string
  readonly installed_at: string
}

/** A program's skill offered to an agent. */
export interface OfferedSkill {
  readonly program: string
  readonly description: string
  readonly content: string
}

/** A program's skill as an agent's instructions get it. */
export const offeredSkillOf = (program: Pick<ProgramRecord, "name" | "description">, skill: ProgramSkill): OfferedSkill => ({
  program: program.name,
  description: `${program.description} ${skill.description}`,
  content: skill.content
})

/** The agent's system prompt with the skills of the programs offered for its goal after it. */
export const withSkills = (systemPrompt: string | undefined, skills: ReadonlyArray<OfferedSkill>): string | undefined =>
  skills.length === 0
    ? systemPrompt
    : [
      ...(systemPrompt === undefined || systemPrompt === "" ? [] : [systemPrompt, ""]),
      "Skills of the programs installed for this task (their tools are named <program>__<tool>):",
      ...skills.flatMap((s) => ["", `## Program ${s.program}`, s.content.trim()])
    ].join("\n")

/** What an already-applied `Idempotency-Key` installed. */
export interface AppliedInstall {
  readonly name: string
  readonly version: string
}

export class Programs extends Context.Tag("@annal/kernel/Programs")<
  Programs,
  {
    /** Programs by name, with their declared tools counted. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<Omit<ProgramSummary, "tools_count"> & { readonly declared_tools: number }>, EventStoreError>
    readonly get: (name: string) => Effect.Effect<ProgramRecord, EntityNotFound | EventStoreError>
    /** Every installed program, by name. */
    readonly all: Effect.Effect<ReadonlyArray<ProgramRecord>, EventStoreError>
    /** What this request's `Idempotency-Key` installed already, if it did; InvalidCommand when the key was another request's. */
    readonly appliedInstall: (meta: EventMeta | undefined) => Effect.Effect<AppliedInstall | undefined, InvalidCommand | EventStoreError>
    /** Records an installation whose tree is already in place; AlreadyExists for an installed name. */
    readonly install: (
      input: ProgramInstalled,
      context: CommandContext
    ) => Effect.Effect<ProgramRecord, InvalidCommand | AlreadyExists | ConcurrentChange | EventStoreError>
    readonly setEnabled: (name: string, enabled: boolean, context: CommandContext) => Effect.Effect<ProgramRecord, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    readonly uninstall: (name: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** `<data-dir>/programs/<name>`. */
    readonly pathOf: (name: string) => string
    /**
     * The skills of enabled programs that fit a goal: programs whose tree is in place and whose
     * `requires_tools` are all in the ToolRegistry (a program not offered offers no skill either).
     */
    readonly skillsFor: (goal: string) => Effect.Effect<ReadonlyArray<OfferedSkill>, EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Programs,
    Effect.gen(function*() {
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const { programs: directory } = yield* DataDir
      // absent where only installs are recorded (the CLI on a stopped server): no skill is asked for there
      const registry = yield* Effect.serviceOption(ToolRegistry)
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const pathOf = (name: string) => join(directory, name)

      const toRecord = (r: typeof ProgramRow.Type, tools: ReadonlyArray<typeof ProgramToolRow.Type>): ProgramRecord => ({
          name: r.name,
          version: r.version,
          description: r.description,
          author: r.author,
          enabled: r.enabled,
          source: { kind: r.source_kind, location: r.source_location, commit: r.source_commit },
          sha256: r.sha256,
          tools: tools.map((t) => ({ name: t.name, tool_name: t.tool_name, kind: t.kind, description: t.description, arguments: t.arguments })),
          mcp_servers: r.mcp_servers,
          requires_tools: r.requires_tools,
          host_requirements: { required: r.host_required, optional: r.host_optional },
          skill: r.skill_content === null
            ? null
            : { description: r.skill_description ?? "", keywords: r.skill_keywords ?? [], content: r.skill_content },
          path: pathOf(r.name),
          installed_at: r.installed_at
        })

      const rows = (name?: string) =>
        Effect.all([
          query("programs", ProgramRow, (sql) =>
            name === undefined ? sql`SELECT * FROM programs ORDER BY name` : sql`SELECT * FROM programs WHERE name = ${name}`),
          query("program_tools", ProgramToolRow, (sql) =>
            name === undefined
              ? sql`SELECT * FROM program_tools ORDER BY program, name`
              : sql`SELECT * FROM program_tools WHERE program = ${name} ORDER BY name`)
        ]).pipe(Effect.map(([programs, tools]) => programs.map((p) => toRecord(p, tools.filter((t) => t.program === p.name)))))

      const find = (name: string) => Effect.map(rows(name), (r) => r[0])
      const get = (name: string) =>
        Effect.flatMap(find(name), (r) => (r === undefined ? Effect.fail(new EntityNotFound({ what: "program", id: name })) : Effect.succeed(r)))

      const handle = commandHandler(Context.get(context, EventStore))
      const onProgram = { stream: (command: { readonly name: string }) => programStream(command.name), load: (command: { readonly name: string }) => find(command.name) }

      const installed = handle({
        ...onProgram,
        decide: (command: ProgramInstalled, current) =>
          Either.map(decideInstall(command, current !== undefined), (event) => [{ type: PROGRAM_INSTALLED, data: event as unknown as Record<string, unknown> }]),
        emits: [PROGRAM_INSTALLED],
        // read-your-writes: the projection ran in the append's transaction
        answer: (events, command) => Effect.orDie(get(String(eventOf(events, PROGRAM_INSTALLED)?.data.name ?? command.name)))
      })
      const install = (input: ProgramInstalled, ctx: CommandContext) => installed(input, ctx)

      const enabling = handle({
        ...onProgram,
        decide: (command: { readonly name: string; readonly enabled: boolean }, current) =>
          Either.map(
            decideSetEnabled(command.name, current, command.enabled),
            (event) => (event === undefined ? [] : [{ type: command.enabled ? PROGRAM_ENABLED : PROGRAM_DISABLED, data: event }])
          ),
        emits: [PROGRAM_ENABLED, PROGRAM_DISABLED],
        answer: (_, command) => get(command.name)
      })
      const setEnabled = (name: string, enabled: boolean, ctx: CommandContext) => enabling({ name, enabled }, ctx)

      const uninstalling = handle({
        ...onProgram,
        decide: (command: { readonly name: string }, current) =>
          Either.map(decideUninstall(command.name, current !== undefined), (event) => [{ type: PROGRAM_UNINSTALLED, data: event }]),
        emits: [PROGRAM_UNINSTALLED],
        answer: () => Effect.void
      })
      const uninstall = (name: string, ctx: CommandContext) => uninstalling({ name }, ctx)

      // the handler's own idempotency step: the installer asks before it downloads anything
      const appliedInstall = (meta: EventMeta | undefined) =>
        Effect.flatMap(EventStore, (store) => replayed(store, [PROGRAM_INSTALLED], { actor: "", meta })).pipe(
          Effect.map((prior) => {
            const first = prior === undefined ? undefined : eventOf(prior, PROGRAM_INSTALLED)
            return first === undefined ? undefined : { name: String(first.data.name), version: String(first.data.version) }
          })
        )

      const skillsFor = (goal: string) =>
        Effect.gen(function*() {
          const specs = Option.isSome(registry) ? yield* registry.value.specs : []
          const registered = new Set(specs.map((s) => s.name))
          const candidates = (yield* rows()).flatMap((p) =>
            p.enabled && p.skill !== null && existsSync(p.path) && p.requires_tools.every((t) => registered.has(t))
              ? [{ ...offeredSkillOf(p, p.skill), keywords: p.skill.keywords }]
              : []
          )
          return relevantSkills(goal, candidates).map((c): OfferedSkill => ({ program: c.program, description: c.description, content: c.content }))
        })

      return Programs.of({
        list: (page) =>
          run(paged(
            "programs",
            page,
            (sql) => sql`SELECT count(*) AS n FROM programs`,
            ProgramListed,
            (sql, limit, offset) =>
              sql`
                SELECT p.*, (SELECT count(*) FROM program_tools t WHERE t.program = p.name) AS declared_tools
                FROM programs p ORDER BY p.name LIMIT ${limit} OFFSET ${offset}`,
            (r) => ({
              name: r.name,
              version: r.version,
              description: r.description,
              author: r.author,
              enabled: r.enabled,
              has_skill_content: r.skill_content !== null && r.skill_content !== "",
              declared_tools: r.declared_tools,
              stream: programStream(r.name)
            })
          )),
        get: (name) => run(get(name)),
        all: run(rows()),
        appliedInstall: (meta) => run(appliedInstall(meta)),
        install: (input, ctx) => run(install(input, ctx)),
        setEnabled: (name, enabled, ctx) => run(setEnabled(name, enabled, ctx)),
        uninstall: (name, ctx) => run(uninstall(name, ctx)),
        pathOf,
        skillsFor: (goal) => run(skillsFor(goal))
      })
    })
  )
}
