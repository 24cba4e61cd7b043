/**
 * Programs (seed section 9): the manifest a program is described by (`program.toml`, the Oxios
 * schema) and the endpoints that install, list, enable, disable and remove programs.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadRequest, Conflict, NotFound, Unauthorized } from "./Errors.js"
import { Page } from "./Pagination.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

/**
 * A program's name: letters, digits and `-`, 1–48 characters, starting with a letter or digit.
 * No `_`, so the `__` that joins it to a tool's name in `<program>__<tool>` is unambiguous.
 */
export const PROGRAM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,47}$/

/** A tool's name inside its program (and an MCP server's name). */
export const PROGRAM_TOOL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/

/** An argument's name: what `{name}` in a command template refers to. */
export const ARGUMENT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** The longest `path` `POST /api/programs` accepts. */
export const MAX_PROGRAM_SOURCE_LENGTH = 8192

/** Largest SKILL.md, in UTF-8 bytes (64 KB, like a skill). */
export const MAX_PROGRAM_SKILL_BYTES = 64 * 1024

export const ProgramName = Schema.String.pipe(
  Schema.pattern(PROGRAM_NAME_PATTERN, { message: () => "must be 1-48 letters, digits or \"-\", starting with a letter or digit" })
)

const LocalName = Schema.String.pipe(
  Schema.pattern(PROGRAM_TOOL_NAME_PATTERN, { message: () => "must be 1-63 letters, digits, \"_\" or \"-\", starting with a letter or digit" })
)

const Text = Schema.String.pipe(Schema.maxLength(4096))
const Names = Schema.Array(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))).pipe(Schema.maxItems(256))

/** The JSON type an argument is decoded as; a `path` is a string the gate checks as a workspace path. */
export const ArgumentType = Schema.Literal("string", "path", "number", "integer", "boolean")
export type ArgumentType = typeof ArgumentType.Type

/** `arguments = [{ name, description, type, required, default, enum }]` of a tool. */
export const ToolArgument = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(ARGUMENT_NAME_PATTERN, { message: () => "must be a letter or _, then letters, digits or _ (at most 64)" })
  ),
  description: Schema.optionalWith(Text, { default: () => "" }),
  type: Schema.optionalWith(ArgumentType, { default: () => "string" as const }),
  /** Default: required unless a `default` is given. */
  required: Schema.optional(Schema.Boolean),
  default: Schema.optional(Schema.Union(Schema.String, Schema.Number, Schema.Boolean)),
  /** The values a string argument may take. */
  enum: Schema.optional(Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(256)))
})
export type ToolArgument = typeof ToolArgument.Type

/**
 * `[tools.<name>]`: a command tool (`command`), a module tool (`module`), or neither — a tool
 * Oxios lists for its description and arguments, installed but never offered to agents. A
 * `command` with no `{placeholder}` takes its declared arguments appended in declared order.
 */
export const ToolDeclaration = Schema.Struct({
  description: Text,
  /** An argv template: a string split on spaces, or the argv elements themselves. */
  command: Schema.optional(Schema.Union(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)), Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(256)))),
  /** A JavaScript module inside the program, run in a sandboxed child process. */
  module: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))),
  arguments: Schema.optionalWith(Schema.Array(ToolArgument).pipe(Schema.maxItems(64)), { default: () => [] }),
  /** Seconds a call may take; default `tools.exec_timeout_secs`. */
  timeout_secs: Schema.optional(Schema.Int.pipe(Schema.between(1, 3600))),
  /** A tool that changes nothing: an `on_demand` policy runs it without asking. */
  read_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** A module tool that may start processes (`--allow-child-process`). */
  child_process: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type ToolDeclaration = typeof ToolDeclaration.Type

/** `[[mcp]]`: an MCP server the program starts over stdio. */
export const McpServerDeclaration = Schema.Struct({
  name: LocalName,
  command: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)),
  args: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.maxLength(4096))).pipe(Schema.maxItems(256)), { default: () => [] }),
  env: Schema.optionalWith(Schema.Record({ key: Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/)), value: Schema.String }), {
    default: () => ({})
  }),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true })
})
export type McpServerDeclaration = typeof McpServerDeclaration.Type

/** `program.toml`, decoded; tables and keys it does not name are ignored. */
export const ProgramManifest = Schema.Struct({
  program: Schema.Struct({
    name: ProgramName,
    version: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
    description: Text,
    author: Schema.String.pipe(Schema.maxLength(256))
  }),
  tools: Schema.optionalWith(Schema.Record({ key: LocalName, value: ToolDeclaration }), { default: () => ({}) }),
  requires_tools: Schema.optionalWith(Schema.Struct({ names: Schema.optionalWith(Names, { default: () => [] }) }), { default: () => ({ names: [] }) }),
  host_requirements: Schema.optionalWith(
    Schema.Struct({ required: Schema.optionalWith(Names, { default: () => [] }), optional: Schema.optionalWith(Names, { default: () => [] }) }),
    { default: () => ({ required: [], optional: [] }) }
  ),
  mcp: Schema.optionalWith(Schema.Array(McpServerDeclaration).pipe(Schema.maxItems(16)), { default: () => [] })
}).annotations({ identifier: "ProgramManifest" })
export type ProgramManifest = typeof ProgramManifest.Type

/** The body of `POST /api/programs`: a git URL or an http(s) tarball URL. */
export const InstallProgram = Schema.Struct({
  path: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_PROGRAM_SOURCE_LENGTH))
}).annotations({ identifier: "InstallProgram" })
export type InstallProgram = typeof InstallProgram.Type

