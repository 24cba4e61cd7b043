/** The workspace (seed section 5): the agents' files, a git repository, read and written over HTTP. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { WILDCARD_PARAMETER } from "./DocumentTransform.js"
import { BadRequest, Forbidden, NotFound, PayloadTooLarge } from "./Errors.js"

/** Largest file `PUT /api/workspace/file/{path}` accepts: 1 MB. */
export const MAX_WORKSPACE_FILE_BYTES = 1024 * 1024

/** One entry of a directory listing. */
export const TreeEntry = Schema.Struct({
  name: Schema.String,
  is_dir: Schema.Boolean,
  /** Bytes of a file; 0 for a directory. */
  size: Schema.Number
}).annotations({ identifier: "TreeEntry" })
export type TreeEntry = typeof TreeEntry.Type

/** `GET /api/workspace/tree`: directories first, then files, each group by name. */
export const WorkspaceTree = Schema.Array(TreeEntry).annotations({ identifier: "WorkspaceTree" })

export const TreeQuery = Schema.Struct({
  /** A directory relative to the workspace root; the root when absent or empty. */
  dir: Schema.optional(Schema.String)
})

/** The Content-Type of a workspace file by its extension (each with `; charset=utf-8`); anything else is text/plain. */
export const WORKSPACE_MIME_TYPES: Readonly<Record<string, string>> = {
  md: "text/markdown",
  json: "application/json",
  toml: "application/toml",
  yaml: "application/yaml",
  yml: "application/yaml",
  txt: "text/plain",
  html: "text/html",
  css: "text/css",
  js: "application/javascript"
}

/** The `{path}` of `/api/workspace/file/{path}` (the route's `*`), which the generator cannot declare itself. */
const FilePathParameter = {
  name: WILDCARD_PARAMETER,
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "The file's path relative to the workspace root, at any depth (`notes/2026/a.md`): its slashes may be sent as they are or as `%2F`; other reserved characters percent-encoded."
}

const withFilePath = (op: Record<string, any>) => ({ ...op, parameters: [...(op.parameters ?? []), FilePathParameter] })

/**
 * A file is served with its extension's type, which one schema's single encoding cannot say:
 * every type is listed, each with the empty schema, since the bytes are whatever was stored
 * (a `.json` file need not hold JSON).
 */
export const servedByExtension = (op: Record<string, any>) => {
  const ok = op.responses["200"]
  const schema = { description: "The file's bytes as stored." }
  const types = [...new Set(["text/plain", ...Object.values(WORKSPACE_MIME_TYPES)])]
  return { ...op, responses: { ...op.responses, "200": { ...ok, content: Object.fromEntries(types.map((t) => [`${t}; charset=utf-8`, { schema }])) } } }
}

const FileContent = Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain" }))

export class WorkspaceGroup extends HttpApiGroup.make("workspace")
  .add(
    HttpApiEndpoint.get("tree", "/api/workspace/tree")
      .setUrlParams(TreeQuery)
      .addSuccess(WorkspaceTree)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(OpenApi.Description, "The entries of a workspace directory (`.git` left out): directories first, then alphabetical.")
  )
  .add(
    HttpApiEndpoint.get("readFile", "/api/workspace/file/*")
      .addSuccess(FileContent)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(OpenApi.Transform, (op) => servedByExtension(withFilePath(op)))
      .annotate(
        OpenApi.Description,
        "A file's bytes as stored. Content-Type by extension: " +
          ".md text/markdown, .json application/json, .toml application/toml, .yaml/.yml application/yaml, " +
          ".txt text/plain, .html text/html, .css text/css, .js application/javascript, others text/plain " +
          "(each with `; charset=utf-8`). 403 for a path that leaves the workspace."
      )
  )
  .add(
    HttpApiEndpoint.put("writeFile", "/api/workspace/file/*")
      .setPayload(FileContent)
      .addSuccess(HttpApiSchema.Empty(200))
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(PayloadTooLarge)
      .annotate(OpenApi.Transform, withFilePath)
      .annotate(
        OpenApi.Description,
        "Writes the request body (any content type) as the file's content, creating parent directories, and commits it. " +
          "At most 1 MB (413 beyond). Answers 200 with an empty body. 403 for a path that leaves the workspace or enters `.git`."
      )
  )
  .middleware(Authorization)
{}
