/**
 * The tools of a replay: each agent is offered what the recorded agent was offered (its
 * `agent_started`'s `tools`), and a tool the scratch kernel does not have — a program's, an MCP
 * server's: programs are not loaded in a replay — is registered there as the record shows it: its
 * spec as offered, and for each call what the gate read of it (`recordedTool`). Nothing runs: the
 * outcomes come from the record (`replayingTools` in Replay.ts).
 */
import type { EventStore, StoredEvent } from "@annal/store"
import { Effect, Either, Layer, Schema } from "effect"
import { ACCESS_DECIDED, AccessDecided, accessStream } from "../access/events.js"
import { AGENT_CREATED, AGENT_STARTED, AgentCreated, AgentStarted, type OfferedTool } from "../agents/events.js"
import { APPROVAL_REQUESTED, ApprovalRequested } from "../approvals/events.js"
import { TOOL_CALL_DENIED, TOOL_CALL_REQUESTED, TOOL_CALL_STARTED, ToolCallDenied, ToolCallRequested, ToolCallStarted, toolCallStream } from "../gate/events.js"
import { MODEL_ANSWERED, ModelAnswered } from "../llm/events.js"
import { type Tool, ToolFailed } from "../tools/Tool.js"
import { type Offer, ToolOffer } from "../tools/ToolOffer.js"
import { ToolRegistry } from "../tools/ToolRegistry.js"

const decode = <A, I>(schema: Schema.Schema<A, I>, event: StoredEvent) => Schema.decodeUnknownSync(schema)(event.data)

/** The recorded agents' offers, by agent name in record order (a group's agents start in any order; their names tell them apart). */
const recordedOffers = (recorded: ReadonlyArray<StoredEvent>) => {
  const names = new Map(recorded.filter((e) => e.type === AGENT_CREATED).map((e) => {
    const created = decode(AgentCreated, e)
    return [created.agent_id, created.name] as const
  }))
  const byName = new Map<string, Array<ReadonlyArray<OfferedTool> | undefined>>()
  for (const e of recorded.filter((e) => e.type === AGENT_STARTED)) {
    const started = decode(AgentStarted, e)
    const name = names.get(started.agent_id) ?? ""
    byName.set(name, [...(byName.get(name) ?? []), started.tools])
  }
  return byName
}

/**
 * Offers each agent of a replay what the recorded agent of its name was offered; an agent
 * recorded before offers were is offered the scratch registry's tools (the built-ins), off the
 * record as it was then.
 */
export const replayingOffer = (recorded: ReadonlyArray<StoredEvent>) =>
  Layer.effect(
    ToolOffer,
    Effect.map(ToolRegistry, (registry) => {
      const offers = recordedOffers(recorded)
      return ToolOffer.of({
        offered: (agent) =>
          Effect.suspend((): Effect.Effect<Offer> => {
            const queue = offers.get(agent.name)
            if (queue === undefined || queue.length === 0) return Effect.map(registry.specs, (tools) => ({ tools, onRecord: true }))
            const tools = queue.shift()
            return tools === undefined ? Effect.map(registry.specs, (specs) => ({ tools: specs, onRecord: false })) : Effect.succeed({ tools, onRecord: true })
          })
      })
    })
  )

/** What the gate read of one recorded call of a tool: a decode's refusal, or the plan it went on. */
type Reading = Either.Either<{
  readonly paths: ReadonlyArray<string>
  readonly network: boolean
  readonly fork: boolean
  readonly consequential: boolean
  readonly resource: string
}, string>

/** A call's arguments as a key: the parsed JSON, printed again (the gate decodes the parse of the model's text). */
const argumentsKey = (tool: string, args: unknown) => `${tool}\n${JSON.stringify(args)}`

/**
 * What the gate read of each recorded call of `tool`, from the events it left: refused arguments
 * (a `tool_call_denied` at stage `arguments`); the paths its permission checks named (each
 * `access_decided` of the call names its path, or the tool when it touches none); consequential
 * when it asked a person (a program's tool asks under `on_demand` exactly when it is; under
 * `always` and `auto` the answer changes nothing), with the approval's resource; its time limit
 * (`tool_call_started`'s). Keyed by the arguments the model sent.
 */
