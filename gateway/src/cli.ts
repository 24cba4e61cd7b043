/**
 * The `annal` command line: `serve`, `audit verify`, `audit export`, `rebuild`, `views`, `replay`,
 * `programs install`, `log checkpoint|prove|bundle|verify-bundle`.
 */
import { Args, Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Configuration, DataDir, Kernel, LogCheck, Programs, Rebuild, Replay, Transparency } from "@annal/kernel"
import { Installer, packDirectory } from "@annal/programs"
import { VERSION } from "@annal/spec"
import { EventStore, EventStoreSqlite, IdGenerator, PastViews, PastViewsSqlite, Projector, type StoredEvent } from "@annal/store"
import { Cause, Chunk, Config, Effect, Exit, Layer, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { closeSync, existsSync, openSync, writeSync } from "node:fs"
import { resolve } from "node:path"
import * as DataDirLock from "./DataDirLock.js"
import { logCommand } from "./LogCommands.js"
import { CLI_ACTOR } from "./handlers/Programs.js"
import { ApiTokens } from "./http/ApiTokens.js"
import * as Server from "./Server.js"

const dataDir = Options.directory("data-dir").pipe(
  Options.withDescription("Where Annal keeps its log, views and files (default ./.annal)"),
  Options.withFallbackConfig(Config.string("ANNAL_DATA_DIR")),
  Options.withDefault(".annal")
)
const host = Options.text("host").pipe(
  Options.withDescription("Address to listen on (default: the configured server.host, 127.0.0.1)"),
  Options.withFallbackConfig(Config.string("ANNAL_HOST")),
  Options.optional
)
const port = Options.integer("port").pipe(
  Options.withDescription("Port to listen on; 0 picks a free one (default: the configured server.port, 4200)"),
  Options.withFallbackConfig(Config.integer("ANNAL_PORT")),
  Options.optional
)
const synchronous = Options.choice("synchronous", ["FULL", "NORMAL", "EXTRA"]).pipe(
  Options.withDescription("SQLite durability of each append (default FULL: survives power loss)"),
  Options.withFallbackConfig(Config.literal("FULL", "NORMAL", "EXTRA")("ANNAL_SYNCHRONOUS")),
  Options.withDefault("FULL" as const)
)

const model = Options.file("model").pipe(
  Options.withDescription("A local GGUF model for the agents (node-llama-cpp on the CPU); also ANNAL_MODEL_PATH"),
  Options.optional
)

const checkpointDir = Options.directory("checkpoint-dir").pipe(
  Options.withDescription("A witness directory outside the data directory that receives every signed checkpoint of the log (wins over log.checkpoint_dir); also ANNAL_CHECKPOINT_DIR"),
  Options.withFallbackConfig(Config.string("ANNAL_CHECKPOINT_DIR")),
  Options.optional
)
const signingKey = Options.file("signing-key").pipe(
  Options.withDescription("The Ed25519 key (PKCS#8 PEM) checkpoints are signed with (default <data-dir>/log-signing.key, made on first start)"),
  Options.optional
)
const acceptLogRollback = Options.boolean("accept-log-rollback").pipe(
  Options.withDescription("Start even though the log is shorter than, or inconsistent with, its last signed checkpoint; the decision is recorded as an event")
)

const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const serve = Command.make("serve", { dataDir, host, port, synchronous, model, checkpointDir, signingKey, acceptLogRollback }, (o) => {
  const secret = randomBytes(32).toString("hex")
  return Effect.gen(function*() {
    const url = yield* Server.serverUrl
    yield* DataDirLock.publish(o.dataDir, url, secret)
    const tokens = yield* ApiTokens
    const file = tokens.tokenFile
    const tokenLine = process.env.ANNAL_API_KEY
      ? "API token: the value of ANNAL_API_KEY"
      : file === undefined
      ? "API token: the API key set in the configuration"
      : file.created
      ? `API token (shown once; also saved in ${file.path}): ${file.token}`
      : `API token: saved in ${file.path} (cat ${file.path})`
    // one write, so whoever waits for the address line has the rest too
    yield* say([
      `data directory: ${Server.dataPaths(o.dataDir).root}`,
      tokenLine,
      `try: curl -H "Authorization: Bearer ${file === undefined ? "<token>" : `$(cat ${file.path})`}" ${url}/api/status`,
      `Annal ${VERSION} listening on ${url}`
    ].join("\n"))
    return yield* Effect.never
  }).pipe(
    Effect.provide(
      Server.layer({
        dataDir: o.dataDir,
        host: Option.getOrUndefined(o.host),
        port: Option.getOrUndefined(o.port),
        apiKey: process.env.ANNAL_API_KEY,
        synchronous: o.synchronous,
        log: {
          checkpointDir: Option.getOrUndefined(o.checkpointDir),
          signingKeyFile: Option.getOrUndefined(o.signingKey),
          acceptRollback: o.acceptLogRollback
        },
        modelPath: Option.getOrUndefined(o.model),
        localInstallSecret: secret
      })
    ),
    // the lock first: the log is opened only by its holder
    (served) => Effect.scoped(Effect.zipRight(DataDirLock.acquire(o.dataDir, "server"), served)),
    Effect.catchTag("DataDirInUse", (e) => failWith(e.message)),
    Effect.catchTag("LogRefused", (e) => failWith(e.message))
  )
})

/** Says what went wrong on stderr and exits 1. */
const failWith = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`annal: ${message}\n`)
    process.exitCode = 1
  })

