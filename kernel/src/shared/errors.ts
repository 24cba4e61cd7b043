/**
 * Errors every bounded context can fail with; the gateway maps each to one HTTP status
 * (`gateway/src/handlers/common.ts`): EntityNotFound 404, InvalidCommand 400, AccessRefused 403,
 * ConcurrentChange 409, AlreadyExists 409, Exhausted 402, Unavailable 503.
 */
import { Data } from "effect"

/** No such entity. */
export class EntityNotFound extends Data.TaggedError("EntityNotFound")<{ readonly what: string; readonly id: string }> {
  override get message() {
    return `${this.what} not found: ${this.id}`
  }
}

/** The command is not valid in the current state; the message says why (naming the field). */
export class InvalidCommand extends Data.TaggedError("InvalidCommand")<{ readonly message: string }> {}

/** Not allowed (a path outside the workspace, a permission denied). */
export class AccessRefused extends Data.TaggedError("AccessRefused")<{ readonly message: string }> {}

/** An entity with that name or id exists already (a create that would overwrite it). */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{ readonly what: string; readonly id: string }> {
  override get message() {
    return `${this.what} already exists: ${this.id}`
  }
}

/** Someone else changed the same entity at the same moment. */
export class ConcurrentChange extends Data.TaggedError("ConcurrentChange")<{ readonly message: string }> {}

/** A budget or quota has nothing left. */
export class Exhausted extends Data.TaggedError("Exhausted")<{ readonly message: string }> {}

/** A needed service is not configured or not reachable; the message says how to fix it. */
export class Unavailable extends Data.TaggedError("Unavailable")<{ readonly message: string }> {}
