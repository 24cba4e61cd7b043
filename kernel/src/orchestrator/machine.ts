/**
 * A chat run as a state machine: the run is in a state, the edge does what the state says
 * (`phases.ts`) and reports its outcome, and `next(state, outcome)` decides the next state —
 * pure, so the whole course of a run is tested without a model, a store or a fiber.
 *
 *   Interview ─ no work, answered ─→ Answer ─→ Reply (respond)
 *             ─ too ambiguous ─────────────→ Reply (interview: the questions)
 *             ─ clear enough ─→ Seed ─→ Prepare ─→ Execute ─→ Evaluate ─ passed, or last generation ─→ Reply (evaluate)
 *   Reload (resumed from its seed) ─↗                 ↑          └─→ Evolve ─ unreadable refinement ─→ Reply (evolve)
 *                                                     └──── a child seed ──────┘
 */
import type { ModelEvaluation, SeedSpec } from "./decide.js"
import { questionsReply, shouldEvolve } from "./decide.js"
import type { Phase } from "./events.js"

/** The seed a run works on. */
export interface SeedAt {
  readonly id: string
  readonly generation: number
  readonly spec: SeedSpec
}

/** What the agents of a seed are given besides their task: the persona's prompt (with skills) and recalled memories. */
export interface Brief {
  readonly systemPrompt: string | undefined
  readonly memories: ReadonlyArray<string>
}

/** What the interview found: the message answered, questions to ask, or work to do (`decideAfterInterview`; an unreadable answer proceeds). */
export type InterviewVerdict =
  | { readonly _tag: "Respond"; readonly reply: string }
  | { readonly _tag: "Ask"; readonly questions: ReadonlyArray<string> }
  | { readonly _tag: "Proceed" }

/** Where a run is. Every state but `Reply` is one step of work; `Reply` ends the run with its answer. */
export type RunState =
  | { readonly _tag: "Interview" }
  | { readonly _tag: "Answer"; readonly reply: string }
  | { readonly _tag: "Seed" }
  | { readonly _tag: "Reload"; readonly seed_id: string }
  | { readonly _tag: "Prepare"; readonly seed: SeedAt }
  | { readonly _tag: "Execute"; readonly seed: SeedAt; readonly brief: Brief }
  | { readonly _tag: "Evaluate"; readonly seed: SeedAt; readonly brief: Brief; readonly answer: string }
  | { readonly _tag: "Evolve"; readonly seed: SeedAt; readonly brief: Brief; readonly answer: string; readonly evaluation: ModelEvaluation }
  | Reply

/** The run's end: the reply, the phase it reached, its seed and whether the work passed. */
export interface Reply {
  readonly _tag: "Reply"
  readonly reply: string
  readonly reached: Phase
  readonly seed_id: string | null
  readonly passed: boolean | null
}

/** A state with work to do. */
export type Working = Exclude<RunState, Reply>

/** What doing each state's work found. */
export interface Outcomes {
  readonly Interview: { readonly _tag: "Interviewed"; readonly decision: InterviewVerdict }
  readonly Answer: { readonly _tag: "Answered" }
  readonly Seed: { readonly _tag: "Seeded"; readonly seed: SeedAt }
  readonly Reload: { readonly _tag: "Seeded"; readonly seed: SeedAt }
  readonly Prepare: { readonly _tag: "Prepared"; readonly brief: Brief }
  readonly Execute: { readonly _tag: "Executed"; readonly answer: string }
  readonly Evaluate: { readonly _tag: "Evaluated"; readonly evaluation: ModelEvaluation }
  readonly Evolve: { readonly _tag: "Evolved"; readonly child: SeedAt | undefined }
}

/** The outcome of the work of state `S`. */
export type Outcome<S extends Working = Working> = Outcomes[S["_tag"]]

/** Where a run starts: a new message at the interview; a resumed run from its seed, or from the interview when it had none. */
export const initial = (seedId: string | null): Working => (seedId === null ? { _tag: "Interview" } : { _tag: "Reload", seed_id: seedId })

const reply = (text: string, reached: Phase, seedId: string | null, passed: boolean | null): Reply => ({ _tag: "Reply", reply: text, reached, seed_id: seedId, passed })

type Transitions = { readonly [T in Working["_tag"]]: (state: Extract<Working, { _tag: T }>, outcome: Outcomes[T], maxGenerations: number) => RunState }

const transitions: Transitions = {
  Interview: (_, { decision }) =>
    decision._tag === "Respond"
      ? { _tag: "Answer", reply: decision.reply }
      : decision._tag === "Ask"
      ? reply(questionsReply(decision.questions), "interview", null, null)
      : { _tag: "Seed" },
  // answered in the interview's own call: the respond phase only puts the reply on the record
  Answer: (state) => reply(state.reply, "respond", null, null),
  Seed: (_, { seed }) => ({ _tag: "Prepare", seed }),
  Reload: (_, { seed }) => ({ _tag: "Prepare", seed }),
  Prepare: ({ seed }, { brief }) => ({ _tag: "Execute", seed, brief }),
  Execute: ({ brief, seed }, { answer }) => ({ _tag: "Evaluate", seed, brief, answer }),
  Evaluate: ({ answer, brief, seed }, { evaluation }, maxGenerations) =>
    shouldEvolve(evaluation.passed, seed.generation, maxGenerations)
      ? { _tag: "Evolve", seed, brief, answer, evaluation }
      : reply(answer, "evaluate", seed.id, evaluation.passed),
  // an unreadable refinement stops evolving: the last answer is the reply
  Evolve: ({ answer, brief, evaluation, seed }, { child }) =>
    child === undefined ? reply(answer, "evolve", seed.id, evaluation.passed) : { _tag: "Execute", seed: child, brief }
}

/** The state after `state`'s work found `outcome`; a run evolves while its work fails and fewer than `maxGenerations` generations ran. */
export const next = <S extends Working>(state: S, outcome: Outcome<S>, maxGenerations: number): RunState =>
  (transitions[state._tag] as (state: S, outcome: Outcome<S>, maxGenerations: number) => RunState)(state, outcome, maxGenerations)
