/**
 * MCP servers a program declares (`[[mcp]]`), over stdio with `@modelcontextprotocol/sdk`. A
 * server is started when its program is loaded; its tools are listed with their real input
 * schemas and offered as `<program>__<tool>`, each call validated against that schema (ajv)
 * before it reaches the server. A server that dies turns the call in flight into a tool error;
 * the next call starts it again.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { McpServerDeclaration } from "@annal/spec"
import { VERSION } from "@annal/spec"
import { Tool } from "@annal/kernel"
import type { default as Ajv, ErrorObject, ValidateFunction } from "ajv"
import { Effect, Either } from "effect"
import { toolNameOf } from "./Manifest.js"
import { parseElement } from "./Template.js"
import { childEnv, type ProgramRuntime } from "./Tools.js"

/**
 * The SDK and ajv, loaded with the first MCP server: importing the SDK takes about a second,
 * which a server with no MCP program should not pay at every start.
 */
let modules: Promise<{ readonly Client: typeof Client; readonly StdioClientTransport: typeof StdioClientTransport; readonly ajv: Ajv }> | undefined
const sdk = () =>
  (modules ??= Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/stdio.js"),
    import("ajv")
  ]).then(([client, stdio, ajv]) => ({ Client: client.Client, StdioClientTransport: stdio.StdioClientTransport, ajv: new ajv.default({ strict: false, allErrors: false }) })))

/** How long a server may take to start and answer `initialize`. */
const CONNECT_TIMEOUT_MS = 15_000

/** A tool as an MCP server lists it. */
export interface McpToolInfo {
  readonly name: string
  readonly description?: string | undefined
  readonly inputSchema: Readonly<Record<string, unknown>>
  readonly annotations?: { readonly readOnlyHint?: boolean | undefined } | undefined
}

/** `${VAR}` in a server's command and args, expanded. */
const expand = (text: string, runtime: ProgramRuntime) =>
  Either.match(parseElement(text), {
    // the manifest was checked at install; an element that no longer parses is passed as it is
    onLeft: () => text,
    onRight: (parts) => parts.map((p) => (p._tag === "Text" ? p.text : p._tag === "Host" ? runtime.host[p.name] : `{${p.name}}`)).join("")
  })

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)
    promise.then(
      (a) => {
        clearTimeout(timer)
        resolve(a)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })

/** One MCP server of a program: started on demand, started again after it died. */
export class McpServer {
  private client: Client | undefined
  private transport: StdioClientTransport | undefined
  private connecting: Promise<Client> | undefined
  private stderrTail = ""
  private closed = false
  private ajv: Ajv | undefined
  /** Times the server was started (the first start included). */
  starts = 0

  constructor(readonly runtime: ProgramRuntime, readonly declaration: McpServerDeclaration) {}

  get label() {
    return `MCP server ${this.declaration.name} of program ${this.runtime.program}`
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.client === undefined ? undefined : this.transport?.pid ?? undefined
  }

