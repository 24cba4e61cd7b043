/** How an event of the log reads as an audit entry (pure). */
import type { AuditEntry } from "@annal/spec"
import type { StoredEvent } from "@annal/store"
import { ACCESS_DECIDED, AccessDecided } from "../access/events.js"
import { decodeData } from "../shared/EventData.js"

/** `sha256:<hex>`, the API's rendering of a chain hash. */
export const renderHash = (hex: string) => `sha256:${hex}`

/** The name an actor goes by in audit entries: an agent's id, otherwise the actor itself. */
export const actorName = (actor: string) => (actor.startsWith("agent:") ? actor.slice("agent:".length) : actor)

/**
 * An event as an audit entry; access decisions show who was decided about and the verdict. The
 * event's own type, stream, actor, data and meta ride along (Annal's addition), so one page of
 * entries is the whole record.
 */
export const toAuditEntry = (event: StoredEvent): AuditEntry => {
  if (event.type === ACCESS_DECIDED) {
    const d = decodeData(AccessDecided, event)
    return {
      seq: event.seq,
      timestamp: event.at,
      agent_name: d.subject,
      action: d.action,
      resource: d.resource,
      allowed: d.allowed,
      hash: renderHash(event.hash),
      prev_hash: renderHash(event.prev_hash),
      type: event.type,
      stream: event.stream,
      actor: event.actor,
      data: event.data,
      meta: event.meta
    }
  }
  return {
    seq: event.seq,
    timestamp: event.at,
    agent_name: actorName(event.actor),
    action: event.type,
    resource: event.stream,
    allowed: true,
    hash: renderHash(event.hash),
    prev_hash: renderHash(event.prev_hash),
    type: event.type,
    stream: event.stream,
    actor: event.actor,
    data: event.data,
    meta: event.meta
  }
}
