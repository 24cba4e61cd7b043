import { ProgramToolArgument } from "@annal/spec"
import { Schema } from "effect"

export const PROGRAM_INSTALLED = "program_installed"
export const PROGRAM_ENABLED = "program_enabled"
export const PROGRAM_DISABLED = "program_disabled"
export const PROGRAM_UNINSTALLED = "program_uninstalled"

/** Where a program came from: a git URL (and the commit checked out), a tarball URL, a local folder. */
export const ProgramSource = Schema.Struct({
  kind: Schema.Literal("git", "tarball", "local"),
  location: Schema.String,
  commit: Schema.NullOr(Schema.String)
})
export type ProgramSource = typeof ProgramSource.Type

/**
 * A tool the manifest declares (MCP tools are listed from their server at run time). `none`: it
 * has neither command nor module, so nothing runs it. Events recorded before arguments were
 * kept read as having none.
 */
export const DeclaredTool = Schema.Struct({
  name: Schema.String,
  /** `<program>__<tool>`: the name agents call it by. */
  tool_name: Schema.String,
  kind: Schema.Literal("command", "module", "none"),
  description: Schema.String,
  arguments: Schema.optionalWith(Schema.Array(ProgramToolArgument), { default: () => [] })
})
export type DeclaredTool = typeof DeclaredTool.Type

/** The program's `SKILL.md`: its front matter's description and keywords, and the whole text. */
export const ProgramSkill = Schema.Struct({
  description: Schema.String,
  keywords: Schema.Array(Schema.String),
  content: Schema.String
})
export type ProgramSkill = typeof ProgramSkill.Type

/**
 * A program was installed: what its manifest says, where it came from, and the sha256 of the
 * installed tree (`<data-dir>/programs/<name>/`), which is in place before this event commits.
 */
export const ProgramInstalled = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  description: Schema.String,
  author: Schema.String,
  source: ProgramSource,
  sha256: Schema.String,
  tools: Schema.Array(DeclaredTool),
  mcp_servers: Schema.Array(Schema.Struct({ name: Schema.String, enabled: Schema.Boolean })),
  requires_tools: Schema.Array(Schema.String),
  host_requirements: Schema.Struct({ required: Schema.Array(Schema.String), optional: Schema.Array(Schema.String) }),
  skill: Schema.NullOr(ProgramSkill)
})
export type ProgramInstalled = typeof ProgramInstalled.Type

/** Enabled, disabled or uninstalled: only the name. */
export const ProgramChanged = Schema.Struct({ name: Schema.String })
export type ProgramChanged = typeof ProgramChanged.Type

/** The stream of one program name: installed, disabled, enabled, uninstalled, installed again… */
export const programStream = (name: string) => `program-${name}`
