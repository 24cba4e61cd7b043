/**
 * The model bench:chat talks to: the shared fake OpenAI-compatible server, in a process of its
 * own (as a real model server would be, so its work is not counted as the kernel's), answering
 * every request of a turn from what the request holds. Started by bench/chat.ts with `fork`; it
 * sends `{ url }` once it listens and stops when its parent goes.
 *
 * Turn n (named in the user's message, "turn n"): the interview passes, the seed names the file
 * `notes/turn-n.md`, the agent writes it, reads it back and answers, the evaluation passes.
 */
import { EVALUATE_PROMPT, INTERVIEW_PROMPT, SEED_PROMPT } from "@annal/kernel"
import { type ScriptedReply, startFakeOpenAi } from "@annal/kernel/testing/fakeOpenAi"

interface Message {
  readonly role: string
  readonly content: string
}

const usage = (prompt_tokens: number, completion_tokens: number) => ({ prompt_tokens, completion_tokens })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value), usage: usage(200, 40) })

/** The answer to one request of a turn. */
export const reply = (body: { readonly messages: ReadonlyArray<Message>; readonly tools?: ReadonlyArray<unknown> }): ScriptedReply => {
  const n = /turn (\d+)/.exec(body.messages.map((m) => m.content).join("\n"))?.[1]
  if (n === undefined) return { status: 400 }
  const path = `notes/turn-${n}.md`
  if (body.tools !== undefined) {
    switch (body.messages.filter((m) => m.role === "tool").length) {
      case 0:
        return { toolCalls: [{ name: "write", arguments: { path, content: `# Turn ${n}\n\nA short note the agent wrote in turn ${n}.\n` } }], usage: usage(400, 30) }
      case 1:
        return { toolCalls: [{ name: "read", arguments: { path } }], usage: usage(450, 12) }
      default:
        return { text: `Done: ${path} holds the note for turn ${n}.`, usage: usage(500, 12) }
    }
  }
  switch (body.messages[0]?.content) {
    case INTERVIEW_PROMPT:
      return json({ goal_clarity: 0.95, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
    case SEED_PROMPT:
      return json({
        goal: `Write a short note for turn ${n}`,
        constraints: ["keep it short"],
        acceptance_criteria: [`the file \`${path}\` exists`],
        ontology: { name: "Note", description: "a note in the workspace", fields: [{ name: "text", field_type: "string", description: "the words" }] }
      })
    case EVALUATE_PROMPT:
      return json({ score: 0.9, passed: true, summary: "the note is there" })
    default:
      return { status: 400 }
  }
}

if (process.send !== undefined) {
  const requests = Number(process.argv[2] ?? 100_000)
  const fake = await startFakeOpenAi(Array.from({ length: requests }, () => reply))
  process.send({ url: fake.url })
  process.on("disconnect", () => void fake.close().then(() => process.exit(0)))
}
