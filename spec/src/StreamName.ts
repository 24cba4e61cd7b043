/** The field by which a view row names its entity's stream in the log (Annal's addition to the Oxios shapes). */
import { Schema } from "effect"

/** The log stream of this entity: its history is `GET /api/log/streams/{stream}`. */
export const StreamName = Schema.String.annotations({
  description: "The log stream of this entity (Annal's addition): its history, who changed it, when and how, is GET /api/log/streams/{stream}"
})
