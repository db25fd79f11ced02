export type DiffOp = { kind: 'same' | 'removed' | 'added'; line: string };

/** Above this many differing lines the diff gives up (Myers' algorithm costs O((N+M)·D) time and D² memory). */
export const MAX_EDIT_DISTANCE = 2000;

/** Line diff by Myers' O(ND) algorithm; undefined when the texts differ in more than `maxEdits` lines. */
export function diffLines(
  a: readonly string[],
  b: readonly string[],
  maxEdits = MAX_EDIT_DISTANCE,
): DiffOp[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    // Only diagonals -d-1..d+1 can be read back for this d: keep that window (memory O(D²), not O(D·(N+M))).
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = takesInsertion(v, offset, k, d) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b);
    }
  }
  return undefined;
}

function takesInsertion(v: Int32Array, offset: number, k: number, d: number): boolean {
  return k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]);
}

function backtrack(trace: Int32Array[], a: readonly string[], b: readonly string[]): DiffOp[] {
  const ops: DiffOp[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d];
    const offset = d + 1;
    const k = x - y;
    const prevK = takesInsertion(v, offset, k, d) ? k + 1 : k - 1;
    const prevX = v[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: 'same', line: a[x] });
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: 'added', line: b[prevY] });
      else ops.push({ kind: 'removed', line: a[prevX] });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/** A unified diff (`---`/`+++` headers, `@@` hunks with `context` lines around each change). */
export function unifiedDiff(
  nameA: string,
  textA: string,
  nameB: string,
  textB: string,
  context = 3,
): string | undefined {
  const a = splitLines(textA);
  const b = splitLines(textB);
  const ops = diffLines(a, b);
  if (!ops) return undefined;
  if (ops.every((op) => op.kind === 'same')) return '';
  const out = [`--- ${nameA}`, `+++ ${nameB}`];
  // Positions (1-based) of each op in a and b.
  const posA: number[] = [];
  const posB: number[] = [];
  let ia = 1;
  let ib = 1;
  for (const op of ops) {
    posA.push(ia);
    posB.push(ib);
    if (op.kind !== 'added') ia++;
    if (op.kind !== 'removed') ib++;
  }
  let i = 0;
  while (i < ops.length) {
    if (ops[i].kind === 'same') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend the hunk while the next change is within 2·context unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end].kind !== 'same') end++;
      let gap = end;
      while (gap < ops.length && ops[gap].kind === 'same') gap++;
      if (gap < ops.length && gap - end <= 2 * context) end = gap;
      else {
        end = Math.min(ops.length, end + context);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const countA = hunk.filter((op) => op.kind !== 'added').length;
    const countB = hunk.filter((op) => op.kind !== 'removed').length;
    const startA = countA === 0 ? posA[start] - 1 : posA[start];
    const startB = countB === 0 ? posB[start] - 1 : posB[start];
    out.push(`@@ -${startA},${countA} +${startB},${countB} @@`);
    for (const op of hunk)
      out.push(`${op.kind === 'same' ? ' ' : op.kind === 'removed' ? '-' : '+'}${op.line}`);
    i = end;
  }
  return out.join('\n');
}

export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
