/**
 * The supervisor: forks agents and runs their tool-calling loop. Each agent is a fiber (kept in a
 * map so `kill` can interrupt it — and with it the model request and any running tool, whose
 * process group the gate's exec kills on interruption). The loop: send the messages and the
 * registry's tool specs to the model, charge the usage it reports, pass every tool call it makes
 * through the ToolGate and answer it with the result (a refusal is a tool error the model sees),
 * until it answers without tool calls or runs out of steps. Every transition is an event on
 * `agent-<id>`; agents a crash left live are failed explicitly on the next start.
 */
import { type EventDraft, EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import type { SqlClient } from "@effect/sql"
import { Cause, Context, Data, Deferred, Effect, Either, Exit, FiberMap, Layer, Option, Stream } from "effect"
import { ToolGate, type ToolCallResult } from "../gate/ToolGate.js"
import {
  type ChatMessage,
  collect,
  LanguageModel,
  type ModelError,
  type ModelUnavailable,
  NOT_CONFIGURED,
  type TokenUsage,
  type ToolCall
} from "../llm/LanguageModel.js"
import { MODEL_ANSWERED, type ModelAnswered, modelAnswered } from "../llm/events.js"
import { Permissions } from "../permissions/Permissions.js"
import { SCHEDULER_ACTOR } from "../scheduler/Scheduler.js"
import { TaskRunFailed, TaskRunner } from "../scheduler/TaskRunner.js"
import { type CommandContext, query } from "../shared/Command.js"
import { answerWith, commandHandler } from "../shared/CommandHandler.js"
import { beforeEgress } from "../shared/Egress.js"
import type { ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { ToolRegistry } from "../tools/ToolRegistry.js"
import { Agents } from "./Agents.js"
import { type AgentStatus, decideCreate, decideFail, decideStop, isLive, LIVE } from "./decide.js"
import { AGENT_CREATED, AGENT_EVENTS, AGENT_OUTPUT, AGENT_STARTED, type AgentOutput, type AgentStarted, agentStream, type StopReason } from "./events.js"
import type { AgentRow } from "./projection.js"

/** Steps (model calls) an agent gets when the caller names no limit. */
export const DEFAULT_MAX_STEPS = 8

/** The actor of the supervisor's own transitions (failing agents a restart cut off). */
export const SUPERVISOR_ACTOR = "system:supervisor"

/** What an agent's loop reports as it goes, for a caller that streams it (the chat). */
export type AgentLoopEvent =
  | { readonly _tag: "Token"; readonly text: string }
  | { readonly _tag: "ToolCall"; readonly call: ToolCall }
  | { readonly _tag: "ToolResult"; readonly result: ToolCallResult }
  | { readonly _tag: "Step"; readonly step: number; readonly usage: TokenUsage }

export interface AgentRunInput {
  readonly name: string
  /** The user's message: what the agent is to do. */
  readonly goal: string
  /** A stable id (e.g. a session's agent); a fresh UUID v7 otherwise. */
  readonly agent_id?: string | undefined
  readonly seed_id?: string | undefined
  readonly task_id?: string | undefined
  readonly session_id?: string | undefined
  readonly system_prompt?: string | undefined
  /** Earlier turns of the conversation, before the goal. */
  readonly history?: ReadonlyArray<ChatMessage> | undefined
  readonly max_steps?: number | undefined
  /** Called in the agent's fiber for every token, tool call, tool result and step. */
  readonly onEvent?: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined
}

export interface AgentRunResult {
  readonly agent_id: string
  /** The model's last answer. */
  readonly text: string
  readonly steps: number
  readonly reason: Exclude<StopReason, "killed">
  /** Tokens over all the agent's model calls. */
  readonly usage: TokenUsage
}

/** The agent failed; `message` is what `agent_failed` recorded. */
/** The agent's run failed; `model` when its language model did (unreachable, an error status, a broken stream). */
export class AgentRunFailed extends Data.TaggedError("AgentRunFailed")<{ readonly agent_id: string; readonly message: string; readonly model?: boolean }> {}

/** The agent was killed (or the server stopped) before it finished. */
export class AgentKilled extends Data.TaggedError("AgentKilled")<{ readonly agent_id: string }> {
  override get message() {
    return `agent ${this.agent_id} was killed before it finished`
  }
}

export interface AgentHandle {
  readonly agent_id: string
  /** Waits for the agent's end. */
  readonly result: Effect.Effect<AgentRunResult, AgentRunFailed | AgentKilled>
}

/** A transition of an agent: the events its status as the log has it now allows. */
interface Transition {
  readonly agentId: string
  readonly decide: (status: AgentStatus) => ReadonlyArray<EventDraft>
}

type LoopError = ModelUnavailable | ModelError | InvalidCommand | EntityNotFound | ConcurrentChange | EventStoreError

const draft = <A extends object>(type: string, data: A): EventDraft => ({ type, data: data as unknown as Record<string, unknown> })

/**
 * The request's correlation id and session only: an idempotency key belongs to the request, not
 * to each agent event; the session lets a chat's live stream follow its agents' calls.
 */
const correlated = (context: CommandContext, actor: string): CommandContext => {
  const meta = {
    ...(context.meta?.correlation_id === undefined ? {} : { correlation_id: context.meta.correlation_id }),
    ...(context.meta?.session_id === undefined ? {} : { session_id: context.meta.session_id })
  }
  return Object.keys(meta).length === 0 ? { actor } : { actor, meta }
}

export class Supervisor extends Context.Tag("@annal/kernel/Supervisor")<
  Supervisor,
  {
    /** Records the agent (`agent_created`) and forks its loop; returns at once. */
    readonly start: (input: AgentRunInput, context: CommandContext) => Effect.Effect<AgentHandle, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Starts an agent and waits for its end: the final text. */
    readonly run: (
      input: AgentRunInput,
      context: CommandContext
    ) => Effect.Effect<AgentRunResult, AgentRunFailed | AgentKilled | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Interrupts a running agent (`agent_stopped` reason killed); an agent already over is left as it is. */
    readonly kill: (agentId: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | ConcurrentChange | EventStoreError>
    /** Ids of the agents whose loop runs in this process. */
    readonly running: Effect.Effect<ReadonlyArray<string>>
    /** Start-up: fails the agents the last stop cut off; says what it did. */
    readonly recover: Effect.Effect<string, ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Supervisor,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const services = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const model = yield* LanguageModel
      const gate = yield* ToolGate
      const registry = yield* ToolRegistry
      const permissions = yield* Permissions
      const agents = yield* Agents
      const fibers = yield* FiberMap.make<string>()
      const withServices = Effect.provide(services)
      const handle = commandHandler(yield* EventStore)
      const store = yield* EventStore

      /** agent_created: an id running here, or on the record, is not started again. */
      const create = handle({
        stream: (command: AgentRunInput & { readonly agent_id: string }) => agentStream(command.agent_id),
        load: (command) =>
          Effect.flatMap(FiberMap.has(fibers, command.agent_id), (here) =>
            here ? Effect.succeed(true) : agents.get(command.agent_id).pipe(Effect.as(true), Effect.catchTag("EntityNotFound", () => Effect.succeed(false)))),
        decide: (command, exists) => Either.map(decideCreate(exists, command), (event) => [event]),
        emits: [AGENT_CREATED],
        answer: answerWith(() => undefined)
      })

      /** Every other event of an agent, decided on its status as the log has it. */
      const transitioned = handle({
        stream: (command: Transition) => agentStream(command.agentId),
        load: (command) => Effect.map(agents.get(command.agentId), (row) => row.status),
        decide: (command, status) => Either.right(command.decide(status)),
        emits: [...AGENT_EVENTS, MODEL_ANSWERED],
        answer: answerWith(() => undefined)
      })
      // no idempotency key reaches an agent's transitions (see `correlated`)
      const transition = (command: Transition, context: CommandContext) =>
        Effect.catchTag(transitioned(command, context), "InvalidCommand", (e) => Effect.die(e))

      /** The agent's own progress, appended while it is live. */
      const progress = (agentId: string, drafts: ReadonlyArray<EventDraft>, context: CommandContext) =>
        transition({ agentId, decide: (status) => (isLive(status) ? drafts : []) }, context)

      // Start-up: agents the view shows live have no fiber in this process — the last one stopped
      // under them. Nothing starts an agent before the start-up sequence has run this.
      const recover = Effect.gen(function*() {
        const stale = yield* query("live agents", (sql) =>
          sql<Pick<AgentRow, "id" | "status">>`SELECT id, status FROM agents WHERE status IN ${sql.in(LIVE)} ORDER BY seq`).pipe(withServices)
        for (const row of stale) {
          yield* transition({ agentId: row.id, decide: (status) => decideFail(row.id, status, "interrupted by a restart") }, { actor: SUPERVISOR_ACTOR }).pipe(
            Effect.catchTag("EntityNotFound", (e) => Effect.die(e))
          )
        }
        return stale.length === 0 ? "no agent was cut off" : `${stale.length} agent(s) cut off by the last stop failed: ${stale.map((r) => r.id).join(", ")}`
      })

      /** The loop of one agent; the stream holds its agent_created when it begins. */
      const loop = (agentId: string, input: AgentRunInput, context: CommandContext) =>
        Effect.gen(function*() {
          const append = (drafts: ReadonlyArray<EventDraft>) => progress(agentId, drafts, context)
          const emit = (event: AgentLoopEvent) => (input.onEvent === undefined ? Effect.void : input.onEvent(event))

          yield* append([draft<AgentStarted>(AGENT_STARTED, { agent_id: agentId })])
          // the supervisor, not the agent, grants an agent its permissions
          yield* permissions.ensureDefaults(agentId, { ...context, actor: SUPERVISOR_ACTOR })

          const messages: Array<ChatMessage> = [
            ...(input.system_prompt === undefined || input.system_prompt === "" ? [] : [{ role: "system" as const, content: input.system_prompt }]),
            ...(input.history ?? []),
            { role: "user", content: input.goal }
          ]
          const maxSteps = Math.max(1, input.max_steps ?? DEFAULT_MAX_STEPS)
          const usage = { prompt_tokens: 0, completion_tokens: 0 }
          let text = ""
          for (let step = 1; step <= maxSteps; step++) {
            const tools = yield* registry.specs
            yield* beforeEgress(store)
            const request = { messages: [...messages], tools }
            const completion = yield* collect(
              model.stream(request).pipe(
                Stream.tap((chunk) =>
                  chunk._tag === "Token" ? emit({ _tag: "Token", text: chunk.text }) : chunk._tag === "ToolCall" ? emit({ _tag: "ToolCall", call: chunk.call }) : Effect.void
                )
              )
            )
            // the answer is on the record before anything uses it; then the real usage, as the
            // model reported it, is charged before anything else happens
            yield* append([draft<ModelAnswered>(MODEL_ANSWERED, modelAnswered(request, completion, { agent_id: agentId, step }))])
            yield* gate.chargeUsage(agentId, completion.usage, context)
            usage.prompt_tokens += completion.usage.prompt_tokens
            usage.completion_tokens += completion.usage.completion_tokens
            yield* append([draft<AgentOutput>(AGENT_OUTPUT, {
              agent_id: agentId,
              step,
              tokens: completion.usage.prompt_tokens + completion.usage.completion_tokens,
              tool_call_count: completion.toolCalls.length,
              text: completion.text
            })])
            yield* emit({ _tag: "Step", step, usage: completion.usage })
            text = completion.text
            if (completion.toolCalls.length === 0) {
              return { agent_id: agentId, text, steps: step, reason: "completed", usage: { ...usage } } satisfies AgentRunResult
            }
            messages.push({ role: "assistant", content: completion.text, tool_calls: completion.toolCalls })
            for (const call of completion.toolCalls) {
              const result = yield* gate.call(agentId, call, context)
              yield* emit({ _tag: "ToolResult", result })
              messages.push({ role: "tool", content: result.is_error ? `error: ${result.content}` : result.content, tool_call_id: call.id })
            }
          }
          return { agent_id: agentId, text, steps: maxSteps, reason: "max_steps", usage: { ...usage } } satisfies AgentRunResult
        })

      /** The agent's fiber: the loop, then its end on the record and for whoever waits. */
      const body = (
        agentId: string,
        input: AgentRunInput,
        context: CommandContext,
        done: Deferred.Deferred<AgentRunResult, AgentRunFailed | AgentKilled>
      ) => {
        const stop = (result: AgentRunResult) =>
          Effect.as(transition({ agentId, decide: (status) => decideStop(agentId, status, result.reason) }, context), result)
        const stopped = (exit: Exit.Exit<AgentRunResult, LoopError>): Effect.Effect<Exit.Exit<AgentRunResult, LoopError>> =>
          Exit.isSuccess(exit) ? Effect.exit(stop(exit.value)) : Effect.succeed(exit)
        return Effect.exit(loop(agentId, input, context)).pipe(
          Effect.flatMap((exit) =>
            Effect.flatMap(stopped(exit), (ended) => end(agentId, context, done, ended)).pipe(
              Effect.catchAll((e) =>
                Effect.zipRight(
                  Effect.logError(`could not record the end of agent ${agentId}`, e),
                  Deferred.fail(done, new AgentRunFailed({ agent_id: agentId, message: e.message }))
                )
              ),
              // the end is written whole or not at all; a kill meanwhile waits for it
              Effect.uninterruptible
            )
          ),
          // a kill records the stop after this fiber ends
          Effect.onInterrupt(() => Deferred.fail(done, new AgentKilled({ agent_id: agentId })))
        )
      }

      /**
       * Hands the outcome to whoever waits: a stopped loop's stop is on the record already; a
       * failure is recorded against the agent's state as the log has it now.
       */
      const end = (
        agentId: string,
        context: CommandContext,
        done: Deferred.Deferred<AgentRunResult, AgentRunFailed | AgentKilled>,
        exit: Exit.Exit<AgentRunResult, LoopError>
      ) => {
        if (Exit.isSuccess(exit)) return Deferred.succeed(done, exit.value)
        if (Cause.isInterruptedOnly(exit.cause)) return Deferred.fail(done, new AgentKilled({ agent_id: agentId }))
        const failure = Cause.failureOption(exit.cause)
        const message = Option.match(failure, { onNone: () => Cause.pretty(exit.cause), onSome: (e) => e.message })
        const model = Option.exists(failure, (e) => e._tag === "ModelError" || e._tag === "ModelUnavailable")
        return transition({ agentId, decide: (status) => decideFail(agentId, status, message) }, context).pipe(
          Effect.zipRight(Deferred.fail(done, new AgentRunFailed({ agent_id: agentId, message, model })))
        )
      }

      const start = (input: AgentRunInput, context: CommandContext) =>
        Effect.gen(function*() {
          const agentId = input.agent_id ?? (yield* ids.next)
          yield* create({ ...input, agent_id: agentId }, correlated(context, context.actor))
          const done = yield* Deferred.make<AgentRunResult, AgentRunFailed | AgentKilled>()
          yield* FiberMap.run(fibers, agentId, body(agentId, input, correlated(context, `agent:${agentId}`), done))
          return { agent_id: agentId, result: Deferred.await(done) } satisfies AgentHandle
        })

      const kill = (agentId: string, context: CommandContext) =>
        Effect.gen(function*() {
          // an agent running here is stopped first
          const running = yield* FiberMap.has(fibers, agentId)
          if (!running) yield* agents.get(agentId)
          // interrupting waits for the fiber to end, so its own last events are written first
          yield* FiberMap.remove(fibers, agentId)
          yield* transition({ agentId, decide: (status) => decideStop(agentId, status, "killed") }, correlated(context, context.actor))
        })

      return Supervisor.of({
        start,
        run: (input, context) => Effect.flatMap(start(input, context), (h) => h.result),
        kill,
        running: Effect.sync(() => [...fibers].map(([id]) => id)),
        recover
      })
    })
  )

  /**
   * The scheduler's runner backed by the supervisor: each admitted task is an agent whose goal is
   * the task's. With no model configured, tasks wait in the queue (`unavailable` says how to
   * configure one) rather than fail: nothing is lost, and they run once a model is there.
   */
  static readonly taskRunner = Layer.effect(
    TaskRunner,
    Effect.gen(function*() {
      const services = yield* Effect.context<SqlClient.SqlClient>()
      const supervisor = yield* Supervisor
      const model = yield* LanguageModel
      const context: CommandContext = { actor: SCHEDULER_ACTOR }
      // The scheduler interrupts a run when the task is cancelled (recorded first) or when the
      // server stops. Only a cancellation kills the agent; on a stop the agent is left to the
      // next start, which fails it as cut off by the restart, like the task.
      const cancelled = (taskId: string) =>
        query("a task's status", (sql) => sql<{ status: string }>`SELECT status FROM scheduler_tasks WHERE id = ${taskId}`).pipe(
          Effect.map((rows) => rows[0]?.status === "Cancelled"),
          Effect.orElseSucceed(() => false),
          Effect.provide(services)
        )
      return TaskRunner.of({
        name: "agent-supervisor",
        unavailable: Effect.succeed(model.info === undefined ? model.problem ?? NOT_CONFIGURED : undefined),
        run: (task) =>
          Effect.gen(function*() {
            const handle = yield* supervisor.start({ name: taskName(task.description, task.id), goal: taskGoal(task), task_id: task.id }, context)
            const result = yield* handle.result.pipe(
              Effect.onInterrupt(() =>
                Effect.flatMap(cancelled(task.id), (yes) => (yes ? Effect.ignore(supervisor.kill(handle.agent_id, context)) : Effect.void))
              )
            )
            return { summary: result.text }
          }).pipe(Effect.mapError((e) => new TaskRunFailed({ message: e.message })))
      })
    })
  )
}

const taskName = (description: string, id: string) => {
  const name = description.trim().split("\n")[0]!.slice(0, 200)
  return name === "" ? `task ${id}` : name
}

/** The task as the agent's goal: the goal, then its constraints and acceptance criteria. */
export const taskGoal = (task: { readonly goal: string; readonly constraints: ReadonlyArray<string>; readonly acceptance_criteria: ReadonlyArray<string> }) =>
  [
    task.goal,
    ...(task.constraints.length === 0 ? [] : ["", "Constraints:", ...task.constraints.map((c) => `- ${c}`)]),
    ...(task.acceptance_criteria.length === 0 ? [] : ["", "Acceptance criteria:", ...task.acceptance_criteria.map((c) => `- ${c}`)])
  ].join("\n")
