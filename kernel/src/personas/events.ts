import { Schema } from "effect"

export const PERSONA_CREATED = "persona_created"
export const PERSONA_UPDATED = "persona_updated"
export const PERSONA_DELETED = "persona_deleted"
export const PERSONA_ACTIVATED = "persona_activated"

/**
 * Every persona event goes to one stream: "at least one persona" and "exactly one active"
 * span all personas, and one stream version makes concurrent deletes conflict instead of both
 * succeeding.
 */
export const PERSONAS_STREAM = "personas"

/** The persona created on first start. */
export const DEFAULT_PERSONA_ID = "default"

const Fields = {
  name: Schema.String,
  role: Schema.String,
  description: Schema.String,
  system_prompt: Schema.String,
  enabled: Schema.Boolean,
  model: Schema.NullOr(Schema.String),
  personality_traits: Schema.Array(Schema.String)
}

export const PersonaCreated = Schema.Struct({ persona_id: Schema.String, ...Fields })
export type PersonaCreated = typeof PersonaCreated.Type

/** Only the fields that changed are present. */
export const PersonaUpdated = Schema.Struct({
  persona_id: Schema.String,
  name: Schema.optional(Fields.name),
  role: Schema.optional(Fields.role),
  description: Schema.optional(Fields.description),
  system_prompt: Schema.optional(Fields.system_prompt),
  enabled: Schema.optional(Fields.enabled),
  model: Schema.optional(Fields.model),
  personality_traits: Schema.optional(Fields.personality_traits)
})
export type PersonaUpdated = typeof PersonaUpdated.Type

export const PersonaDeleted = Schema.Struct({ persona_id: Schema.String })
export type PersonaDeleted = typeof PersonaDeleted.Type

/** This persona is the active one from now on. */
export const PersonaActivated = Schema.Struct({
  persona_id: Schema.String,
  /** Why, when it was not asked for directly (the active persona was deleted). */
  reason: Schema.NullOr(Schema.String)
})
export type PersonaActivated = typeof PersonaActivated.Type
