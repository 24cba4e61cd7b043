/**
 * Personas (seed section 15): who the agent is — name, role, system prompt, model, traits. One
 * is active at a time; a default persona exists from the first start; the last one cannot be
 * deleted.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { StreamName } from "./StreamName.js"
import { Authorization } from "./Auth.js"
import { BadRequest, NotFound } from "./Errors.js"
import { AtSeqQuery } from "./AtSeq.js"

const NonBlank = (max: number) =>
  Schema.String.pipe(
    Schema.maxLength(max),
    Schema.filter((s) => s.trim() !== "" || "must not be empty")
  )
const Text = (max: number) => Schema.String.pipe(Schema.maxLength(max))
const Traits = Schema.Array(Text(200)).pipe(Schema.maxItems(64))

/** A persona with every detail (`GET /api/personas/{id}`). */
export const Persona = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  role: Schema.String,
  description: Schema.String,
  system_prompt: Schema.String,
  enabled: Schema.Boolean,
  model: Schema.NullOr(Schema.String),
  personality_traits: Schema.Array(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "Persona" })
export type Persona = typeof Persona.Type

/** An item of `GET /api/personas`; `active` marks the active one. */
export const PersonaSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  role: Schema.String,
  description: Schema.String,
  enabled: Schema.Boolean,
  personality_traits: Schema.Array(Schema.String),
  active: Schema.Boolean,
  stream: StreamName
}).annotations({ identifier: "PersonaSummary" })
export type PersonaSummary = typeof PersonaSummary.Type

/** The body of `POST /api/personas`. */
export const CreatePersona = Schema.Struct({
  name: NonBlank(200),
  role: Text(200),
  description: Text(4000),
  system_prompt: Schema.optionalWith(Text(64 * 1024), { default: () => "" }),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  model: Schema.optionalWith(Schema.NullOr(Text(200)), { default: () => null }),
  personality_traits: Schema.optionalWith(Traits, { default: () => [] })
}).annotations({ identifier: "CreatePersona" })
export type CreatePersona = typeof CreatePersona.Type

/** The body of `PUT /api/personas/{id}`: only the fields given change. */
export const UpdatePersona = Schema.Struct({
  name: Schema.optional(NonBlank(200)),
  role: Schema.optional(Text(200)),
  description: Schema.optional(Text(4000)),
  system_prompt: Schema.optional(Text(64 * 1024)),
  enabled: Schema.optional(Schema.Boolean),
  model: Schema.optional(Schema.NullOr(Text(200))),
  personality_traits: Schema.optional(Traits)
}).annotations({ identifier: "UpdatePersona" })
export type UpdatePersona = typeof UpdatePersona.Type

/** The body of `PUT /api/personas/active`. */
export const SetActivePersona = Schema.Struct({ id: Schema.String }).annotations({ identifier: "SetActivePersona" })

/** `GET /api/personas/active` when one is active: the persona and `active: true`. */
export const ActivePersona = Schema.Struct({ ...Persona.fields, active: Schema.Literal(true) }).annotations({ identifier: "ActivePersona" })
export const NoActivePersona = Schema.Struct({ active: Schema.Literal(false), message: Schema.String }).annotations({
  identifier: "NoActivePersona"
})
export const ActivePersonaResponse = Schema.Union(ActivePersona, NoActivePersona)
export type ActivePersonaResponse = typeof ActivePersonaResponse.Type

export const PersonaCreated = Schema.Struct({ status: Schema.Literal("created"), id: Schema.String, name: Schema.String })
export const PersonaUpdated = Schema.Struct({ status: Schema.Literal("updated"), id: Schema.String })
/** When the deleted persona was the active one, `active_id` names the one activated instead and `message` says so. */
export const PersonaDeleted = Schema.Struct({
  status: Schema.Literal("deleted"),
  id: Schema.String,
  active_id: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})
export type PersonaDeleted = typeof PersonaDeleted.Type
export const PersonaActivated = Schema.Struct({ status: Schema.Literal("active"), id: Schema.String, name: Schema.String })

const IdPath = Schema.Struct({ id: Schema.String })

// `/api/personas/active` is declared before `/api/personas/:id`; the router prefers the literal path anyway.
export class PersonasGroup extends HttpApiGroup.make("personas")
  .add(HttpApiEndpoint.get("active", "/api/personas/active").setUrlParams(AtSeqQuery).addSuccess(ActivePersonaResponse))
  .add(
    HttpApiEndpoint.put("setActive", "/api/personas/active")
      .setPayload(SetActivePersona)
      .addSuccess(PersonaActivated)
      .addError(BadRequest)
      .addError(NotFound)
  )
  .add(HttpApiEndpoint.get("list", "/api/personas").setUrlParams(AtSeqQuery).addSuccess(Schema.Array(PersonaSummary)))
  .add(HttpApiEndpoint.post("create", "/api/personas").setPayload(CreatePersona).addSuccess(PersonaCreated).addError(BadRequest))
  .add(HttpApiEndpoint.get("get", "/api/personas/:id").setPath(IdPath).setUrlParams(AtSeqQuery).addSuccess(Persona).addError(NotFound))
  .add(
    HttpApiEndpoint.put("update", "/api/personas/:id")
      .setPath(IdPath)
      .setPayload(UpdatePersona)
      .addSuccess(PersonaUpdated)
      .addError(BadRequest)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/personas/:id")
      .setPath(IdPath)
      .addSuccess(PersonaDeleted)
      .addError(BadRequest)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Deletes a persona; 400 for the last one. Deleting the active persona activates another (the default when it exists) and says so."
      )
  )
  .middleware(Authorization)
{}
