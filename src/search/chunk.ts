/** The chunking of documents for the docs index: by headings (Markdown `#` or setext) and paragraphs. */

/** One chunk of a document: a paragraph (or a run of short ones) under its headings. */
export interface Passage {
  /** Path relative to the docs folder, with forward slashes. */
  source: string;
  /** The headings above the passage, outermost first, joined with " › " (empty before the first heading). */
  heading: string;
  text: string;
  /** 1-based line of the passage's first line. */
  line: number;
}

/** Paragraphs shorter than this many characters are merged with the next one of the same section. */
export const MIN_PASSAGE_CHARS = 200;
/** A paragraph longer than this is cut at line ends into passages of about this size (a passage must fit a prompt). */
export const MAX_PASSAGE_CHARS = 1500;

/** Splits a document into passages at headings (Markdown `#` or setext underlines) and blank lines. */
export function chunkDocument(source: string, text: string, minChars = MIN_PASSAGE_CHARS): Passage[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const headings: string[] = [];
  const passages: Passage[] = [];
  let buffer: string[] = [];
  /** Characters of non-blank text in `buffer`. */
  let chars = 0;
  let startLine = 0;
  const flush = (force: boolean) => {
    if (chars === 0) {
      buffer = [];
      return;
    }
    if (!force && chars < minChars) return;
    passages.push({ source, heading: headings.join(' › '), text: buffer.join('\n').trim(), line: startLine });
    buffer = [];
    chars = 0;
  };
  let fence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    const atx = fence ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const setext = !fence && i + 1 < lines.length && line.trim() && /^(=+|-+)\s*$/.test(lines[i + 1]);
    if (atx || setext) {
      flush(true);
      const level = atx ? atx[1].length : lines[i + 1].startsWith('=') ? 1 : 2;
      headings.length = level - 1;
      headings[level - 1] = atx ? atx[2] : line.trim();
      for (let k = 0; k < level - 1; k++) headings[k] ??= '';
      if (setext) i++;
      continue;
    }
    if (!line.trim() && !fence) {
      flush(false);
      continue;
    }
    if (chars > 0 && chars + line.length > MAX_PASSAGE_CHARS) flush(true);
    if (chars === 0) {
      buffer = [];
      startLine = i + 1;
    }
    if (buffer.length && !lines[i - 1]?.trim()) buffer.push('');
    buffer.push(line);
    chars += line.trim().length + 1;
  }
  flush(true);
  return passages;
}
