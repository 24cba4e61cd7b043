/**
 * The kernel's composition: every bounded context's projection and service over one event
 * store. The gateway provides this once. To add a context: its projection to `projections`, its
 * service layer to the tier whose services it needs, and its `recover` step, if it repairs
 * anything after a stop, to `Startup.ts`.
 */
import { type EventStore, EventStoreSqlite, IdGenerator, PastViewsSqlite, VectorIndexHnsw } from "@annal/store"
import { Effect, Layer } from "effect"
import { Access } from "./access/Access.js"
import { Agents } from "./agents/Agents.js"
import { agentTaskRunner } from "./agents/agentTasks.js"
import { agentsProjection } from "./agents/projection.js"
import { Supervisor } from "./agents/Supervisor.js"
import { accessProjection } from "./access/projection.js"
import { Approvals } from "./approvals/Approvals.js"
import { approvalsProjection } from "./approvals/projection.js"
import { Audit } from "./audit/Audit.js"
import { Budgets } from "./budgets/Budgets.js"
import { budgetsProjection } from "./budgets/projection.js"
import { EventBus } from "./bus/EventBus.js"
import { configProjection } from "./config/projection.js"
import { Cron } from "./cron/Cron.js"
import { cronProjection } from "./cron/projection.js"
import { toolCallsProjection } from "./gate/projection.js"
import { ToolExecution } from "./gate/ToolExecution.js"
import { ToolGate } from "./gate/ToolGate.js"
import { GitRepository } from "./git/GitRepository.js"
import { workspaceProjection } from "./workspace/projection.js"
import { Workspace } from "./workspace/Workspace.js"
import { DataDir } from "./shared/DataDir.js"
import { Configuration } from "./config/Configuration.js"
import { HostTools } from "./hosttools/HostTools.js"
import { LanguageModel } from "./llm/LanguageModel.js"
import * as Transparency from "./log/TransparencyLog.js"
import { Memory } from "./memory/Memory.js"
import { Orchestrator } from "./orchestrator/Orchestrator.js"
import { SkillOffer } from "./orchestrator/SkillOffer.js"
import { WorkspaceCheck } from "./orchestrator/WorkspaceCheck.js"
import { memoryProjection } from "./memory/projection.js"
import { chatRunsProjection } from "./orchestrator/projection.js"
import { Permissions } from "./permissions/Permissions.js"
import { permissionsProjection } from "./permissions/projection.js"
import * as Projection from "./projection/Projection.js"
import { Programs } from "./programs/Programs.js"
import { programsProjection } from "./programs/projection.js"
import { ResourceSampler } from "./resources/ResourceSampler.js"
import { schedulerProjection } from "./scheduler/projection.js"
import { Scheduler } from "./scheduler/Scheduler.js"
import type { TaskRunner } from "./scheduler/TaskRunner.js"
import { AgentGroups } from "./groups/AgentGroups.js"
import { agentGroupsProjection } from "./groups/projection.js"
import { Personas } from "./personas/Personas.js"
import { personasProjection } from "./personas/projection.js"
import { seedsProjection } from "./seeds/projection.js"
import { Seeds } from "./seeds/Seeds.js"
import { Sessions } from "./sessions/Sessions.js"
import { sessionsProjection } from "./sessions/projection.js"
import { skillsProjection } from "./skills/projection.js"
import { Skills } from "./skills/Skills.js"
import * as Startup from "./Startup.js"
import { ToolOffer } from "./tools/ToolOffer.js"
import { ToolRegistry } from "./tools/ToolRegistry.js"

/** Every projection of every bounded context; `annal rebuild` replays exactly these. */
export const projections: ReadonlyArray<Projection.Projection> = [
  configProjection,
  accessProjection,
  permissionsProjection,
  budgetsProjection,
  approvalsProjection,
  workspaceProjection,
  schedulerProjection,
  cronProjection,
  seedsProjection,
  skillsProjection,
  personasProjection,
  sessionsProjection,
  agentGroupsProjection,
  memoryProjection,
  toolCallsProjection,
  agentsProjection,
  chatRunsProjection,
  programsProjection
]

/** The store's Projector over every projection. */
export const projector = Projection.projector(projections)

/**
 * The event store with the kernel's projections inline, and the IdGenerator it and every service
 * make ids with (default: UUID v7 with the process's randomness; a seeded one replays ids).
 */
export const storeLayer = (config: EventStoreSqlite.EventStoreSqliteConfig, ids: Layer.Layer<IdGenerator> = IdGenerator.layer) =>
  EventStoreSqlite.layer(config).pipe(Layer.provideMerge(projector), Layer.provideMerge(ids))

