/**
 * The supervisor: forks agents and runs their tool-calling loop (`agentLoop.ts`). Each agent is a
 * fiber (kept in a map so `kill` can interrupt it — and with it the model request and any running
 * tool, whose process group the gate's exec kills on interruption). Every transition is an event
 * on `agent-<id>`; agents a crash left live are failed explicitly on the next start. The
 * scheduler's runner that makes each task an agent is `agentTasks.ts`.
 */
import { type EventDraft, EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import type { SqlClient } from "@effect/sql"
import { Cause, Context, Data, Deferred, Effect, Either, Exit, FiberMap, Layer, Option, Schema } from "effect"
import { MODEL_ANSWERED, MODEL_FAILED } from "../llm/events.js"
import { type CommandContext, query } from "../shared/Command.js"
import { answerWith, commandHandler } from "../shared/CommandHandler.js"
import type { ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { type AgentRunInput, type AgentRunResult, type LoopError, makeAgentLoop, SUPERVISOR_ACTOR } from "./agentLoop.js"
import { Agents } from "./Agents.js"
import { type AgentStatus, decideCreate, decideFail, decideStop, isLive, LIVE } from "./decide.js"
import { AGENT_CREATED, AGENT_EVENTS, agentStream } from "./events.js"
import { AgentRow } from "./projection.js"

export { type AgentLoopEvent, type AgentRunInput, type AgentRunResult, DEFAULT_MAX_STEPS, SUPERVISOR_ACTOR } from "./agentLoop.js"

/** The agent's run failed (`message` is what `agent_failed` recorded); `model` when its language model did (unreachable, an error status, a broken stream). */
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
      const agents = yield* Agents
      const fibers = yield* FiberMap.make<string>()
      const withServices = Effect.provide(services)
      const handle = commandHandler(yield* EventStore)

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
        emits: [...AGENT_EVENTS, MODEL_ANSWERED, MODEL_FAILED],
        answer: answerWith(() => undefined)
      })
      // no idempotency key reaches an agent's transitions (see `correlated`)
      const transition = (command: Transition, context: CommandContext) =>
        Effect.catchTag(transitioned(command, context), "InvalidCommand", (e) => Effect.die(e))

      /** The agent's own progress, appended while it is live. */
      const progress = (agentId: string, drafts: ReadonlyArray<EventDraft>, context: CommandContext) =>
        transition({ agentId, decide: (status) => (isLive(status) ? drafts : []) }, context)
      const loop = yield* makeAgentLoop(progress)

      // Start-up: agents the view shows live have no fiber in this process — the last one stopped
      // under them. Nothing starts an agent before the start-up sequence has run this.
      const recover = Effect.gen(function*() {
        const stale = yield* query("agents", AgentRow.pipe(Schema.pick("id", "status")), (sql) =>
          sql`SELECT id, status FROM agents WHERE status IN ${sql.in(LIVE)} ORDER BY seq`).pipe(withServices)
        for (const row of stale) {
          yield* transition({ agentId: row.id, decide: (status) => decideFail(row.id, status, "interrupted by a restart") }, { actor: SUPERVISOR_ACTOR }).pipe(
            Effect.catchTag("EntityNotFound", (e) => Effect.die(e))
          )
        }
        return stale.length === 0 ? "no agent was cut off" : `${stale.length} agent(s) cut off by the last stop failed: ${stale.map((r) => r.id).join(", ")}`
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
}
