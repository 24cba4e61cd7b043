/**
 * `annal log …`: the log as a transparency log from the command line — the signed checkpoint
 * (signed on demand), an inclusion proof, a proof bundle of a range of events, and the check
 * of a bundle. With a server running, the fresh checkpoint comes from it (it holds the log);
 * without one, this command holds the data directory and signs it itself.
 */
import { Args, Command, Options } from "@effect/cli"
import { Bundle, Checkpoint, Configuration, DataDir, Kernel, SigningKey, Transparency, TransparencyLog } from "@annal/kernel"
import { EventStore, EventStoreError, EventStoreSqlite, IdGenerator, Projector } from "@annal/store"
import { Effect, Layer, Option } from "effect"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as DataDirLock from "./DataDirLock.js"
import * as Server from "./Server.js"

export interface LogCommandOptions {
  readonly dataDir: Options.Options<string>
  readonly checkpointDir: Options.Options<Option.Option<string>>
  readonly signingKey: Options.Options<Option.Option<string>>
}

/** A signed checkpoint and the key it verifies with (as `GET /api/log/public-key` gives it). */
interface Signed {
  readonly note: string
  readonly size: number
  readonly key: typeof Bundle.Bundle.Type["public_key"]
  /** Why it is not a fresh one, when it is the newest on file instead. */
  readonly stale?: string | undefined
}


const fail = (reason: string) => Effect.fail(new EventStoreError({ reason }))
const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

/** The store alone over an existing log: reads only (views untouched, nothing appended). */
const readStore = (database: string) => EventStoreSqlite.layer({ filename: database }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

const publicKeyOf = (key: { readonly name: string; readonly verifierKey: string; readonly publicKey: string }) => ({
  name: key.name,
  verifier_key: key.verifierKey,
  algorithm: "ed25519" as const,
  public_key: key.publicKey
})

/** The newest checkpoint a data directory holds, checked with its own key (no signing). */
const onFile = (dataDir: string, signingKeyFile: string | undefined, why: string) =>
  Effect.gen(function*() {
    const paths = Server.dataPaths(dataDir)
    const key = yield* Effect.try({
      try: () => SigningKey.loadSigningKey(signingKeyFile ?? join(paths.root, "log-signing.key"), { create: false }),
      catch: (e) => new EventStoreError({ reason: `${why}, and the log's signing key could not be read: ${(e as Error).message}` })
    })
    const checkpointFile = join(paths.root, "checkpoint")
    if (!existsSync(checkpointFile)) return yield* fail(`${why}, and the data directory holds no checkpoint yet`)
    const verifier = Checkpoint.parseVerifierKey(key.verifierKey)
    if (typeof verifier === "string") return yield* fail(verifier)
    const opened = Checkpoint.openCheckpoint(readFileSync(checkpointFile, "utf8"), verifier)
    if (typeof opened === "string") return yield* fail(`the checkpoint ${checkpointFile} does not verify with the data directory's key: ${opened}`)
    const signed: Signed = {
      note: opened.note,
      size: opened.size,
      key: publicKeyOf({ name: key.name, verifierKey: key.verifierKey, publicKey: key.publicKey.toString("base64") }),
      stale: why
    }
    return signed
  })

/** Asks the running server for a fresh checkpoint (its token: ANNAL_API_KEY or `<data-dir>/token`). */
const fromServer = (url: string, dataDir: string) =>
  Effect.tryPromise({
    try: async (): Promise<Signed> => {
      const tokenFile = join(Server.dataPaths(dataDir).root, "token")
      const token = process.env.ANNAL_API_KEY || (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "")
      if (token === "") throw new Error("no API token (set ANNAL_API_KEY)")
      const headers = { authorization: `Bearer ${token}` }
      const noteResponse = await fetch(`${url}/api/log/checkpoint`, { headers })
      if (noteResponse.status !== 200) throw new Error(`GET /api/log/checkpoint answered ${noteResponse.status}`)
      const note = await noteResponse.text()
      const keyResponse = await fetch(`${url}/api/log/public-key`, { headers })
      if (keyResponse.status !== 200) throw new Error(`GET /api/log/public-key answered ${keyResponse.status}`)
      const key = (await keyResponse.json()) as Signed["key"]
      const verifier = Checkpoint.parseVerifierKey(key.verifier_key)
      if (typeof verifier === "string") throw new Error(`the server's key: ${verifier}`)
      const opened = Checkpoint.openCheckpoint(note, verifier)
      if (typeof opened === "string") throw new Error(`the server's checkpoint does not verify with its key: ${opened}`)
      return { note, size: opened.size, key }
    },
    catch: (e) => new EventStoreError({ reason: (e as Error).message })
  })

/**
 * Runs `use` with a signed checkpoint covering the log's head and a store to read the log:
 * through the running server when there is one, else holding the data directory and signing
 * here (the start-up check runs first, so a cut or rewritten log is refused, not signed).
 */
const withCheckpoint = <A>(
  o: { readonly dataDir: string; readonly checkpointDir: Option.Option<string>; readonly signingKey: Option.Option<string> },
  use: (signed: Signed) => Effect.Effect<A, EventStoreError, EventStore>
): Effect.Effect<A | void, EventStoreError> => {
  const { database, root } = Server.dataPaths(o.dataDir)
  if (!existsSync(database)) return fail(`no event log at ${database} (is --data-dir right?)`)
  const signingKeyFile = Option.getOrUndefined(o.signingKey)
  const lock = DataDirLock.holder(o.dataDir)
  if (lock !== undefined) {
    if (lock.owner !== "server" || lock.url === undefined) {
      return fail(`${new DataDirLock.DataDirInUse({ info: lock, dataDir: root }).message}; try again when it has finished`)
    }
    return fromServer(lock.url, o.dataDir).pipe(
      Effect.catchAll((e) => onFile(o.dataDir, signingKeyFile, `the server at ${lock.url} did not sign a fresh checkpoint (${e.reason})`)),
      Effect.flatMap(use),
      Effect.provide(readStore(database))
    )
  }
  const logLayer = Transparency.layer({ checkpointDir: Option.getOrUndefined(o.checkpointDir), signingKeyFile }).pipe(
    Layer.provideMerge(Configuration.layer),
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: database }), DataDir.layer(o.dataDir)))
  )
  return Effect.scoped(Effect.zipRight(
    DataDirLock.acquire(o.dataDir, "cli"),
    Effect.gen(function*() {
      const log = yield* TransparencyLog
      const checkpoint = yield* log.checkpoint({ fresh: true })
      if (checkpoint === undefined) return yield* fail("the log has no checkpoint")
      return yield* use({ note: checkpoint.note, size: checkpoint.size, key: publicKeyOf(log.key) })
    }).pipe(Effect.provide(logLayer))
  )).pipe(
    Effect.catchTags({
      DataDirInUse: (e) => fail(e.message),
      LogRefused: (e) => fail(e.message)
    })
  )
}