  private async connect(): Promise<Client> {
    const { Client, StdioClientTransport, ajv } = await sdk()
    this.ajv = ajv
    const transport = new StdioClientTransport({
      command: expand(this.declaration.command, this.runtime),
      args: this.declaration.args.map((a) => expand(a, this.runtime)),
      env: childEnv(this.runtime, this.declaration.env),
      cwd: this.runtime.dir,
      stderr: "pipe"
    })
    transport.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-2000)
    })
    const client = new Client({ name: "annal", version: VERSION })
    client.onclose = () => {
      if (this.client === client) this.client = undefined
    }
    try {
      await withTimeout(client.connect(transport), CONNECT_TIMEOUT_MS, this.label)
    } catch (e) {
      await transport.close().catch(() => undefined)
      const tail = this.stderrTail.trim()
      throw new Error(`${this.label} did not start: ${(e as Error).message}${tail === "" ? "" : ` (stderr: ${tail.slice(-500)})`}`)
    }
    this.starts++
    this.client = client
    this.transport = transport
    return client
  }

  /** The running client, starting the server when it is not running. */
  private ensure(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error(`${this.label} is stopped`))
    if (this.client !== undefined) return Promise.resolve(this.client)
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  /** Every tool the server lists (all pages). */
  async listTools(): Promise<ReadonlyArray<McpToolInfo>> {
    const client = await this.ensure()
    const tools: Array<McpToolInfo> = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor === undefined ? undefined : { cursor })
      tools.push(...(page.tools as ReadonlyArray<McpToolInfo>))
      cursor = page.nextCursor
    } while (cursor !== undefined && tools.length < 1000)
    return tools
  }

  /** Calls a tool: its text, or a thrown error whose message goes back to the model. */
  async call(name: string, args: Readonly<Record<string, unknown>>, timeoutMs: number): Promise<string> {
    const client = await this.ensure()
    let result: Awaited<ReturnType<Client["callTool"]>>
    try {
      result = await client.callTool({ name, arguments: { ...args } }, undefined, { timeout: timeoutMs })
    } catch (e) {
      if (this.client !== client) {
        const tail = this.stderrTail.trim()
        throw new Error(`${this.label} stopped during the call (${(e as Error).message}); it is started again on the next call${tail === "" ? "" : ` (stderr: ${tail.slice(-300)})`}`)
      }
      throw new Error(`${this.label}: ${(e as Error).message}`)
    }
    const text = textOf(result)
    if (result.isError === true) throw new Error(text === "" ? `${name} failed` : text)
    return text
  }

  /** A validator of a listed tool's input schema (the server has been started, so ajv is loaded). */
  compile(schema: Readonly<Record<string, unknown>>): ValidateFunction {
    if (this.ajv === undefined) throw new Error(`${this.label} was not started`)
    return this.ajv.compile(schema)
  }

  async close(): Promise<void> {
    this.closed = true
    const client = this.client
    this.client = undefined
    await client?.close().catch(() => undefined)
  }
}

/** The text of a call's result: its text items, other items named, else the structured content. */
export const textOf = (value: unknown): string => {
  const result = value as { readonly content?: unknown; readonly structuredContent?: unknown }
  const items = Array.isArray(result.content) ? (result.content as ReadonlyArray<Record<string, unknown>>) : []
  const parts = items.map((item) =>
    item.type === "text" ? String(item.text ?? "") : item.type === "resource" ? JSON.stringify(item.resource) : `[${String(item.type)} ${String(item.mimeType ?? "")}]`.trim()
  )
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent)
  return parts.join("\n")
}

/** An ajv error as the gate reports a bad argument. */
export const describeAjvError = (error: ErrorObject | undefined): string => {
  if (error === undefined) return "invalid arguments"
  const params = error.params as Record<string, unknown>
  if (error.keyword === "required") return `invalid argument "${String(params.missingProperty)}": is required`
  if (error.keyword === "additionalProperties") return `unknown argument "${String(params.additionalProperty)}"`
  const path = error.instancePath.replace(/^\//, "").replace(/\//g, ".")
  return path === "" ? `invalid arguments: ${error.message ?? "invalid"}` : `invalid argument "${path}": ${error.message ?? "invalid"}`
}

/** A listed MCP tool as a kernel tool; Left when its name or schema cannot be offered. */
export const mcpTool = (server: McpServer, info: McpToolInfo, timeoutSecs: Effect.Effect<number>): Either.Either<Tool.Tool, string> => {
  const name = toolNameOf(server.runtime.program, info.name)
  if (!Tool.TOOL_NAME.test(name)) return Either.left(`tool ${JSON.stringify(info.name)}: "${name}" is not a name a model can call`)
  const parameters = { type: "object", ...info.inputSchema } as Record<string, unknown>
  let validate: ValidateFunction
  try {
    validate = server.compile(parameters)
  } catch (e) {
    return Either.left(`tool ${info.name}: its input schema does not compile (${(e as Error).message})`)
  }
  const consequential = info.annotations?.readOnlyHint !== true
  return Either.right({
    name,
    description: info.description ?? info.name,
    parameters,
    timeoutSecs,
    decode: (input) => {
      if (!validate(input)) return Either.left(describeAjvError(validate.errors?.[0]))
      const args = input as Readonly<Record<string, unknown>>
      return Either.right({
        tool: name,
        args,
        access: { paths: [] },
        consequential,
        resource: name,
        run: (env) =>
          Effect.tryPromise({
            try: () => server.call(info.name, args, env.timeoutSecs * 1000),
            catch: (e) => new Tool.ToolFailed({ message: (e as Error).message })
          }).pipe(Effect.map((text) => ({ text })))
      })
    }
  })
}
