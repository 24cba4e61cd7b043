/**
 * What `/openapi.json` must say that no schema annotation can: the generator's own parts
 * describe HttpApi's defaults rather than Annal's wire. Applied as the API's `OpenApi.Transform`
 * annotation, so every rendering of the document (the server's, the tests') is the same.
 * - Decode failures: HttpApi adds its `HttpApiDecodeError` (`{_tag, issues, message}`) to every
 *   route's 400, but the gateway renders them as `{"error"}` like any error (`BadRequest`).
 * - A wildcard route (`/api/workspace/file/*`) is matched by the router as any depth of path;
 *   the generator keeps the `*` literal, which no client or fuzzer can fill in. It becomes the
 *   `{path}` parameter the route declares (see `WILDCARD_PARAMETER`).
 * - Effect writes every `Schema.Unknown` as `{"$id": "/schemas/unknown"}`; the same `$id` in
 *   several places makes the document's schemas invalid JSON Schema (Ajv refuses them), so
 *   those marker ids are dropped wherever a schema uses one (an annotation would fix only the
 *   uses someone remembers).
 */
import { Option, SchemaAST } from "effect"
import { BadRequest } from "./Errors.js"

/** The name a wildcard route's rest-of-path parameter has in the document. */
export const WILDCARD_PARAMETER = "path"

type Json = Record<string, any>

const DECODE_ERROR_REF = "#/components/schemas/HttpApiDecodeError"

/** A 400's schema without the decode error's alternative (the gateway never sends that shape). */
const withoutDecodeError = (schema: Json): Json => {
  if (!Array.isArray(schema.anyOf)) return schema
  const rest = schema.anyOf.filter((s: Json) => s.$ref !== DECODE_ERROR_REF)
  return rest.length === 1 ? rest[0] : { ...schema, anyOf: rest }
}

/** The component schemas `$ref`s in `value` name. */
const refsIn = (value: unknown, into: Set<string>): Set<string> => {
  if (Array.isArray(value)) for (const v of value) refsIn(v, into)
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") into.add(v.replace("#/components/schemas/", ""))
      else refsIn(v, into)
    }
  }
  return into
}

/** The component schemas the paths reach, directly or through other schemas. */
const reachable = (paths: Json, schemas: Json): Set<string> => {
  const seen = new Set<string>()
  const queue = [...refsIn(paths, new Set())]
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    if (seen.has(name)) continue
    seen.add(name)
    queue.push(...refsIn(schemas[name], new Set()))
  }
  return seen
}

const BAD_REQUEST = Option.getOrElse(SchemaAST.getDescriptionAnnotation(SchemaAST.typeAST(BadRequest.ast)), () => "The request is not valid.")

/** The platform's schemas only its decode error uses. */
const DECODE_ERROR_SCHEMAS = ["HttpApiDecodeError", "Issue", "PropertyKey"]

/** `value` without Effect's `/schemas/…` marker ids. */
const withoutMarkerIds = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutMarkerIds)
  if (typeof value !== "object" || value === null) return value
  const out: Json = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === "$id" && typeof v === "string" && v.startsWith("/schemas/")) continue
    out[k] = withoutMarkerIds(v)
  }
  return out
}

/** The document as the gateway's wire behaves. */
export const describeWire = (generated: Json): Json => {
  const spec = withoutMarkerIds(generated) as Json
  const paths: Json = {}
  for (const [path, item] of Object.entries<Json>(spec.paths)) {
    const ops: Json = {}
    for (const [method, op] of Object.entries<Json>(item)) {
      const responses: Json = { ...op.responses }
      const schema = responses["400"]?.content?.["application/json"]?.schema
      if (schema !== undefined) {
        responses["400"] = { description: BAD_REQUEST, content: { "application/json": { schema: withoutDecodeError(schema) } } }
      }
      ops[method] = { ...op, responses }
    }
    paths[path.replace(/\/\*$/, `/{${WILDCARD_PARAMETER}}`)] = ops
  }
  const schemas: Json = { ...spec.components.schemas }
  const used = reachable(paths, schemas)
  for (const name of DECODE_ERROR_SCHEMAS) if (!used.has(name)) delete schemas[name]
  return { ...spec, paths, components: { ...spec.components, schemas } }
}
