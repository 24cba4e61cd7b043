/** Pure decisions of the personas context, over the state of all personas (one stream). */
import type { CreatePersona, UpdatePersona } from "@annal/spec"
import { Either } from "effect"
import { AlreadyExists, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import {
  DEFAULT_PERSONA_ID,
  PERSONA_ACTIVATED,
  PERSONA_CREATED,
  PERSONA_DELETED,
  PERSONA_UPDATED,
  type PersonaActivated,
  type PersonaCreated,
  type PersonaDeleted,
  type PersonaUpdated
} from "./events.js"

/** One persona as decisions see it. */
export interface PersonaRecord {
  readonly id: string
  readonly name: string
  readonly role: string
  readonly description: string
  readonly system_prompt: string
  readonly enabled: boolean
  readonly model: string | null
  readonly personality_traits: ReadonlyArray<string>
}

export interface PersonaState {
  /** In creation order. */
  readonly personas: ReadonlyArray<PersonaRecord>
  readonly activeId: string | null
}

export type PersonaEvent =
  | { readonly type: typeof PERSONA_CREATED; readonly data: PersonaCreated }
  | { readonly type: typeof PERSONA_UPDATED; readonly data: PersonaUpdated }
  | { readonly type: typeof PERSONA_DELETED; readonly data: PersonaDeleted }
  | { readonly type: typeof PERSONA_ACTIVATED; readonly data: PersonaActivated }

/** The persona every installation starts with. */
export const defaultPersona: PersonaCreated = {
  persona_id: DEFAULT_PERSONA_ID,
  name: "Annal",
  role: "General assistant",
  description: "The default persona: a careful assistant that does real work in the workspace and says plainly what it did.",
  system_prompt:
    "You are Annal, the assistant of an agent operating system. Work step by step, use the tools you are given, " +
    "and say plainly what you did, what you found and what you could not do.",
  enabled: true,
  model: null,
  personality_traits: ["helpful", "precise", "candid"]
}

/** On a log that never had a persona event: the default persona, created and active. */
export const decideInitial = (streamVersion: number): ReadonlyArray<PersonaEvent> =>
  streamVersion > 0
    ? []
    : [
      { type: PERSONA_CREATED, data: defaultPersona },
      { type: PERSONA_ACTIVATED, data: { persona_id: DEFAULT_PERSONA_ID, reason: "default persona" } }
    ]

const find = (state: PersonaState, id: string) => state.personas.find((p) => p.id === id)

/** Decides `persona_created` under a fresh id. */
export const decideCreate = (
  state: PersonaState,
  id: string,
  input: CreatePersona
): Either.Either<ReadonlyArray<PersonaEvent>, AlreadyExists> =>
  find(state, id) !== undefined
    ? Either.left(new AlreadyExists({ what: "persona", id }))
    : Either.right([{
      type: PERSONA_CREATED,
      data: {
        persona_id: id,
        name: input.name.trim(),
        role: input.role,
        description: input.description,
        system_prompt: input.system_prompt,
        enabled: input.enabled,
        model: input.model,
        personality_traits: [...input.personality_traits]
      }
    }])

/** Decides `persona_updated` with the fields that really change; nothing when none does. */
export const decideUpdate = (
  state: PersonaState,
  id: string,
  patch: UpdatePersona
): Either.Either<ReadonlyArray<PersonaEvent>, EntityNotFound> => {
  const current = find(state, id)
  if (current === undefined) return Either.left(new EntityNotFound({ what: "persona", id }))
  const next = { ...patch, ...(patch.name === undefined ? {} : { name: patch.name.trim() }) }
  const changed: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue
    if (JSON.stringify(value) !== JSON.stringify(current[key as keyof PersonaRecord])) changed[key] = value
  }
  if (Object.keys(changed).length === 0) return Either.right([])
  return Either.right([{ type: PERSONA_UPDATED, data: { persona_id: id, ...changed } as PersonaUpdated }])
}

/**
 * Decides `persona_deleted`. The last persona cannot go. When the active one goes, another is
 * activated in the same append — the default persona if it remains and is enabled, else the
 * oldest enabled one, else the oldest — so some persona is always active.
 */
export const decideDelete = (
  state: PersonaState,
  id: string
): Either.Either<ReadonlyArray<PersonaEvent>, EntityNotFound | InvalidCommand> => {
  if (find(state, id) === undefined) return Either.left(new EntityNotFound({ what: "persona", id }))
  const rest = state.personas.filter((p) => p.id !== id)
  if (rest.length === 0) return Either.left(new InvalidCommand({ message: `cannot delete the last persona (${id})` }))
  const deleted: PersonaEvent = { type: PERSONA_DELETED, data: { persona_id: id } }
  if (state.activeId !== id) return Either.right([deleted])
  const next = rest.find((p) => p.id === DEFAULT_PERSONA_ID && p.enabled) ?? rest.find((p) => p.enabled) ?? rest[0]!
  return Either.right([
    deleted,
    { type: PERSONA_ACTIVATED, data: { persona_id: next.id, reason: `the active persona ${id} was deleted` } }
  ])
}

/** Decides `persona_activated` for an existing, enabled persona; nothing when it is active already. */
export const decideActivate = (
  state: PersonaState,
  id: string
): Either.Either<ReadonlyArray<PersonaEvent>, EntityNotFound | InvalidCommand> => {
  const persona = find(state, id)
  if (persona === undefined) return Either.left(new EntityNotFound({ what: "persona", id }))
  if (!persona.enabled) return Either.left(new InvalidCommand({ message: `persona ${id} is disabled; enable it before activating it` }))
  if (state.activeId === id) return Either.right([])
  return Either.right([{ type: PERSONA_ACTIVATED, data: { persona_id: id, reason: null } }])
}