export interface KernelOptions {
  readonly store: EventStoreSqlite.EventStoreSqliteConfig
  /** `<data-dir>`: where contexts keep files (workspace, skills, memory index). */
  readonly dataDir: string
  readonly resourceSampleIntervalSecs?: number | undefined
  readonly resourceHistorySize?: number | undefined
  /**
   * Runs the tasks the scheduler admits; default the supervisor's runner (`agentTaskRunner`, agents/agentTasks.ts):
   * tasks run as agents when a model is configured and wait in the queue when none is.
   */
  readonly taskRunner?: Layer.Layer<TaskRunner> | undefined
  /** The language model agents use (built over the configuration); default `LanguageModel.none`. */
  readonly languageModel?: Layer.Layer<LanguageModel, never, Configuration> | undefined
  /** How a call that passed the gate is carried out; default the tool runs (`ToolExecution.live`), a replay takes the record's outcome. */
  readonly toolExecution?: Layer.Layer<ToolExecution, never, EventStore> | undefined
  /** The tools an agent is offered; default the registry's as it starts (`ToolOffer.live`), a replay the recorded agent's. */
  readonly toolOffer?: Layer.Layer<ToolOffer, never, ToolRegistry> | undefined
  /** What the evaluation reads of the workspace; default the files (`WorkspaceCheck.live`), a replay the record's `workspace_checked`. */
  readonly workspaceCheck?: Layer.Layer<WorkspaceCheck, never, Workspace> | undefined
  /** Which programs' skills an agent is briefed with; default the programs offered now (`SkillOffer.live`), a replay the record's `skills_offered`. */
  readonly skillOffer?: Layer.Layer<SkillOffer, never, Programs> | undefined
  /** Where ids come from; default UUID v7 with the process's randomness (`IdGenerator.layer`). */
  readonly ids?: Layer.Layer<IdGenerator> | undefined
  /** The log's checkpoints: witness directory, signing key, accepting a refused log. */
  readonly log?: Transparency.TransparencyOptions | undefined
  /** Snapshots of the views for `?at_seq`: one every this many events (default 50,000; 0: none). */
  readonly viewSnapshotEvery?: number | undefined
}

/** Past views (`?at_seq`) over the store, their files under `<data-dir>/past-views`. */
const pastViewsLayer = (options: KernelOptions) =>
  Layer.unwrapEffect(Effect.map(DataDir, (paths) => PastViewsSqlite.layer({ directory: paths.pastViews, snapshotEvery: options.viewSnapshotEvery, warmEvery: "1 minute" })))

/** The kernel's services, over the store. */
export const layer = (options: KernelOptions) => {
  const store = Layer.merge(storeLayer(options.store, options.ids), DataDir.layer(options.dataDir))
  // the log is checked against its last signed checkpoint before anything else reads or appends
  const checked = Transparency.layer(options.log).pipe(Layer.provideMerge(Configuration.layer), Layer.provideMerge(store))
  // tier 1: services that need only the store
  const tier1 = Layer.mergeAll(
    Access.layer,
    Audit.layer,
    Budgets.layer,
    GitRepository.layer,
    Seeds.layer,
    Skills.layer,
    Personas.layer,
    Sessions.layer,
    AgentGroups.layer,
    Agents.layer,
    pastViewsLayer(options)
  ).pipe(Layer.provideMerge(checked))
  // tier 2: services that need tier 1 (configuration, access decisions)
  const tier2 = Layer.mergeAll(
    EventBus.layer,
    Permissions.layer,
    Approvals.layer,
    Workspace.layer,
    Memory.layer.pipe(Layer.provide(VectorIndexHnsw.layer)),
    options.languageModel ?? LanguageModel.none
  ).pipe(Layer.provideMerge(tier1))
  // tier 3: services that need tier 2 (the workspace and memory the tools use)
  const tier3 = Layer.mergeAll(
    ToolRegistry.layer
  ).pipe(Layer.provideMerge(tier2))
  // tier 4: the gate, over the tools and the permissions, budgets and approvals it consults;
  // the programs record, which checks a program's required tools against the registry
  const tier4 = Layer.mergeAll(
    ToolGate.layer.pipe(Layer.provide(options.toolExecution ?? ToolExecution.live)),
    Programs.layer
  ).pipe(Layer.provideMerge(tier3))
  // tier 5: the supervisor, over the gate, the model and the tools agents are offered
  const tier5 = Supervisor.layer.pipe(Layer.provide(options.toolOffer ?? ToolOffer.live), Layer.provideMerge(tier4))
  // tier 6: the scheduler, whose default runner is the supervisor (so it comes after the gate)
  const tier6 = Scheduler.layer.pipe(Layer.provide(options.taskRunner ?? agentTaskRunner), Layer.provideMerge(tier5))
  // tier 7: cron, which submits to the scheduler
  const tier7 = Cron.layer.pipe(Layer.provideMerge(tier6))
  // tier 8: the orchestrator (chat), over the supervisor, seeds, sessions, personas and memory
  const tier8 = Orchestrator.layer.pipe(
    Layer.provide(Layer.merge(options.workspaceCheck ?? WorkspaceCheck.live, options.skillOffer ?? SkillOffer.live)),
    Layer.provideMerge(tier7)
  )
  // then the start-up sequence, over every service: each context's repair after a stop, in order
  const started = Startup.layer.pipe(Layer.provideMerge(tier8))
  // the sampler measures every resources.sample_interval_secs and keeps resources.history_size
  // samples, as configured when the kernel starts (the options win, for tests)
  const sampler = Layer.unwrapEffect(
    Effect.map(Effect.flatMap(Configuration, (config) => config.current), ({ resources }) =>
      ResourceSampler.layer({
        interval: `${options.resourceSampleIntervalSecs ?? resources.sample_interval_secs} seconds`,
        historySize: options.resourceHistorySize ?? resources.history_size
      }))
  )
  return Layer.mergeAll(
    sampler.pipe(Layer.provideMerge(started)),
    HostTools.layer()
  )
}
