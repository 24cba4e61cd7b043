import { describe, expect, it } from "vitest"
import { initial, next, type Outcome, type RunState, type SeedAt, type Working } from "../src/orchestrator/machine.js"

const spec = { goal: "write notes", constraints: [], acceptance_criteria: ["`notes.md` exists"], ontology: null }
const seed = (id: string, generation: number): SeedAt => ({ id, generation, spec: { ...spec, goal: `${spec.goal} (${generation})` } })
const brief = { systemPrompt: "be brief", memories: ["a memory"] }
const failed = { score: 0.2, passed: false, summary: "no notes" }
const passed = { score: 1, passed: true, summary: null }

/** The states a run goes through from `from`, each outcome given by `outcomeOf`, until its reply. */
const course = (from: Working, outcomeOf: (state: Working) => Outcome, maxGenerations = 3) => {
  const states: Array<RunState> = [from]
  let state: RunState = from
  while (state._tag !== "Reply") {
    state = next(state, outcomeOf(state), maxGenerations)
    states.push(state)
    if (states.length > 50) throw new Error("the run never ends")
  }
  return states
}

describe("a chat run as a state machine", () => {
  it("a new message starts at the interview; a resumed run at its seed, or at the interview without one", () => {
    expect(initial(null)).toEqual({ _tag: "Interview" })
    expect(initial("s1")).toEqual({ _tag: "Reload", seed_id: "s1" })
  })

  it("a message that asks for no work is answered in the respond phase, with no seed", () => {
    const answer = next({ _tag: "Interview" }, { _tag: "Interviewed", decision: { _tag: "Respond", reply: "hello" } }, 3)
    expect(answer).toEqual({ _tag: "Answer", reply: "hello" })
    expect(next(answer as Working, { _tag: "Answered" }, 3)).toEqual({ _tag: "Reply", reply: "hello", reached: "respond", seed_id: null, passed: null })
  })

  it("a request too ambiguous is answered with the interview's questions, numbered when there are several", () => {
    expect(next({ _tag: "Interview" }, { _tag: "Interviewed", decision: { _tag: "Ask", questions: ["Which file?", "How long?"] } }, 3)).toEqual({
      _tag: "Reply",
      reply: "1. Which file?\n2. How long?",
      reached: "interview",
      seed_id: null,
      passed: null
    })
  })

  it("clear work goes seed → prepare → execute → evaluate, and work that passes is the reply at once", () => {
    const states = course({ _tag: "Interview" }, (s) => {
      switch (s._tag) {
        case "Interview":
          return { _tag: "Interviewed", decision: { _tag: "Proceed" } }
        case "Seed":
          return { _tag: "Seeded", seed: seed("s1", 1) }
        case "Prepare":
          return { _tag: "Prepared", brief }
        case "Execute":
          return { _tag: "Executed", answer: "done" }
        case "Evaluate":
          return { _tag: "Evaluated", evaluation: passed }
        default:
          throw new Error(`not expected: ${s._tag}`)
      }
    })
    expect(states.map((s) => s._tag)).toEqual(["Interview", "Seed", "Prepare", "Execute", "Evaluate", "Reply"])
    expect(states[3]).toEqual({ _tag: "Execute", seed: seed("s1", 1), brief })
    expect(states.at(-1)).toEqual({ _tag: "Reply", reply: "done", reached: "evaluate", seed_id: "s1", passed: true })
  })

  it("failing work evolves a child seed while generations remain, with the same brief, and the last generation's answer is the reply", () => {
    let generation = 1
    const states = course({ _tag: "Reload", seed_id: "g1" }, (s) => {
      switch (s._tag) {
        case "Reload":
          return { _tag: "Seeded", seed: seed("g1", 1) }
        case "Prepare":
          return { _tag: "Prepared", brief }
        case "Execute":
          return { _tag: "Executed", answer: `attempt ${s.seed.generation}` }
        case "Evaluate":
          return { _tag: "Evaluated", evaluation: failed }
        case "Evolve":
          generation++
          return { _tag: "Evolved", child: seed(`g${generation}`, generation) }
        default:
          throw new Error(`not expected: ${s._tag}`)
      }
    }, 3)
    expect(states.map((s) => s._tag)).toEqual(["Reload", "Prepare", "Execute", "Evaluate", "Evolve", "Execute", "Evaluate", "Evolve", "Execute", "Evaluate", "Reply"])
    // the brief is prepared once and every generation's agents get it
    expect(states.filter((s) => s._tag === "Execute").map((s) => (s._tag === "Execute" ? [s.seed.id, s.brief] : []))).toEqual([
      ["g1", brief],
      ["g2", brief],
      ["g3", brief]
    ])
    // what the evolution is told: the answer and how it was judged
    expect(states[4]).toEqual({ _tag: "Evolve", seed: seed("g1", 1), brief, answer: "attempt 1", evaluation: failed })
    expect(states.at(-1)).toEqual({ _tag: "Reply", reply: "attempt 3", reached: "evaluate", seed_id: "g3", passed: false })
  })

  it("with one generation allowed, failing work is the reply without evolving", () => {
    const evaluate: Working = { _tag: "Evaluate", seed: seed("s1", 1), brief, answer: "tried" }
    expect(next(evaluate, { _tag: "Evaluated", evaluation: failed }, 1)).toEqual({ _tag: "Reply", reply: "tried", reached: "evaluate", seed_id: "s1", passed: false })
  })

  it("an unreadable refinement stops evolving: the last answer is the reply, reached at evolve", () => {
    const evolve: Working = { _tag: "Evolve", seed: seed("s1", 1), brief, answer: "tried", evaluation: failed }
    expect(next(evolve, { _tag: "Evolved", child: undefined }, 3)).toEqual({ _tag: "Reply", reply: "tried", reached: "evolve", seed_id: "s1", passed: false })
  })
})
