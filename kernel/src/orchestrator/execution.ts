/**
 * The execute phase: the seed's work done by agents, each one a scheduler task (admitted by
 * priority, concurrency and rate like every task) run by the supervisor. A seed with
 * `GROUP_THRESHOLD` (3) or more acceptance criteria is split into an agent group whose members
 * run in parallel, one part of the criteria each; the group fails only when every member does.
 */
import { IdGenerator } from "@annal/store"
import { Effect, Either, PubSub } from "effect"
import { type AgentRunResult, Supervisor } from "../agents/Supervisor.js"
import { Configuration } from "../config/Configuration.js"
import { AgentGroups } from "../groups/AgentGroups.js"
import { Scheduler } from "../scheduler/Scheduler.js"
import { type SeedSpec, splitCriteria } from "./decide.js"
import { GroupFailed, type LiveToken } from "./chat.js"
import { groupAnswer, memberTaskOf, taskOf } from "./prompts.js"
import type { Brief } from "./machine.js"
import { errorMessage, type RunContext } from "./runSteps.js"

/** Chat runs are interactive: the scheduler admits them before background work of normal priority. */
const CHAT_PRIORITY = "High" as const


/**
 * The execute phase over the kernel's scheduler, supervisor and groups, publishing the agents'
 * tokens to `live`; `stoppedOnPurpose(runId)` says whether a run's agents go down with it.
 */
export const makeExecution = (live: PubSub.PubSub<LiveToken>, stoppedOnPurpose: (runId: string) => boolean) =>
  Effect.gen(function*() {
    const ids = yield* IdGenerator
    const supervisor = yield* Supervisor
    const scheduler = yield* Scheduler
    const groups = yield* AgentGroups
    const configuration = yield* Configuration

    /** One agent, admitted by the scheduler, working on `goal`. */
    const agent = (
      run: RunContext,
      input: {
        readonly agentId: string
        readonly name: string
        readonly goal: string
        readonly seedId: string
        readonly systemPrompt: string | undefined
        readonly spec: SeedSpec
      }
    ) =>
      Effect.gen(function*() {
        const agentId = input.agentId
        return yield* scheduler.runTask(
          {
            description: input.name,
            goal: input.goal,
            constraints: input.spec.constraints,
            acceptance_criteria: input.spec.acceptance_criteria,
            priority: CHAT_PRIORITY,
            source: { kind: "session", id: run.sessionId }
          },
          (task) =>
            Effect.flatMap(
              supervisor.start({
                name: input.name,
                goal: input.goal,
                agent_id: agentId,
                seed_id: input.seedId,
                task_id: task.id,
                session_id: run.sessionId,
                system_prompt: input.systemPrompt,
                history: run.history,
                onEvent: (event) =>
                  event._tag === "Token"
                    ? Effect.asVoid(PubSub.publish(live, { run_id: run.runId, session_id: run.sessionId, phase: "execute", agent_id: agentId, text: event.text }))
                    : Effect.void
              }, run.ctx),
              // a run stopped on purpose takes its agents with it; on a server stop they are left to the next start
              (handle) => handle.result.pipe(Effect.onInterrupt(() => (stoppedOnPurpose(run.runId) ? Effect.ignore(supervisor.kill(handle.agent_id, run.ctx)) : Effect.void)))
            ),
          (result: AgentRunResult) => result.text,
          run.ctx
        )
      })

    /** The execute phase's work: one agent, or a group of agents for a seed with many criteria; the answer the evaluation reads. */
    const execute = (run: RunContext, spec: SeedSpec, seedId: string, brief: Brief) =>
      Effect.gen(function*() {
        const { systemPrompt, memories } = brief
        const { max_group_size } = (yield* configuration.current).orchestrator
        const parts = splitCriteria(spec.acceptance_criteria, max_group_size)
        const name = `chat-${run.sessionId}`
        if (parts === undefined) {
          return (yield* agent(run, { agentId: yield* ids.next, name, goal: taskOf(spec, memories), seedId, systemPrompt, spec })).text
        }
        const agentIds = yield* Effect.replicateEffect(ids.next, parts.length)
        const group = yield* groups.create({ name: `${name}-seed-${seedId}`, agent_ids: agentIds }, run.ctx)
        const results = yield* Effect.forEach(parts, (part, i) =>
          agent(run, { agentId: agentIds[i]!, name: `${name}-part-${i + 1}`, goal: memberTaskOf(spec, part, i + 1, parts.length, memories), seedId, systemPrompt, spec }).pipe(
            Effect.either,
            Effect.tap((r) =>
              groups.memberCompleted(group.id, agentIds[i]!, Either.match(r, {
                onLeft: (e) => ({ success: false, result: errorMessage(e) }),
                onRight: (a) => ({ success: true, result: a.text })
              }), run.ctx)
            ),
            Effect.map((r) => ({ criteria: part, text: Either.match(r, { onLeft: (e) => `(failed: ${errorMessage(e)})`, onRight: (a) => a.text }), ok: Either.isRight(r) }))
          ), { concurrency: "unbounded" })
        if (!results.some((r) => r.ok)) {
          return yield* new GroupFailed({ group_id: group.id, message: `every agent of group ${group.id} failed: ${results.map((r) => r.text).join("; ")}` })
        }
        return groupAnswer(results)
      })

    return { execute }
  })
