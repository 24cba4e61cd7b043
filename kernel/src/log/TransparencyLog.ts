/**
 * The log as a transparency log: signed checkpoints of its Merkle tree, kept in the data
 * directory (`<data-dir>/checkpoint`) and, when configured, in a witness directory outside it;
 * the start-up check against the last of them; a checkpoint signed every
 * `log.checkpoint_every_events` events or `log.checkpoint_every_secs` seconds, at shutdown and
 * on demand.
 */
import { EventStore, EventStoreError } from "@annal/store"
import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Configuration } from "../config/Configuration.js"
import { DataDir } from "../shared/DataDir.js"
import { checkpointBody, type SignedCheckpoint, signNote } from "./Checkpoint.js"
import { checkLog, type CheckpointSource, type LogCheckReport } from "./LogCheck.js"
import { loadSigningKey, type SigningKey } from "./SigningKey.js"

/** The stream of the log's own events (a rollback accepted at start). */
export const LOG_STREAM = "log"
export const LOG_ROLLBACK_ACCEPTED = "log_rollback_accepted"

/** The log is shorter than, or inconsistent with, a checkpoint this data directory signed. */
export class LogRefused extends Data.TaggedError("LogRefused")<{ readonly report: LogCheckReport }> {
  override get message() {
    return `the event log was refused: ${this.report.problems.join("; ")}. Start with --accept-log-rollback to accept it as it is (the decision is recorded)`
  }
}

export interface TransparencyOptions {
  /** `--checkpoint-dir`: the witness directory (wins over `log.checkpoint_dir`). */
  readonly checkpointDir?: string | undefined
  /** `--signing-key`: the key file (default `<data-dir>/log-signing.key`, made on first start). */
  readonly signingKeyFile?: string | undefined
  /** `--accept-log-rollback`: start on a refused log and record that decision. */
  readonly acceptRollback?: boolean | undefined
}

export class TransparencyLog extends Context.Tag("@annal/kernel/TransparencyLog")<
  TransparencyLog,
  {
    /** The key checkpoints are signed with: its note name (= origin) and verifier key. */
    readonly key: { readonly name: string; readonly verifierKey: string; readonly publicKey: string }
    /** The newest signed checkpoint (signing one first when the log grew since, and `fresh`). */
    readonly checkpoint: (options: { readonly fresh: boolean }) => Effect.Effect<SignedCheckpoint | undefined, EventStoreError>
    /** What the start-up check found. */
    readonly startCheck: LogCheckReport
    /** Checks the log now against the checkpoints on file (the data directory's and the witness's). */
    readonly check: Effect.Effect<LogCheckReport, EventStoreError>
    /** The witness directory, if any. */
    readonly witnessDir: string | undefined
  }
>() {}

/** The checkpoint files a data directory and its witness hold, with the key each must verify with. */
export const checkpointSources = (paths: { readonly checkpoint: string }, verifierKey: string, witnessDir: string | undefined): Array<CheckpointSource> => {
  const sources: Array<CheckpointSource> = [{ source: "data directory", path: paths.checkpoint, verifierKey }]
  if (witnessDir !== undefined) {
    const pinned = join(witnessDir, "public-key")
    sources.push({
      source: "witness",
      path: join(witnessDir, "checkpoint"),
      verifierKey: existsSync(pinned) ? readFileSync(pinned, "utf8").trim() : verifierKey
    })
  }
  return sources
}

/**
 * The checkpoint files to check a data directory against without the server: its key read
 * from `signingKeyFile` (never made here). A checkpoint with no key to check it is a problem.
 */
export const offlineSources = (paths: { readonly checkpoint: string; readonly signingKey: string }, options: { readonly signingKeyFile?: string | undefined; readonly witnessDir?: string | undefined }): { readonly sources: Array<CheckpointSource>; readonly problems: Array<string> } => {
  const keyFile = options.signingKeyFile ?? paths.signingKey
  let key: SigningKey
  try {
    key = loadSigningKey(keyFile, { create: false })
  } catch (e) {
    const witnessKey = options.witnessDir === undefined ? undefined : join(options.witnessDir, "public-key")
    // without the data directory's key, the witness's pinned key still checks the witness's copy
    const sources: Array<CheckpointSource> = witnessKey !== undefined && existsSync(witnessKey)
      ? [{ source: "witness", path: join(options.witnessDir!, "checkpoint"), verifierKey: readFileSync(witnessKey, "utf8").trim() }]
      : []
    const problems = existsSync(paths.checkpoint) ? [`checkpoint ${paths.checkpoint} cannot be checked: ${(e as Error).message}`] : []
    return { sources, problems }
  }
  return { sources: checkpointSources(paths, key.verifierKey, options.witnessDir), problems: [] }
}

