/**
 * Structured answers from any model: ask for JSON of a shape, read it, and when it cannot be
 * read ask once more with what was wrong and the shape expected; after that the answer is
 * unreadable and the caller takes its fallback. Real models answer in prose, wrap JSON in code
 * fences or put a sentence before it (the readers look past those), or send JSON that misses a
 * field; none of that may fail a chat.
 *
 * How the JSON is asked for is the provider's business (`response_format` negotiated over HTTP,
 * a grammar with node-llama-cpp); this module only holds the conversation around it.
 */
import { Effect, Either } from "effect"
import type { ChatMessage, ModelError, ModelUnavailable, ResponseFormat } from "./LanguageModel.js"

/** What came of asking for a structured answer. */
export type Structured<A> =
  | { readonly _tag: "Read"; readonly value: A; readonly repaired: boolean }
  | { readonly _tag: "Unreadable"; readonly error: string }

/** The conversation of the one repair request: the answer given, why it cannot be read, and the shape wanted. */
export const repairMessages = (
  messages: ReadonlyArray<ChatMessage>,
  answer: string,
  error: string,
  format: ResponseFormat
): ReadonlyArray<ChatMessage> => [
  ...messages,
  { role: "assistant", content: answer },
  {
    role: "user",
    content: `Your answer could not be read: ${error}\n` +
      `Answer again with exactly one JSON object of this shape (JSON Schema), and nothing before or after it:\n${JSON.stringify(format.schema)}`
  }
]

/**
 * Asks `complete` for an answer `read` accepts: the first answer, or else one repair request.
 * A model that cannot be reached or fails fails this too; an answer that is still unreadable
 * after the repair is `Unreadable`, with the reader's last error.
 */
export const askStructured = <A, E extends { readonly message: string }, F = ModelUnavailable | ModelError>(options: {
  readonly complete: (messages: ReadonlyArray<ChatMessage>) => Effect.Effect<string, F>
  readonly messages: ReadonlyArray<ChatMessage>
  readonly format: ResponseFormat
  readonly read: (text: string) => Either.Either<A, E>
}): Effect.Effect<Structured<A>, F> =>
  Effect.gen(function*() {
    const first = yield* options.complete(options.messages)
    const read = options.read(first)
    if (Either.isRight(read)) return { _tag: "Read", value: read.right, repaired: false } as const
    const again = yield* options.complete(repairMessages(options.messages, first, read.left.message, options.format))
    return Either.match(options.read(again), {
      onLeft: (e): Structured<A> => ({ _tag: "Unreadable", error: e.message }),
      onRight: (value): Structured<A> => ({ _tag: "Read", value, repaired: true })
    })
  })
