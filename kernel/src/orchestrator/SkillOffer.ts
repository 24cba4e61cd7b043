/**
 * Which programs' skills an agent is briefed with for a seed. Live, the programs offered for its
 * goal (`Programs.skillsFor`: enabled, their folder in place, their required tools registered,
 * relevant to the goal) — read outside the log, so the run records the answer
 * (`skills_offered`) before it briefs the agent; in a replay, the programs the run's
 * `skills_offered` for the same generation names, their skills as the programs view has them
 * (replay/Replay.ts).
 */
import { Context, Effect, Layer } from "effect"
import { type OfferedSkill, Programs } from "../programs/Programs.js"

export class SkillOffer extends Context.Tag("@annal/kernel/SkillOffer")<
  SkillOffer,
  {
    /** The skills for the agent of run `runId`'s seed of `generation`, whose goal is `goal`. */
    readonly skillsFor: (runId: string, generation: number, goal: string) => Effect.Effect<ReadonlyArray<OfferedSkill>>
  }
>() {
  /** The programs offered now, relevant to the goal; none when the programs cannot be read. */
  static readonly live = Layer.effect(
    SkillOffer,
    Effect.map(Programs, (programs) => SkillOffer.of({ skillsFor: (_runId, _generation, goal) => Effect.orElseSucceed(programs.skillsFor(goal), () => []) }))
  )
}
