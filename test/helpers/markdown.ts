// Fenced code blocks of a Markdown file, for the tests that hold the docs to the code
// (JSON samples validated against their schema, `sh runnable` blocks executed).
export interface FencedBlock {
  /** The whole info string, e.g. `sh runnable` or `json schema=frames/job`. */
  info: string;
  /** Its first word. */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

export function fencedBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, rest] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trimStart().startsWith(fence) && l.trim() === l.trim().replace(/[^`~]/g, '') && l.trim().length >= fence.length) break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l);
    }
    const info = rest.trim();
    blocks.push({ info, lang: info.split(/\s+/)[0] ?? '', body: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}
