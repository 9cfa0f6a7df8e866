// Fenced code blocks of a Markdown file, for the checks that run the docs' examples as written:
// .ci/run (the README's first sh block), scripts/package-check.mjs (the README's SDK example)
// and __tests__/integration/doc-examples.test.ts (every block of README.md and docs/*.md).
//
// A block that cannot run (workflow YAML, a synopsis, sample output) is marked by an HTML
// comment on the last non-blank line before its fence: `<!-- not-run: why -->`.
//
// CLI: node scripts/markdown-blocks.mjs FILE LANG [N]  prints the N-th (0-based, default 0)
// block of language LANG in FILE, exactly as written; exits 1 if there is none.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const NOT_RUN = /^<!--\s*not-run:\s*(.*?)\s*-->$/;

/**
 * Every fenced block (``` or ~~~, three or more) of `markdown`: its language (the info
 * string's first word, '' if none), its code, the 1-based line of its opening fence, and the
 * reason it does not run if it is marked.
 * @param {string} markdown
 * @returns {{ lang: string, code: string, line: number, notRun: string | undefined }[]}
 */
export function codeBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  let lastText = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) {
      if (lines[i].trim() !== '') lastText = lines[i].trim();
      continue;
    }
    const fence = open[1];
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    blocks.push({
      lang: open[2].toLowerCase(),
      code: body.join('\n') + '\n',
      line: i + 1,
      notRun: NOT_RUN.exec(lastText)?.[1],
    });
    lastText = '';
    i = j;
  }
  return blocks;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, lang, index = '0'] = process.argv.slice(2);
  if (!file || !lang) {
    console.error('usage: node scripts/markdown-blocks.mjs FILE LANG [N]');
    process.exit(2);
  }
  const block = codeBlocks(readFileSync(file, 'utf8')).filter((b) => b.lang === lang)[Number(index)];
  if (!block) {
    console.error(`${file} has no ${lang} block number ${index}`);
    process.exit(1);
  }
  process.stdout.write(block.code);
}