/** The body `annal programs install <dir>` sends to a running server: the folder as a gzipped tarball. */
export const LocalInstall = Schema.Struct({
  /** The folder the CLI packed (recorded as the source). */
  source: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_PROGRAM_SOURCE_LENGTH)),
  archive_base64: Schema.String.pipe(Schema.minLength(1))
}).annotations({ identifier: "LocalInstall" })
export type LocalInstall = typeof LocalInstall.Type

export const ProgramInstalledResponse = Schema.Struct({ status: Schema.Literal("installed"), name: Schema.String, version: Schema.String })

/** An item of `GET /api/programs`. */
export const ProgramSummary = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  description: Schema.String,
  author: Schema.String,
  enabled: Schema.Boolean,
  tools_count: Schema.Number,
  has_skill_content: Schema.Boolean,
  stream: StreamName
}).annotations({ identifier: "ProgramSummary" })
export type ProgramSummary = typeof ProgramSummary.Type

/** A declared argument of a program's tool, as listed (`required` resolved: true unless optional or defaulted). */
export const ProgramToolArgument = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  type: ArgumentType,
  required: Schema.Boolean,
  default: Schema.optional(Schema.Union(Schema.String, Schema.Number, Schema.Boolean)),
  enum: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "ProgramToolArgument" })
export type ProgramToolArgument = typeof ProgramToolArgument.Type

/**
 * A tool a program contributes: its name in the manifest and the name agents call it by, its
 * arguments, and whether agents can run it (`runnable`; `reason` says why not: a tool with
 * neither command nor module has nothing to run). `kind` is `none` for such a tool.
 */
export const ProgramTool = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  kind: Schema.Literal("command", "module", "mcp", "none"),
  tool_name: Schema.String,
  arguments: Schema.Array(ProgramToolArgument),
  runnable: Schema.Boolean,
  reason: Schema.NullOr(Schema.String)
}).annotations({ identifier: "ProgramTool" })
export type ProgramTool = typeof ProgramTool.Type

/** `GET /api/programs/{name}`; `offered` says whether agents get its tools now, `not_offered_reason` why not. */
export const ProgramDetail = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  description: Schema.String,
  author: Schema.String,
  enabled: Schema.Boolean,
  tools: Schema.Array(ProgramTool),
  skill_content: Schema.NullOr(Schema.String),
  path: Schema.String,
  source: Schema.String,
  sha256: Schema.String,
  offered: Schema.Boolean,
  not_offered_reason: Schema.NullOr(Schema.String),
  stream: StreamName
}).annotations({ identifier: "ProgramDetail" })
export type ProgramDetail = typeof ProgramDetail.Type

/** `GET /api/programs/{name}/host-requirements`: the host-tools probe for the manifest's lists, and the agent tools it requires. */
export const ProgramHostRequirements = Schema.Struct({
  program_name: Schema.String,
  all_required_present: Schema.Boolean,
  missing_required: Schema.Array(Schema.String),
  optional_available: Schema.Record({ key: Schema.String, value: Schema.Boolean }),
  missing_tools: Schema.Array(Schema.String)
}).annotations({ identifier: "ProgramHostRequirements" })
export type ProgramHostRequirements = typeof ProgramHostRequirements.Type

export const ProgramStatus = (status: "uninstalled" | "enabled" | "disabled") => Schema.Struct({ status: Schema.Literal(status), name: Schema.String })

const NamePath = Schema.Struct({ name: Schema.String })

export class ProgramsGroup extends HttpApiGroup.make("programs")
  .add(HttpApiEndpoint.get("list", "/api/programs").setUrlParams(PageAtSeqQuery).addSuccess(Page(ProgramSummary)))
  .add(
    HttpApiEndpoint.post("install", "/api/programs")
      .setPayload(InstallProgram)
      .addSuccess(ProgramInstalledResponse)
      .addError(BadRequest)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Installs from a git URL (ending in `.git`, cloned over https) or an http(s) tarball; local paths and ssh URLs are refused (400); 409 when the name is installed."
      )
  )
  .add(HttpApiEndpoint.get("get", "/api/programs/:name").setPath(NamePath).setUrlParams(AtSeqQuery).addSuccess(ProgramDetail).addError(NotFound))
  .add(HttpApiEndpoint.del("uninstall", "/api/programs/:name").setPath(NamePath).addSuccess(ProgramStatus("uninstalled")).addError(NotFound))
  .add(HttpApiEndpoint.post("enable", "/api/programs/:name/enable").setPath(NamePath).addSuccess(ProgramStatus("enabled")).addError(NotFound))
  .add(HttpApiEndpoint.post("disable", "/api/programs/:name/disable").setPath(NamePath).addSuccess(ProgramStatus("disabled")).addError(NotFound))
  .add(
    HttpApiEndpoint.get("hostRequirements", "/api/programs/:name/host-requirements")
      .setPath(NamePath)
      .addSuccess(ProgramHostRequirements)
      .addError(NotFound)
  )
  .middleware(Authorization)
{}

/**
 * The route `annal programs install <dir>` uses while a server runs on the data directory (only
 * one process may append to the log). It is authenticated by the secret the server keeps in the
 * data directory's lock file, not by the API token: only someone who can read the data
 * directory can use it.
 */
export class ProgramsLocalGroup extends HttpApiGroup.make("programsLocal")
  .add(
    HttpApiEndpoint.post("localInstall", "/api/programs/local-install")
      .setHeaders(Schema.Struct({ "x-annal-install-secret": Schema.optional(Schema.String) }))
      .setPayload(LocalInstall)
      .addSuccess(ProgramInstalledResponse)
      .addError(BadRequest)
      .addError(Unauthorized)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Used by `annal programs install <dir>`; authenticated by the secret in `<data-dir>/annal.lock`.")
  )
{}