/** Says what went wrong on stderr and exits 1. */
const reportFailure = <A, R>(effect: Effect.Effect<A, EventStoreError, R>) =>
  Effect.catchAll(effect, (e) =>
    Effect.sync(() => {
      process.stderr.write(`annal: ${e.reason}\n`)
      process.exitCode = 1
    }))

const seq = Options.integer("seq").pipe(Options.withDescription("The event to prove (its seq)"))
const treeSize = Options.integer("tree-size").pipe(Options.withDescription("The tree size to prove it in (default: the log's head)"), Options.optional)
const from = Options.integer("from").pipe(Options.withDescription("The first event of the bundle (seq)"))
const to = Options.integer("to").pipe(Options.withDescription("The last event of the bundle (seq)"))
const out = Options.file("out").pipe(Options.withDescription("The bundle file to write (JSON)"))
const bundleFile = Args.file({ name: "bundle", exists: "yes" }).pipe(Args.withDescription("A bundle written by `annal log bundle`"))
const key = Options.text("key").pipe(
  Options.withDescription("The verifier key to trust (name+keyid+key, as GET /api/log/public-key publishes it), or a file holding it; default: the bundle's own key"),
  Options.optional
)

/** Most events one bundle holds. */
export const MAX_BUNDLE_EVENTS = 100_000

