/**
 * What each state of a run does (`machine.ts` decides which comes next): the interview, the
 * respond phase, the seed made or reloaded, the agents' brief prepared, the work executed,
 * evaluated and evolved — each a phase on the record except preparing and reloading. `drive`
 * runs a run from a state to its reply.
 */
import type { AnnalConfig } from "@annal/spec"
import { Effect, Option } from "effect"
import { Configuration } from "../config/Configuration.js"
import type { Structured } from "../llm/StructuredOutput.js"
import { Memory } from "../memory/Memory.js"
import { Personas } from "../personas/Personas.js"
import { withSkills } from "../programs/Programs.js"
import { Seeds } from "../seeds/Seeds.js"
import { FORMATS } from "./answers.js"
import type { ChatError, ChatReply } from "./chat.js"
import {
  decideAfterInterview,
  mechanicalEvaluation,
  type ModelEvaluation,
  namedPaths,
  parseEvaluation,
  parseInterview,
  parseRefinement,
  parseSeedSpec,
  seedFallback,
  type SeedSpec
} from "./decide.js"
import type { makeExecution } from "./execution.js"
import { next, type Outcome, type Outcomes, type RunState, type Working } from "./machine.js"
import {
  conversation,
  EVALUATE_PROMPT,
  evaluationRequest,
  EVOLVE_PROMPT,
  INTERVIEW_PROMPT,
  refinementRequest,
  SEED_PROMPT,
  WORK_INTERVIEW_PROMPT
} from "./prompts.js"
import { SKILLS_OFFERED, type SkillsOffered, WORKSPACE_CHECKED, type WorkspaceChecked } from "./events.js"
import { draft } from "../shared/Command.js"
import { answerDetail, type RunContext, type RunSteps } from "./runSteps.js"
import { SkillOffer } from "./SkillOffer.js"
import { WorkspaceCheck } from "./WorkspaceCheck.js"

type Work = { readonly [T in Working["_tag"]]: (state: Extract<Working, { _tag: T }>) => Effect.Effect<Outcomes[T], ChatError> }

