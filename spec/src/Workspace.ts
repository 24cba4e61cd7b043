/** The workspace (seed section 5): the agents' files, a git repository, read and written over HTTP. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadRequest, Forbidden, NotFound, PayloadTooLarge } from "./Errors.js"

/** Largest file `PUT /api/workspace/file/{*path}` accepts: 1 MB. */
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
      .annotate(
        OpenApi.Description,
        "A file's bytes as stored. `*` is the path relative to the workspace root. Content-Type by extension: " +
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
      .annotate(
        OpenApi.Description,
        "Writes the request body (any content type) as the file's content, creating parent directories, and commits it. " +
          "At most 1 MB (413 beyond). Answers 200 with an empty body. 403 for a path that leaves the workspace or enters `.git`."
      )
  )
  .middleware(Authorization)
{}
