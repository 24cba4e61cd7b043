/**
 * The start-up sequence. Building the services repairs nothing; once they are all built, and
 * before the gateway serves a request, each context that repairs what a crash or stop left behind
 * runs its `recover` step here, in this order, and the log says what each did:
 *
 *   1. workspace  — the repository reconciled with the log (agents and the API write files)
 *   2. skills     — skill files the view names but the disk lost, written again
 *   3. agents     — agents the view shows live, with no fiber left, failed
 *   4. scheduler  — running tasks failed as interrupted, orphaned chat tasks cancelled; only then
 *                   does the scheduler admit tasks (so nothing starts an agent before step 3)
 *   5. chat runs  — runs the stop cut off resumed from their seed or failed (they submit to the
 *                   scheduler and start agents, so they come last)
 *
 * A step that fails fails the start, as a failed service would; the workspace's step reports a
 * broken repository instead (POST /api/git/verify says what is wrong).
 */
import { Effect, Layer } from "effect"
import { Supervisor } from "./agents/Supervisor.js"
import { Orchestrator } from "./orchestrator/Orchestrator.js"
import { Scheduler } from "./scheduler/Scheduler.js"
import { Skills } from "./skills/Skills.js"
import { Workspace } from "./workspace/Workspace.js"

const STEPS = 5

/** One step: run it, log what it did. */
const step = <E>(index: number, name: string, run: Effect.Effect<string, E>) =>
  Effect.tap(run, (did) => Effect.logInfo(`start-up ${index}/${STEPS} ${name}: ${did}`)).pipe(Effect.map((did) => ({ step: name, did })))

/** Runs the steps in order, logging each one's result; returns what each did. */
export const recover = Effect.gen(function*() {
  const workspace = yield* Workspace
  const skills = yield* Skills
  const supervisor = yield* Supervisor
  const scheduler = yield* Scheduler
  const orchestrator = yield* Orchestrator
  return [
    yield* step(1, "workspace", workspace.recover),
    yield* step(2, "skills", skills.recover),
    yield* step(3, "agents", supervisor.recover),
    yield* step(4, "scheduler", scheduler.recover),
    yield* step(5, "chat runs", orchestrator.recover)
  ]
})

/** The sequence as a layer, built after every service and before anything that serves. */
export const layer = Layer.effectDiscard(recover)
