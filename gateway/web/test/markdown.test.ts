// @vitest-environment happy-dom
/**
 * Replies are Markdown from a model: rendered and highlighted. (That the sanitizer strips what
 * could run is checked in a real Chromium, in e2e.test.ts: happy-dom's DOM is not one DOMPurify
 * can be trusted on.)
 */
import { describe, expect, it } from "vitest"
import { renderMarkdown } from "../src/markdown.js"

describe("renderMarkdown", () => {
  it("renders Markdown and highlights a fenced block", () => {
    const html = renderMarkdown("**bold** and `code`\n\n```json\n{\"a\": 1}\n```")
    expect(html).toContain("<strong>bold</strong>")
    expect(html).toContain("<code>code</code>")
    expect(html).toMatch(/<code class="hljs language-json">.*hljs-attr/s)
  })

  it("shows raw HTML in the text as text", () => {
    const html = renderMarkdown(`<img src="x" onerror="alert(1)"> and <b>bold</b>`)
    expect(html).not.toMatch(/<img|<b>/)
    expect(html).toContain("&lt;img")
  })
})