/**
 * Runs a command that needs an existing event log. Without one (a wrong `--data-dir`, most
 * likely) it says so plainly and exits 1, and creates nothing.
 */
const onExistingLog = <A, E, R>(dir: string, command: (database: string) => Effect.Effect<A, E, R>): Effect.Effect<A | void, E, R> => {
  const { database } = Server.dataPaths(dir)
  if (existsSync(database)) return command(database)
  return Effect.sync(() => {
    process.stderr.write(`annal: no event log at ${database} (is --data-dir right?)\n`)
    process.exitCode = 1
  })
}

/** The store alone, reading an existing log (views are kept up to date, nothing is appended). */
const existingStore = (database: string) => EventStoreSqlite.layer({ filename: database }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

/** The witness directory the stored configuration names (`log.checkpoint_dir`), if it can be read. */
const configuredWitness = Effect.flatMap(Configuration, (c) => c.current).pipe(
  Effect.map((c) => c.log.checkpoint_dir ?? undefined),
  Effect.provide(Configuration.layer),
  Effect.orElseSucceed(() => undefined)
)

/**
 * The log against its signed checkpoints (the data directory's, and the witness's when one is
 * given or configured): each consistent one, or every problem, naming checkpoint and head.
 */
const checkCheckpoints = (o: { readonly dataDir: string; readonly checkpointDir: Option.Option<string>; readonly signingKey: Option.Option<string> }) =>
  Effect.gen(function*() {
    const witnessDir = Option.getOrUndefined(o.checkpointDir) ?? (yield* configuredWitness)
    const { problems: keyProblems, sources } = Transparency.offlineSources(Server.dataPaths(o.dataDir), { signingKeyFile: Option.getOrUndefined(o.signingKey), witnessDir })
    const report = yield* LogCheck.checkLog(sources, { full: false })
    // a break after the checkpoint is the chain walk's to report
    const problems = [...keyProblems, ...report.problems.filter((p) => report.chainBreak === undefined || !p.startsWith("the hash chain is broken"))]
    for (const problem of problems) yield* say(`CHECKPOINT PROBLEM: ${problem}`)
    if (problems.length > 0) {
      process.exitCode = 1
      return
    }
    if (report.checkpoints.length === 0) yield* say("checkpoint: none to check against (none signed yet)")
    for (const c of report.checkpoints) yield* say(`checkpoint: consistent with ${c.path} (${c.source}, tree size ${c.size}, root ${c.root})`)
  })

const verify = Command.make("verify", { dataDir, checkpointDir, signingKey }, (o) =>
  onExistingLog(o.dataDir, (database) => Effect.gen(function*() {
    const store = yield* EventStore
    const result = yield* store.verify
    if (result.valid) {
      yield* say(`valid: ${result.entry_count} events, head seq ${result.head.seq} hash ${result.head.hash}`)
    } else {
      yield* say(`BROKEN at seq ${result.broken_at_seq}: ${result.reason}`)
      yield* say(`  expected: ${result.expected}`)
      yield* say(`  found:    ${result.found}`)
      yield* say(`  (${result.entry_count} rows read)`)
      process.exitCode = 1
    }
    yield* checkCheckpoints(o)
  }).pipe(Effect.provide(existingStore(database)))))

const out = Options.file("out").pipe(Options.withDescription("JSONL file to write (one event per line)"))

const exportCommand = Command.make("export", { dataDir, out }, (o) =>
  onExistingLog(o.dataDir, (database) => Effect.gen(function*() {
    const store = yield* EventStore
    const fd = openSync(o.out, "w", 0o600)
    let count = 0
    yield* store.readAll(0, 5000).pipe(
      Stream.runForEachChunk((chunk: Chunk.Chunk<StoredEvent>) =>
        Effect.sync(() => {
          let text = ""
          for (const event of chunk) text += `${JSON.stringify(event)}\n`
          writeSync(fd, text)
          count += Chunk.size(chunk)
        })
      ),
      Effect.ensuring(Effect.sync(() => closeSync(fd)))
    )
    yield* say(`exported ${count} events to ${o.out}`)
  }).pipe(Effect.provide(existingStore(database)))))

const audit = Command.make("audit").pipe(Command.withSubcommands([verify, exportCommand]))

/** `rebuild` replaces the live views: it holds the data directory, so no server writes them meanwhile. */
const rebuild = Command.make("rebuild", { dataDir }, (o) =>
  onExistingLog(o.dataDir, (database) => Effect.scoped(Effect.zipRight(DataDirLock.acquire(o.dataDir, "cli"), Effect.gen(function*() {
    const report = yield* Rebuild.rebuild(Kernel.projections, { replace: true })
    for (const t of report.tables) {
      yield* say(`${t.equal ? "equal " : "DIFFER"} ${t.table}: live ${t.live.rows} rows, replayed ${t.fresh.rows} rows`)
    }
    if (report.equal) {
      yield* say(`views equal to the live ones: replayed ${report.events} events into ${report.tables.length} tables`)
    } else {
      yield* say(`views DIFFERED from a replay of the log (${report.events} events); the live views were rebuilt from the log`)
      process.exitCode = 1
    }
  }).pipe(Effect.provide(Kernel.storeLayer({ filename: database }))))).pipe(
    Effect.catchTag("DataDirInUse", (e) => failWith(`${e.message}; stop it before rebuilding the views`))
  )))

const atSeq = Options.integer("at").pipe(Options.withDescription("The log's seq the views are taken at (0: before the first event)"))
const viewsOut = Options.file("out").pipe(Options.withDescription("New SQLite file to write the views into"))

/** `views --at N --out FILE`: every view as it stood right after event N, in a SQLite file of its own. */
const views = Command.make("views", { dataDir, at: atSeq, out: viewsOut }, (o) =>
  onExistingLog(o.dataDir, (database) => Effect.gen(function*() {
    if (existsSync(o.out)) return yield* failWith(`${o.out} exists; give a new file`)
    if (o.at < 0) return yield* failWith("--at must be 0 or more")
    const past = yield* PastViews
    const written = yield* past.writeAt(o.at, resolve(o.out))
    yield* say(`wrote every view as of seq ${o.at} to ${o.out} (${written.from > 0 ? `snapshot at seq ${written.from} + ` : ""}${written.replayed} events replayed)`)
  }).pipe(
    Effect.catchTag("BeyondHead", (e) => failWith(e.message)),
    Effect.provide(
      PastViewsSqlite.layer({ directory: Server.dataPaths(o.dataDir).pastViews }).pipe(
        Layer.provide(Layer.merge(existingStore(database), Kernel.projector))
      )
    )
  )))

const runId = Args.text({ name: "run-id" }).pipe(Args.withDescription("The chat run to replay (its id, as chat_run_started has it)"))

/**
 * `replay RUN_ID`: the run again in a scratch store, every model answer and tool result from the
 * log, compared with the record; exit 1 on a difference. Beside a running server or without one.
 */
const replay = Command.make("replay", { dataDir, runId }, (o) =>
  onExistingLog(o.dataDir, (database) => Effect.gen(function*() {
    const result = yield* Replay.replayRun(o.runId)
    for (const line of result.unanswered) yield* say(`unanswered: ${line}`)
    if (result.result === "identical") {
      yield* say(`identical: the replay of chat run ${o.runId} produced the ${result.events} events the log records`)
      return
    }
    yield* say(`DIFFERENT at seq ${result.seq}`)
    yield* say(`  expected: ${JSON.stringify(result.expected)}`)
    yield* say(`  actual:   ${JSON.stringify(result.actual)}`)
    process.exitCode = 1
  }).pipe(
    Effect.catchTag("RunNotReplayable", (e) => failWith(e.message)),
    Effect.provide(existingStore(database))
  )))

const programDir = Args.directory({ name: "dir", exists: "yes" }).pipe(Args.withDescription("The program's folder (with program.toml)"))

/** Hands the packed folder to the server holding the data directory. */
const installThroughServer = (lock: DataDirLock.LockInfo, source: string, archive: Buffer) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(`${lock.url}/api/programs/local-install`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-annal-install-secret": lock.secret ?? "" },
        body: JSON.stringify({ source, archive_base64: archive.toString("base64") })
      })
      return { status: response.status, body: (await response.json()) as { name?: string; version?: string; error?: string } }
    },
    catch: (e) => new Error(`could not reach the server at ${lock.url}: ${(e as Error).message}`)
  }).pipe(
    Effect.flatMap(({ body, status }) =>
      status === 200 ? Effect.succeed({ name: String(body.name), version: String(body.version) }) : Effect.fail(new Error(`${body.error ?? "refused"} (HTTP ${status})`))
    )
  )

