export interface CodeBlock {
  /** The info string's first word, lower-cased; '' when the fence has none. */
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The reason given by a `<!-- not-run: reason -->` marker before the block, if any. */
  notRun: string | undefined;
}
export function codeBlocks(markdown: string): CodeBlock[];