/** Writes a file whole or not at all: a temporary file, fsync, rename. */
const writeDurably = (path: string, text: string) => {
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, "w", 0o644)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

const make = (options: TransparencyOptions) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const paths = yield* DataDir
    const configuration = yield* Configuration
    const config = (yield* configuration.current).log
    const key: SigningKey = yield* Effect.try({
      try: () => loadSigningKey(options.signingKeyFile ?? paths.signingKey, { create: options.signingKeyFile === undefined }),
      catch: (e) => new EventStoreError({ reason: `could not load the log's signing key: ${(e as Error).message}`, cause: e })
    })
    const witnessDir = options.checkpointDir ?? config.checkpoint_dir ?? undefined
    if (witnessDir !== undefined) mkdirSync(witnessDir, { recursive: true })

    const report = yield* checkLog(checkpointSources(paths, key.verifierKey, witnessDir), { full: false })
    if (!report.ok) {
      if (options.acceptRollback !== true) return yield* new LogRefused({ report })
      yield* store.append({
        stream: LOG_STREAM,
        expectedVersion: "any",
        events: [{
          type: LOG_ROLLBACK_ACCEPTED,
          data: { problems: [...report.problems], checkpoints: report.checkpoints.map((c) => ({ ...c })), head: { ...report.head } }
        }],
        actor: "system"
      }).pipe(Effect.mapError((e) => (e._tag === "EventStoreError" ? e : new EventStoreError({ reason: e.message }))))
      yield* Effect.logWarning(`log accepted as it is (--accept-log-rollback): ${report.problems.join("; ")}`)
    }
    if (witnessDir !== undefined) {
      const pinned = join(witnessDir, "public-key")
      // the witness keeps the key it first saw; accepting a refused log re-pins it
      if (!existsSync(pinned) || options.acceptRollback === true) writeDurably(pinned, `${key.verifierKey}\n`)
    }

    const lock = yield* Effect.makeSemaphore(1)
    const kept = report.checkpoints.find((c) => c.source === "data directory")
    let latest: SignedCheckpoint | undefined = report.ok && kept !== undefined
      ? { origin: key.name, size: kept.size, root: kept.root, note: readFileSync(paths.checkpoint, "utf8") }
      : undefined
    let signedAt = yield* Clock.currentTimeMillis

    /** Signs the tree as it stands, unless the newest checkpoint already covers it. */
    const sign = lock.withPermits(1)(
      Effect.gen(function*() {
        const head = yield* store.tree.head
        if (latest !== undefined && latest.size === head.size && latest.root === head.root) return latest
        const checkpoint = { origin: key.name, size: head.size, root: head.root }
        const note = signNote(checkpointBody(checkpoint), key.name, key.privateKey, key.publicKey)
        yield* Effect.try({
          try: () => {
            writeDurably(paths.checkpoint, note)
            if (witnessDir !== undefined) writeDurably(join(witnessDir, "checkpoint"), note)
          },
          catch: (e) => new EventStoreError({ reason: `could not write the checkpoint: ${(e as Error).message}`, cause: e })
        })
        latest = { ...checkpoint, note }
        signedAt = yield* Clock.currentTimeMillis
        return latest
      })
    )

    // A first checkpoint at once, so the next start verifies only what follows it.
    yield* sign
    yield* Effect.addFinalizer(() => Effect.ignore(sign))

    // Checked every second: enough events since the last checkpoint, or enough time with any.
    yield* Effect.gen(function*() {
      const { log } = yield* configuration.current
      const head = yield* store.tree.head
      const grown = head.size - (latest?.size ?? 0)
      const now = yield* Clock.currentTimeMillis
      if (grown >= log.checkpoint_every_events || (grown > 0 && now - signedAt >= log.checkpoint_every_secs * 1000)) yield* sign
    }).pipe(
      Effect.catchAll((e) => Effect.logError("could not sign a checkpoint of the log", e)),
      Effect.delay(Duration.seconds(1)),
      Effect.forever,
      Effect.forkScoped
    )

    return TransparencyLog.of({
      key: { name: key.name, verifierKey: key.verifierKey, publicKey: key.publicKey.toString("base64") },
      checkpoint: ({ fresh }) => (fresh ? sign : Effect.succeed(latest)),
      startCheck: report,
      check: checkLog(checkpointSources(paths, key.verifierKey, witnessDir), { full: false }).pipe(Effect.provideService(EventStore, store)),
      witnessDir
    })
  })

/** The transparency log over the store; building it runs the start-up check (and may refuse). */
export const layer = (options: TransparencyOptions = {}): Layer.Layer<TransparencyLog, EventStoreError | LogRefused, EventStore | DataDir | Configuration> =>
  Layer.scoped(TransparencyLog, make(options))

