/**
 * The text of a direct answer as the interview's JSON streams in: the interview answers
 * `{"asks_for_work": false, "reply": "Hello! …", …}` in one model call, and the reply's words
 * should reach a chat client as they come, like any reply's, not as JSON. Fed the model's
 * chunks, this yields the new characters of `reply` (escapes decoded) once `asks_for_work` is
 * known to be false; text around the JSON (prose, code fences) is passed over, and anything it
 * cannot follow just stops the live text — the recorded reply is read from the whole answer.
 */
import { JSONParser } from "@streamparser/json"

export interface DirectReplyStream {
  /** The reply text that `chunk` adds (often ""). */
  readonly push: (chunk: string) => string
}

export const directReplyStream = (): DirectReplyStream => {
  const parser = new JSONParser({ paths: ["$.asks_for_work", "$.reply"], emitPartialTokens: true, emitPartialValues: true, keepStack: false })
  let started = false
  let broken = false
  let asksForWork: boolean | undefined
  let reply = ""
  let sent = 0
  parser.onValue = ({ key, value }) => {
    if (key === "asks_for_work" && typeof value === "boolean") asksForWork = value
    else if (key === "reply" && typeof value === "string") reply = value
  }
  // the parser reports errors here rather than throwing them (past the object's end, bad JSON)
  parser.onError = () => {
    broken = true
  }
  return {
    push: (chunk) => {
      if (broken) return ""
      let text = chunk
      if (!started) {
        const brace = text.indexOf("{")
        if (brace === -1) return ""
        started = true
        text = text.slice(brace)
      }
      try {
        parser.write(text)
      } catch {
        broken = true
      }
      if (asksForWork !== false || reply.length <= sent) return ""
      const added = reply.slice(sent)
      sent = reply.length
      return added
    }
  }
}