const readingsOf = (source: EventStore["Type"], recorded: ReadonlyArray<StoredEvent>, tool: string) =>
  Effect.gen(function*() {
    const readings: Array<readonly [string, Reading]> = []
    const timeouts: Array<number> = []
    for (const e of recorded.filter((e) => e.type === TOOL_CALL_REQUESTED && e.data.tool === tool)) {
      const requested = decode(ToolCallRequested, e)
      // the model's text of the call: in its agent's last answer before the call
      const answer = recorded.filter((a) => a.type === MODEL_ANSWERED && a.seq < e.seq && a.data.agent_id === requested.agent_id).at(-1)
      const text = answer === undefined ? undefined : decode(ModelAnswered, answer).tool_calls.find((c) => c.id === requested.call_id)?.arguments
      const parsed = text === undefined ? Either.left(undefined) : Either.try(() => (text.trim() === "" ? {} : JSON.parse(text)) as unknown)
      if (Either.isLeft(parsed)) continue
      const key = argumentsKey(tool, parsed.right)
      const call = yield* source.readStream(toolCallStream(requested.id))
      const next = call.find((c) => c.seq > e.seq)
      if (next === undefined) continue
      if (next.type === TOOL_CALL_DENIED && decode(ToolCallDenied, next).stage === "arguments") {
        readings.push([key, Either.left(decode(ToolCallDenied, next).reason)])
        continue
      }
      if (next.type === TOOL_CALL_STARTED) timeouts.push(decode(ToolCallStarted, next).timeout_secs)
      const within = (s: StoredEvent) => s.seq > e.seq && s.seq < next.seq
      const decisions = (yield* source.readStream(accessStream(requested.agent_id))).filter((s) => s.type === ACCESS_DECIDED && within(s)).map((s) => decode(AccessDecided, s))
      const approval = recorded.filter((s) => s.type === APPROVAL_REQUESTED && within(s)).map((s) => decode(ApprovalRequested, s)).find((a) => a.subject === requested.agent_id)
      const onTool = decisions.length === 1 && decisions[0]!.resource === tool
      readings.push([key, Either.right({
        paths: onTool ? [] : decisions.map((d) => d.resource),
        network: decisions.some((d) => d.action === "network"),
        fork: decisions.some((d) => d.action === "fork"),
        consequential: approval !== undefined,
        resource: approval?.resource ?? tool
      })])
    }
    return { readings, timeoutSecs: timeouts[0] }
  })

/**
 * A tool the scratch kernel lacks, as the record shows it: the spec it was offered with, and for
 * each call (by its arguments, in record order) the gate's recorded reading of it; a call the
 * record has no reading for is refused at `arguments` and listed in `unanswered`.
 */
const recordedTool = (
  spec: OfferedTool,
  readings: ReadonlyArray<readonly [string, Reading]>,
  timeoutSecs: number | undefined,
  unanswered: Array<string>
): Tool => {
  const left = [...readings]
  return {
    name: spec.name,
    description: spec.description,
    parameters: spec.parameters,
    timeoutSecs: Effect.succeed(timeoutSecs ?? 60),
    decode: (args) => {
      const key = argumentsKey(spec.name, args)
      const index = left.findIndex(([k]) => k === key)
      if (index === -1) {
        const why = `tool ${spec.name} (not loaded in a replay) was called with arguments the record has no call of`
        unanswered.push(why)
        return Either.left(why)
      }
      const reading = left.splice(index, 1)[0]![1]
      return Either.map(reading, (plan) => ({
        tool: spec.name,
        args,
        access: { paths: plan.paths, ...(plan.network ? { network: true } : {}), ...(plan.fork ? { fork: true } : {}) },
        consequential: plan.consequential,
        resource: plan.resource,
        run: () => Effect.fail(new ToolFailed({ message: "a replay runs no tool" }))
      }))
    }
  }
}

/** Registers in the scratch registry every tool the run's agents were offered that it does not have, as the record shows it. */
export const registerRecordedTools = (source: EventStore["Type"], recorded: ReadonlyArray<StoredEvent>, unanswered: Array<string>) =>
  Effect.gen(function*() {
    const registry = yield* ToolRegistry
    const have = new Set((yield* registry.specs).map((s) => s.name))
    const offered = new Map<string, OfferedTool>()
    for (const e of recorded.filter((e) => e.type === AGENT_STARTED)) {
      for (const spec of decode(AgentStarted, e).tools ?? []) if (!have.has(spec.name) && !offered.has(spec.name)) offered.set(spec.name, spec)
    }
    for (const spec of offered.values()) {
      const { readings, timeoutSecs } = yield* readingsOf(source, recorded, spec.name)
      yield* Effect.orDie(registry.register(recordedTool(spec, readings, timeoutSecs, unanswered)))
    }
  })
