/**
 * A tool an agent can call: its name, a description for the model, an Effect Schema of its
 * arguments (the JSON schema the model sees is generated from it), the permission aspects a call
 * needs, and what it runs. A tool is stored type-erased: `decode` binds decoded arguments to a
 * `ToolCallPlan`, so the gate and the registry never handle untyped arguments.
 */
import { Data, Effect, Either, JSONSchema, ParseResult, Schema } from "effect"
import type { ToolSpec } from "../llm/LanguageModel.js"
import type { CommandContext } from "../shared/Command.js"
import { InvalidCommand } from "../shared/errors.js"

/** Names the model can call: what OpenAI-style tool APIs accept. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

/** A tool call failed; the message goes back to the model as the tool error. */
export class ToolFailed extends Data.TaggedError("ToolFailed")<{ readonly message: string; readonly timedOut?: boolean }> {}

/** What a call touches, checked by the permissions before it runs. */
export interface ToolAccess {
  /** Workspace-relative paths read or written. */
  readonly paths: ReadonlyArray<string>
  readonly network?: boolean | undefined
  readonly fork?: boolean | undefined
}

/** What a running call knows about its caller. */
export interface ToolEnv {
  readonly agentId: string
  readonly context: CommandContext
  /** Seconds the call may take; `exec` kills its child at this deadline. */
  readonly timeoutSecs: number
  /** Whether the agent's permissions allow this workspace path (walks skip what they do not). */
  readonly canAccess: (path: string) => boolean
}

/** A call's result: text for the model and, for a process, its exit code. */
export interface ToolOutput {
  readonly text: string
  readonly exitCode?: number | undefined
}

/** A call with decoded arguments, ready for the gate. */
export interface ToolCallPlan {
  readonly tool: string
  /** The decoded arguments (for approval rules that look at them, like exec's blacklist). */
  readonly args: unknown
  readonly access: ToolAccess
  /** Whether an `on_demand` policy asks for this call. */
  readonly consequential: boolean
  /** What an approval request shows as the resource. */
  readonly resource: string
  readonly run: (env: ToolEnv) => Effect.Effect<ToolOutput, ToolFailed>
}

/** A registered tool. */
export interface Tool {
  readonly name: string
  readonly description: string
  /** JSON schema of the arguments, generated from the Schema. */
  readonly parameters: Readonly<Record<string, unknown>>
  /** Seconds a call may take at most, whatever the agent's own limit; read at call time. */
  readonly timeoutSecs: Effect.Effect<number>
  /** Decodes the model's arguments; the error names the offending field. */
  readonly decode: (input: unknown) => Either.Either<ToolCallPlan, string>
}

/** How a tool is defined. */
export interface ToolDefinition<A, I> {
  readonly name: string
  readonly description: string
  readonly args: Schema.Schema<A, I>
  readonly access: (args: A) => ToolAccess
  /** Default: not consequential (an `on_demand` policy then runs it without asking). */
  readonly consequential?: ((args: A) => boolean) | undefined
  /** Default: the paths touched, else the tool's name. */
  readonly resource?: ((args: A) => string) | undefined
  /** Default: 60 seconds. */
  readonly timeoutSecs?: Effect.Effect<number> | undefined
  readonly run: (args: A, env: ToolEnv) => Effect.Effect<ToolOutput, ToolFailed>
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Replaces `{"$ref": "#/$defs/X", ...}` by X's schema, merged; undefined when the references cycle. */
const inline = (node: unknown, defs: Record<string, unknown>, seen: ReadonlyArray<string>): unknown => {
  if (Array.isArray(node)) {
    const items = node.map((n) => inline(n, defs, seen))
    return items.includes(undefined) ? undefined : items
  }
  if (!isObject(node)) return node
  const out: Record<string, unknown> = {}
  const ref = node.$ref
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const name = ref.slice("#/$defs/".length)
    if (seen.includes(name) || !(name in defs)) return undefined
    const target = inline(defs[name], defs, [...seen, name])
    if (!isObject(target)) return undefined
    Object.assign(out, target)
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref") continue
    const inlined = inline(value, defs, seen)
    if (inlined === undefined) return undefined
    out[key] = inlined
  }
  return out
}

/**
 * The JSON schema the model sees: without the `$schema` key some providers refuse, and with
 * `$defs` references inlined, which small local models' grammars handle poorly (kept as they
 * are only when a schema is recursive).
 */
export const parametersOf = <A, I>(schema: Schema.Schema<A, I>): Record<string, unknown> => {
  const { $schema: _schema, $defs, ...rest } = JSONSchema.make(schema) as unknown as Record<string, unknown>
  if (!isObject($defs)) return rest
  const inlined = inline(rest, $defs, [])
  return isObject(inlined) ? inlined : { ...rest, $defs }
}

/** The first problem of a decode, naming the field. */
const describeIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "invalid arguments"
  return issue.path.length === 0 ? `invalid arguments: ${issue.message}` : `invalid argument "${issue.path.join(".")}": ${issue.message}`
}

/** Makes a tool; InvalidCommand when the name is not one a model can call. */
export const make = <A, I>(definition: ToolDefinition<A, I>): Either.Either<Tool, InvalidCommand> => {
  if (!TOOL_NAME.test(definition.name)) {
    return Either.left(new InvalidCommand({ message: `tool name ${JSON.stringify(definition.name)} must match ${TOOL_NAME.source}` }))
  }
  const decodeArgs = Schema.decodeUnknownEither(definition.args, { onExcessProperty: "error", errors: "first" })
  return Either.right({
    name: definition.name,
    description: definition.description,
    parameters: parametersOf(definition.args),
    timeoutSecs: definition.timeoutSecs ?? Effect.succeed(60),
    decode: (input) =>
      Either.match(decodeArgs(input), {
        onLeft: (error) => Either.left(describeIssue(error)),
        onRight: (args) => {
          const access = definition.access(args)
          return Either.right({
            tool: definition.name,
            args,
            access,
            consequential: definition.consequential?.(args) ?? false,
            resource: definition.resource?.(args) ?? (access.paths.length > 0 ? access.paths.join(", ") : definition.name),
            run: (env) => definition.run(args, env)
          })
        }
      })
  })
}

/** The spec a model is given for a tool. */
export const specOf = (tool: Tool): ToolSpec => ({ name: tool.name, description: tool.description, parameters: tool.parameters })
