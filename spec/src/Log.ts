/** The log as a transparency log: signed checkpoints and RFC 9162 proofs (docs/event-log.md). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadRequest, NotFound } from "./Errors.js"
import { IntegerParam } from "./IntegerParam.js"
import { Page, PageQuery } from "./Pagination.js"

const Count = IntegerParam(0)
/** A SHA-256 in bare lowercase hex. */
export const Hex = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))

export const InclusionQuery = Schema.Struct({ seq: Count, tree_size: Schema.optional(Count) })
export const ConsistencyQuery = Schema.Struct({ first: Count, second: Schema.optional(Count) })

export const InclusionProof = Schema.Struct({
  seq: Schema.Number,
  leaf_index: Schema.Number,
  tree_size: Schema.Number,
  leaf_hash: Hex,
  hashes: Schema.Array(Hex),
  root: Hex
})

export const ConsistencyProof = Schema.Struct({
  first: Schema.Number,
  second: Schema.Number,
  first_root: Hex,
  second_root: Hex,
  hashes: Schema.Array(Hex)
})

export const LogPublicKey = Schema.Struct({
  /** The note key name, also every checkpoint's origin line. */
  name: Schema.String,
  /** C2SP note verifier key: `name+keyid+base64(0x01 ‖ public key)`. */
  verifier_key: Schema.String,
  algorithm: Schema.Literal("ed25519"),
  /** The raw 32-byte Ed25519 public key, base64. */
  public_key: Schema.String
})

/** An event exactly as the log holds it (as `annal audit export` writes it); hashes in bare hex. */
export const LogEvent = Schema.Struct({
  seq: Schema.Number.pipe(Schema.int(), Schema.positive()),
  id: Schema.String,
  stream: Schema.String,
  version: Schema.Number,
  type: Schema.String,
  actor: Schema.String,
  at: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  meta: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  prev_hash: Hex,
  hash: Hex
})

export const StreamPath = Schema.Struct({ stream: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512)) })
export const StreamEvents = Page(LogEvent)

export class LogGroup extends HttpApiGroup.make("log")
  .add(
    HttpApiEndpoint.get("checkpoint", "/api/log/checkpoint")
      .addSuccess(Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; charset=utf-8" })))
      .annotate(OpenApi.Description, "The signed checkpoint of the log's current tree (C2SP tlog-checkpoint in a C2SP signed note, Ed25519); signed now when the log grew since the last one.")
  )
  .add(
    HttpApiEndpoint.get("inclusion", "/api/log/proof/inclusion")
      .setUrlParams(InclusionQuery)
      .addSuccess(InclusionProof)
      .addError(BadRequest)
      .annotate(OpenApi.Description, "RFC 9162 inclusion proof of event `seq` (leaf seq − 1) in the tree of `tree_size` events (default: the head).")
  )
  .add(
    HttpApiEndpoint.get("consistency", "/api/log/proof/consistency")
      .setUrlParams(ConsistencyQuery)
      .addSuccess(ConsistencyProof)
      .addError(BadRequest)
      .annotate(OpenApi.Description, "RFC 9162 consistency proof that the tree of `second` events (default: the head) extends the tree of `first`.")
  )
  .add(HttpApiEndpoint.get("publicKey", "/api/log/public-key").addSuccess(LogPublicKey))
  .add(
    HttpApiEndpoint.get("stream", "/api/log/streams/:stream")
      .setPath(StreamPath)
      .setUrlParams(PageQuery)
      .addSuccess(StreamEvents)
      .addError(NotFound)
      .annotate(OpenApi.Description, "The history of one entity: the events of stream `stream` (e.g. `memory-<id>`, `permissions-<agent>`, `persona-<id>`), newest first, paginated like every list (`?page&limit`): who changed it (`actor`), when (`at`) and how (`type`, `data`). 404 when the log holds no event of that stream.")
  )
  .middleware(Authorization)
{}