/** The phases over the kernel's services, with the run's `steps` and the seed's `execution`. */
export const makePhases = (steps: RunSteps, execution: Effect.Effect.Success<ReturnType<typeof makeExecution>>) =>
  Effect.gen(function*() {
    const configuration = yield* Configuration
    const seeds = yield* Seeds
    const personas = yield* Personas
    const memory = yield* Memory
    const skillOffer = yield* SkillOffer
    const check = yield* WorkspaceCheck
    const { ask, phase } = steps

    /** Each state's work for one run, under the settings it started with. */
    const workOf = (run: RunContext, settings: AnnalConfig["orchestrator"]): Work => ({
      Interview: () => {
        const direct = settings.direct_answers
        return Effect.map(
          phase(
            run,
            "interview",
            Effect.map(
              ask(
                run,
                "interview",
                conversation(direct ? INTERVIEW_PROMPT : WORK_INTERVIEW_PROMPT, run.history, run.content),
                direct ? FORMATS.directInterview : FORMATS.interview,
                parseInterview,
                "let_through",
                direct
              ),
              (answer) => ({
                answer,
                // an unreadable interview lets the request through: it is clear enough to try
                decision: answer._tag === "Read" ? decideAfterInterview(answer.value, settings.ambiguity_threshold, direct) : { _tag: "Proceed" as const }
              })
            ),
            {
              detailOf: ({ answer, decision }) => ({
                outcome: decision._tag === "Respond" ? "respond" : decision._tag === "Ask" ? "questions" : "proceed",
                ...answerDetail(answer, "let_through")
              })
            }
          ),
          ({ decision }) => ({ _tag: "Interviewed", decision })
        )
      },
      Answer: () => Effect.as(phase(run, "respond", Effect.void), { _tag: "Answered" }),
      Seed: () =>
        Effect.map(
          phase(
            run,
            "seed",
            Effect.gen(function*() {
              const answer = yield* ask(run, "seed", conversation(SEED_PROMPT, run.history, run.content), FORMATS.seed, parseSeedSpec, "message_as_goal")
              const spec = answer._tag === "Read" ? answer.value : seedFallback(run.content)
              return { spec, answer, seed: yield* seeds.create({ ...spec }, run.ctx) }
            }),
            { seedOf: (m) => m.seed.id, detailOf: (m) => answerDetail(m.answer, "message_as_goal") }
          ),
          ({ seed, spec }) => ({ _tag: "Seeded", seed: { id: seed.id, generation: seed.generation, spec } })
        ),
      Reload: ({ seed_id }) =>
        Effect.gen(function*() {
          const view = yield* seeds.get(seed_id)
          if (!("goal" in view)) return yield* Effect.dieMessage(`seed ${seed_id} of chat run ${run.runId} is not a structured seed`)
          const spec: SeedSpec = { goal: view.goal, constraints: view.constraints, acceptance_criteria: view.acceptance_criteria, ontology: view.ontology }
          return { _tag: "Seeded", seed: { id: view.id, generation: view.generation, spec } }
        }),
      Prepare: ({ seed }) =>
        Effect.gen(function*() {
          const persona = yield* personas.active
          const systemPrompt = Option.match(persona, { onNone: () => undefined, onSome: (p) => p.system_prompt })
          const memories = yield* memory.semantic({ query: seed.spec.goal, limit: 3 }, run.ctx).pipe(
            Effect.map((r) => r.entries.map((e) => e.content)),
            Effect.catchAll(() => Effect.succeed([] as Array<string>))
          )
          const skills = yield* skillOffer.skillsFor(run.runId, seed.generation, seed.spec.goal)
          // which programs' skills the agent gets is on the record before it is briefed
          if (skills.length > 0) {
            yield* steps.record(run, [draft<SkillsOffered>(SKILLS_OFFERED, { run_id: run.runId, generation: seed.generation, programs: skills.map((s) => s.program) })])
          }
          return { _tag: "Prepared", brief: { systemPrompt: withSkills(systemPrompt, skills), memories } }
        }),
      Execute: ({ brief, seed }) =>
        Effect.map(
          phase(run, "execute", execution.execute(run, seed.spec, seed.id, brief), { generation: seed.generation, seedOf: () => seed.id }),
          (answer) => ({ _tag: "Executed", answer })
        ),
      Evaluate: ({ answer, seed }) =>
        Effect.map(
          phase(
            run,
            "evaluate",
            Effect.gen(function*() {
              const criteria = seed.spec.acceptance_criteria
              const paths = namedPaths(criteria)
              const missing = paths.length === 0 ? [] : yield* check.missing(run.runId, paths)
              // what the workspace showed is on the record before it decides anything
              if (paths.length > 0) yield* steps.record(run, [draft<WorkspaceChecked>(WORKSPACE_CHECKED, { run_id: run.runId, paths, missing })])
              // a file the criteria name is missing: failed without asking the model
              const verdict: Structured<ModelEvaluation> | undefined = missing.length > 0 ? undefined : yield* ask(
                run,
                "evaluate",
                [
                  { role: "system", content: EVALUATE_PROMPT },
                  { role: "user", content: evaluationRequest(seed.spec, answer) }
                ],
                FORMATS.evaluation,
                parseEvaluation,
                "mechanical_result"
              )
              const judged: ModelEvaluation = verdict === undefined
                ? { score: 0, passed: false, summary: `missing: ${missing.join(", ")}` }
                : verdict._tag === "Read"
                ? verdict.value
                : mechanicalEvaluation(criteria)
              yield* seeds.recordEvaluation(seed.id, judged, run.ctx)
              return { judged, verdict }
            }),
            {
              generation: seed.generation,
              seedOf: () => seed.id,
              detailOf: (e) => (e.verdict === undefined ? {} : answerDetail(e.verdict, "mechanical_result"))
            }
          ),
          ({ judged }) => ({ _tag: "Evaluated", evaluation: judged })
        ),
      Evolve: ({ answer, evaluation, seed }) =>
        Effect.map(
          phase(
            run,
            "evolve",
            Effect.gen(function*() {
              const refinement = yield* ask(
                run,
                "evolve",
                [
                  { role: "system", content: EVOLVE_PROMPT },
                  { role: "user", content: refinementRequest(seed.spec, answer, evaluation) }
                ],
                FORMATS.refinement,
                parseRefinement,
                "stop_evolving"
              )
              if (refinement._tag === "Unreadable") return { refinement, child: undefined }
              const spec: SeedSpec = { ...seed.spec, goal: refinement.value }
              const child = yield* seeds.create({ ...spec, parent_seed_id: seed.id }, run.ctx)
              return { refinement, child: { id: child.id, generation: child.generation, spec } }
            }),
            { generation: seed.generation, seedOf: (r) => r.child?.id ?? seed.id, detailOf: (r) => answerDetail(r.refinement, "stop_evolving") }
          ),
          ({ child }) => ({ _tag: "Evolved", child })
        )
    })

    /** The run from `from` to its reply: each state's work, then `next`, until the reply is recorded. */
    const drive = (run: RunContext, from: Working): Effect.Effect<ChatReply, ChatError> =>
      Effect.gen(function*() {
        const settings = (yield* configuration.current).orchestrator
        const work = workOf(run, settings)
        let state: RunState = from
        while (state._tag !== "Reply") {
          const current: Working = state
          const outcome: Outcome = yield* (work[current._tag] as (state: Working) => Effect.Effect<Outcome, ChatError>)(current)
          state = next(current, outcome, settings.max_generations)
        }
        return yield* steps.respond(run, state.reply, state.reached, state.seed_id, state.passed)
      })

    return { drive }
  })
