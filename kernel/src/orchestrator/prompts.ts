/**
 * What the orchestrator says to the model: each phase's system prompt, the conversation a phase
 * sends, and the task an agent (or a group's member) is given for a seed.
 */
import type { ChatMessage } from "../llm/LanguageModel.js"
import type { SeedSpec } from "./decide.js"

/** The interview's prompt: work or not (answered then), and how clear the work is. */
export const INTERVIEW_PROMPT =
  "You are the interviewer of an agent OS. First decide whether the user's latest message asks for work (files to write or change, commands to run, something to find out or build) " +
  "or not (a greeting, thanks, small talk, a question you can answer from the conversation and what you know). " +
  "If it asks for no work, answer the user yourself: {\"asks_for_work\": false, \"reply\": \"your answer to the user\", \"goal_clarity\": 1, \"constraints_clarity\": 1, \"success_clarity\": 1, \"questions\": []}. " +
  "If it asks for work, judge whether the request (with the conversation so far) is clear enough to act on: " +
  "{\"asks_for_work\": true, \"reply\": \"\", \"goal_clarity\": 0..1, \"constraints_clarity\": 0..1, \"success_clarity\": 0..1, \"questions\": [\"...\"]} — " +
  "the questions that would make it clearer (none when it is clear). Answer with JSON only."
/** The interview's prompt when direct answers are off (`orchestrator.direct_answers: false`): only how clear the request is. */
export const WORK_INTERVIEW_PROMPT =
  "You are the interviewer of an agent OS. Judge whether the user's request (with the conversation so far) is clear enough to act on. " +
  "Answer with JSON only: {\"goal_clarity\": 0..1, \"constraints_clarity\": 0..1, \"success_clarity\": 0..1, \"questions\": [\"...\"]} — " +
  "the questions that would make it clearer (none when it is clear)."
export const SEED_PROMPT =
  "Turn the user's request (with the conversation so far) into a specification. Answer with JSON only: " +
  "{\"goal\": \"...\", \"constraints\": [\"...\"], \"acceptance_criteria\": [\"...\"], \"ontology\": {\"name\": \"...\", \"description\": \"...\", \"fields\": []}}. " +
  "Name files an acceptance criterion needs in backquotes, e.g. `notes/plan.md`, relative to the workspace."
export const EVALUATE_PROMPT =
  "Judge whether the work meets the goal and every acceptance criterion. Answer with JSON only: {\"score\": 0..1, \"passed\": true|false, \"summary\": \"...\"}."
export const EVOLVE_PROMPT =
  "The work fell short of its acceptance criteria. Refine the goal so that the next attempt meets them. Answer with JSON only: {\"goal\": \"...\"}."

const lines = (title: string, items: ReadonlyArray<string>) => (items.length === 0 ? [] : [title, ...items.map((c) => `- ${c}`)])

/** The task an agent is given for a seed. */
export const taskOf = (seed: SeedSpec, memories: ReadonlyArray<string>): string =>
  [
    `Goal: ${seed.goal}`,
    ...lines("Constraints:", seed.constraints),
    ...lines("Acceptance criteria:", seed.acceptance_criteria),
    ...lines("Recalled memories:", memories)
  ].join("\n")

/** The task of one member of a group: the whole goal, and the part of the criteria that is this member's. */
export const memberTaskOf = (seed: SeedSpec, part: ReadonlyArray<string>, member: number, members: number, memories: ReadonlyArray<string>): string =>
  [
    `Goal: ${seed.goal}`,
    ...lines("Constraints:", seed.constraints),
    `You are agent ${member} of ${members} working on this goal in parallel. Your part: meet these acceptance criteria (the other agents take the rest):`,
    ...part.map((c) => `- ${c}`),
    ...lines("Recalled memories:", memories)
  ].join("\n")

/** The work of a group, as the evaluation reads it. */
export const groupAnswer = (parts: ReadonlyArray<{ readonly criteria: ReadonlyArray<string>; readonly text: string }>) =>
  parts.map((p, i) => `Agent ${i + 1} (${p.criteria.join("; ")}):\n${p.text}`).join("\n\n")

/** A phase's messages: its system prompt, the earlier turns, the user's message. */
export const conversation = (system: string, history: ReadonlyArray<ChatMessage>, content: string): ReadonlyArray<ChatMessage> => [
  { role: "system", content: system },
  ...history,
  { role: "user", content }
]

/** The earlier turns of a session, oldest first: its first `count` messages with their responses. */
export const historyOf = (
  session: { readonly user_messages: ReadonlyArray<string>; readonly agent_responses: ReadonlyArray<{ readonly content: string }> },
  count: number
) =>
  session.user_messages.slice(0, count).flatMap((content, i): Array<ChatMessage> => {
    const response = session.agent_responses[i]
    return response === undefined ? [{ role: "user", content }] : [{ role: "user", content }, { role: "assistant", content: response.content }]
  })

/** The user's message for the evaluation: the task and the work done. */
export const evaluationRequest = (seed: SeedSpec, answer: string) => `${taskOf(seed, [])}\n\nThe agent's final answer:\n${answer}`

/** The user's message for the evolution: the task, the work done and how it was judged. */
export const refinementRequest = (seed: SeedSpec, answer: string, judged: { readonly score: number; readonly summary: string | null }) =>
  `${evaluationRequest(seed, answer)}\n\nEvaluation: score ${judged.score}${judged.summary === null ? "" : `, ${judged.summary}`}`
