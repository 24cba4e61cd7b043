/**
 * The tools agents can call: the built-ins from the start, and what programs register later.
 * The registry is in memory; a program's tools are registered again when it is loaded.
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import type { ToolSpec } from "../llm/LanguageModel.js"
import { AlreadyExists } from "../shared/errors.js"
import { builtins } from "./builtins.js"
import { specOf, type Tool } from "./Tool.js"

export class ToolRegistry extends Context.Tag("@annal/kernel/ToolRegistry")<
  ToolRegistry,
  {
    /** The tools' specs for the model, by name. */
    readonly specs: Effect.Effect<ReadonlyArray<ToolSpec>>
    readonly get: (name: string) => Effect.Effect<Option.Option<Tool>>
    /** Adds a tool; AlreadyExists when the name is taken (a program cannot shadow a built-in). */
    readonly register: (tool: Tool) => Effect.Effect<void, AlreadyExists>
    /** Removes a tool a program registered; nothing when unknown. */
    readonly unregister: (name: string) => Effect.Effect<void>
  }
>() {
  static readonly layer = Layer.effect(
    ToolRegistry,
    Effect.gen(function*() {
      // the built-ins' names are constants: a bad one is a bug in this file, not a runtime condition
      const initial = yield* Effect.orDie(builtins)
      const builtinNames = new Set(initial.map((t) => t.name))
      const tools = yield* Ref.make(new Map(initial.map((t) => [t.name, t] as const)))
      return ToolRegistry.of({
        specs: Effect.map(Ref.get(tools), (m) => [...m.values()].map(specOf).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
        get: (name) => Effect.map(Ref.get(tools), (m) => Option.fromNullable(m.get(name))),
        register: (tool) =>
          Ref.modify(tools, (m) => {
            if (m.has(tool.name)) return [false, m] as const
            return [true, new Map(m).set(tool.name, tool)] as const
          }).pipe(Effect.flatMap((added) => (added ? Effect.void : Effect.fail(new AlreadyExists({ what: "tool", id: tool.name }))))),
        unregister: (name) =>
          Ref.update(tools, (m) => {
            if (builtinNames.has(name) || !m.has(name)) return m
            const next = new Map(m)
            next.delete(name)
            return next
          })
      })
    })
  )
}
