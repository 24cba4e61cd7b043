/** The log as a transparency log: checkpoints, proofs and the public key. */
import { HttpApiBuilder } from "@effect/platform"
import { Audit, TransparencyLog } from "@annal/kernel"
import { AnnalApi, BadRequest, NotFound, pageRequest } from "@annal/spec"
import { EventStore, type EventStoreError, type TreeRangeError } from "@annal/store"
import { Effect } from "effect"
import { internal } from "./common.js"

const failed = internal("could not read the log's tree")
const asApiError = (e: TreeRangeError | EventStoreError) => (e._tag === "TreeRangeError" ? new BadRequest({ error: e.reason }) : failed(e))

export const LogLive = HttpApiBuilder.group(AnnalApi, "log", (handlers) =>
  Effect.gen(function*() {
    const log = yield* TransparencyLog
    const store = yield* EventStore
    const audit = yield* Audit
    return handlers
      .handle("checkpoint", () =>
        log.checkpoint({ fresh: true }).pipe(
          Effect.map((c) => c?.note ?? ""),
          Effect.mapError(internal("could not sign a checkpoint"))
        ))
      .handle("inclusion", ({ urlParams }) =>
        Effect.gen(function*() {
          const size = urlParams.tree_size ?? (yield* store.tree.head).size
          return yield* store.tree.inclusion(urlParams.seq, size)
        }).pipe(Effect.mapError(asApiError)))
      .handle("consistency", ({ urlParams }) =>
        Effect.gen(function*() {
          const second = urlParams.second ?? (yield* store.tree.head).size
          return yield* store.tree.consistency(urlParams.first, second)
        }).pipe(Effect.mapError(asApiError)))
      .handle("stream", ({ path, urlParams }) => {
        const page = pageRequest(urlParams)
        return audit.streamHistory(path.stream, page).pipe(
          Effect.mapError(internal("could not read the stream")),
          Effect.filterOrFail(({ total }) => total > 0, () => new NotFound({ error: `no events in stream ${path.stream}` })),
          Effect.map(({ items, total }) => ({ items, total, page: page.page, limit: page.limit }))
        )
      })
      .handle("publicKey", () =>
        Effect.succeed({ name: log.key.name, verifier_key: log.key.verifierKey, algorithm: "ed25519" as const, public_key: log.key.publicKey }))
  }))