/** Installs with no server running: this command holds the lock and appends itself. */
const installHere = (dir: string, source: string, archive: Buffer) => {
  const { database } = Server.dataPaths(dir)
  return Effect.scoped(
    Effect.zipRight(
      DataDirLock.acquire(dir, "cli"),
      Installer.install({ _tag: "Archive", archive, location: source }, { actor: CLI_ACTOR }).pipe(
        Effect.provide(Programs.layer.pipe(Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: database }), DataDir.layer(dir)))))
      )
    )
  )
}

const programsInstall = Command.make("install", { dataDir, dir: programDir }, (o) =>
  Effect.gen(function*() {
    const source = resolve(o.dir)
    const archive = yield* packDirectory(source)
    const lock = DataDirLock.holder(o.dataDir)
    if (lock !== undefined && (lock.url === undefined || lock.secret === undefined)) {
      return yield* failWith(`${new DataDirLock.DataDirInUse({ info: lock, dataDir: resolve(o.dataDir) }).message}; try again when it has finished starting or ended`)
    }
    const install: Effect.Effect<{ readonly name: string; readonly version: string }, { readonly message: string }> = lock === undefined
      ? installHere(o.dataDir, source, archive)
      : installThroughServer(lock, source, archive)
    const installed = yield* Effect.mapError(install, (e) => new Error(`could not install ${source}: ${e.message}`))
    yield* say(`installed ${installed.name} ${installed.version}${lock === undefined ? "" : ` through the server at ${lock.url}`}`)
  }).pipe(Effect.catchAll((e) => failWith(e.message))))

const programsCommand = Command.make("programs").pipe(Command.withSubcommands([programsInstall]))

const annal = Command.make("annal").pipe(Command.withSubcommands([serve, audit, rebuild, views, replay, programsCommand, logCommand({ dataDir, checkpointDir, signingKey })]))

const cli = Command.run(annal, { name: "annal", version: VERSION })

/**
 * A reader that leaves early (`annal audit verify | head -1`) closes the pipe: what is left to
 * print has nowhere to go, and the command still finishes and exits with its own code, as
 * quietly as a Unix tool stopped by SIGPIPE, instead of dying on an unhandled EPIPE.
 */
const ignoreClosedReader = (stream: NodeJS.WriteStream) =>
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e
  })

/** Runs the CLI on process.argv. */
export const main = () => {
  ignoreClosedReader(process.stdout)
  return cli(process.argv).pipe(
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({
      disableErrorReporting: false,
      teardown: (exit, onExit) => {
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) onExit(1)
        else onExit(typeof process.exitCode === "number" ? process.exitCode : 0)
      }
    })
  )
}