/** The bundle of events from…to against the checkpoint: each event with its inclusion proof. */
const makeBundle = (signed: Signed, first: number, last: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    if (first < 1 || last < first) return yield* fail(`--from ${first} --to ${last} is not a range of seqs (1 ≤ from ≤ to)`)
    if (last - first + 1 > MAX_BUNDLE_EVENTS) return yield* fail(`a bundle holds at most ${MAX_BUNDLE_EVENTS} events`)
    if (last > signed.size) return yield* fail(`seq ${last} is beyond the log's head: its newest checkpoint covers ${signed.size} events`)
    const events = yield* store.read(first, last)
    const entries = []
    for (const event of events) {
      const proof = yield* store.tree.inclusion(event.seq, signed.size).pipe(Effect.mapError((e) => new EventStoreError({ reason: e.message })))
      entries.push({ event, inclusion_proof: proof.hashes })
    }
    if (entries.length !== last - first + 1) {
      const held = new Set(events.map((e) => e.seq))
      let missing = first
      while (held.has(missing)) missing++
      return yield* fail(`event ${missing} is missing from the log (${entries.length} of the events ${first}…${last} are there); run annal audit verify`)
    }
    const bundle: Bundle.Bundle = { format: Bundle.BUNDLE_FORMAT, public_key: signed.key, checkpoint: signed.note, entries }
    return bundle
  })

/** The `log` command group. */
export const logCommand = (shared: LogCommandOptions) => {
  const { checkpointDir, dataDir, signingKey } = shared

  const checkpoint = Command.make("checkpoint", { dataDir, checkpointDir, signingKey }, (o) =>
    reportFailure(withCheckpoint(o, (signed) =>
      Effect.gen(function*() {
        if (signed.stale !== undefined) process.stderr.write(`annal: ${signed.stale}; this is the newest checkpoint on file\n`)
        process.stdout.write(signed.note)
      }))))

  const prove = Command.make("prove", { dataDir, seq, treeSize }, (o) =>
    reportFailure(Effect.gen(function*() {
      const { database } = Server.dataPaths(o.dataDir)
      if (!existsSync(database)) return yield* fail(`no event log at ${database} (is --data-dir right?)`)
      const proof = yield* Effect.gen(function*() {
        const store = yield* EventStore
        const size = Option.getOrUndefined(o.treeSize) ?? (yield* store.tree.head).size
        return yield* store.tree.inclusion(o.seq, size).pipe(Effect.mapError((e) => new EventStoreError({ reason: e.message })))
      }).pipe(Effect.provide(readStore(database)))
      yield* say(JSON.stringify(proof, null, 2))
    })))

  const bundle = Command.make("bundle", { dataDir, checkpointDir, signingKey, from, to, out }, (o) =>
    reportFailure(withCheckpoint(o, (signed) =>
      Effect.gen(function*() {
        const made = yield* makeBundle(signed, o.from, o.to)
        yield* Effect.try({
          try: () => writeFileSync(o.out, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600 }),
          catch: (e) => new EventStoreError({ reason: `could not write ${o.out}: ${(e as Error).message}` })
        })
        const size = Checkpoint.parseCheckpointBody(signed.note.slice(0, signed.note.lastIndexOf("\n\n") + 1))
        yield* say(`wrote ${made.entries.length} events (seq ${o.from}…${o.to}) with their inclusion proofs against checkpoint ${signed.key.name} tree size ${typeof size === "string" ? "?" : size.size} to ${o.out}`)
        yield* say(`verifier key: ${signed.key.verifier_key}`)
      }))))

  const verifyBundle = Command.make("verify-bundle", { bundle: bundleFile, key }, (o) =>
    reportFailure(Effect.gen(function*() {
      const parsed = yield* Effect.try({
        try: () => JSON.parse(readFileSync(o.bundle, "utf8")) as unknown,
        catch: (e) => new EventStoreError({ reason: `${o.bundle} is not JSON: ${(e as Error).message}` })
      })
      const pinned = Option.getOrUndefined(o.key)
      const trusted = pinned !== undefined && existsSync(pinned) ? readFileSync(pinned, "utf8").trim() : pinned
      const report = Bundle.check(parsed, trusted)
      if (!report.ok) {
        yield* say(`INVALID bundle ${o.bundle}:`)
        for (const problem of report.problems) yield* say(`  - ${problem}`)
        process.exitCode = 1
        return
      }
      const c = report.checkpoint!
      yield* say(`valid: ${report.events} events, each included in checkpoint ${c.origin} tree size ${c.size} root ${c.root}, signed by ${report.key}`)
      if (!report.pinned) yield* say("note: checked with the bundle's own key; pass --key with the log's published verifier key to know who signed it")
    })))

  return Command.make("log").pipe(Command.withSubcommands([checkpoint, prove, bundle, verifyBundle]))
}
